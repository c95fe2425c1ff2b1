"""POST /v1/preview: each channel's texts exactly as its network would count them; nothing stored."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.credentials import CredentialCipher
from shared.posts.models import Post
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_slack_channel, make_workspace

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, seven code points


def test_a_draft_is_shown_per_channel_as_sent_and_counted_in_graphemes(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    first, second = make_channel(services, workspace, "One"), make_channel(services, workspace, "Two")
    text = f"Meetup tonight {FAMILY}"

    response = workspace_client.post(
        "/v1/preview", json={"text": text, "channel_ids": [str(second.id), str(first.id)]}
    )

    assert response.status_code == 200
    assert response.json == {
        "channels": [
            {
                "channel_id": str(channel.id),
                "network": "sandbox",
                "sendable": True,
                "texts": [{"text": text, "length": 16, "limit": 500, "problems": []}],
                "problems": [],
            }
            for channel in (second, first)
        ]
    }


def test_a_text_over_the_limit_is_shown_with_its_problem_and_nothing_is_stored(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace)

    response = workspace_client.post(
        "/v1/preview", json={"text": "x" * 501, "channel_ids": [str(channel.id)]}
    )

    [preview] = response.json["channels"]
    assert response.status_code == 200
    assert preview["sendable"] is False
    assert preview["texts"][0]["length"] == 501
    assert preview["texts"][0]["problems"] == [
        "the text is 501 characters (grapheme clusters) long; the sandbox allows 500"
    ]
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0


def test_a_thread_on_a_network_without_threads_is_a_problem_of_that_channel(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    slack = make_slack_channel(services, workspace)
    sandbox = make_channel(services, workspace)

    response = workspace_client.post(
        "/v1/preview",
        json={"text": "1/2", "thread": ["2/2"], "channel_ids": [str(slack.id), str(sandbox.id)]},
    )

    slack_preview, sandbox_preview = response.json["channels"]
    assert slack_preview["sendable"] is False
    assert slack_preview["texts"][0]["problems"] == [
        "a Slack incoming webhook cannot post a thread: send the items as separate posts"
    ]
    assert sandbox_preview["sendable"] is True
    assert [text["text"] for text in sandbox_preview["texts"]] == ["1/2", "2/2"]


def test_another_workspaces_channel_is_refused_like_a_missing_one(
    workspace_client: FlaskClient, services: Services
) -> None:
    theirs, _ = make_workspace(services, "Someone else")
    their_channel = make_channel(services, theirs)
    missing = uuid.uuid4()

    response = workspace_client.post(
        "/v1/preview", json={"text": "Hi", "channel_ids": [str(their_channel.id), str(missing)]}
    )

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == [
        {"pointer": "/channel_ids/0", "detail": f"There is no channel {their_channel.id} here."},
        {"pointer": "/channel_ids/1", "detail": f"There is no channel {missing} here."},
    ]


def test_a_channel_whose_credentials_cannot_be_opened_is_a_problem_of_that_channel_not_a_500(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace)
    with services.sessions.begin() as session:
        session.execute(
            update(Channel)
            .where(Channel.id == channel.id)
            .values(sealed_credentials=CredentialCipher(["a lost secret"]).seal({"token": "x"}))
        )

    response = workspace_client.post("/v1/preview", json={"text": "Hi", "channel_ids": [str(channel.id)]})

    assert response.status_code == 200
    [preview] = response.json["channels"]
    assert preview["sendable"] is False
    assert preview["texts"] == []
    assert preview["problems"][0].startswith("could not ask the network: The channel's credentials cannot")
