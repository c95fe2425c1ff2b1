"""POST /v1/posts and GET /v1/posts/<id>."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.posts.models import Post
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace


def count_stored(services: Services) -> tuple[int, int]:
    with services.sessions.begin() as session:
        posts = session.scalar(select(func.count()).select_from(Post))
        deliveries = session.scalar(select(func.count()).select_from(Delivery))
    return posts or 0, deliveries or 0


def test_a_post_without_a_time_is_due_now_with_one_delivery_per_channel(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    second = make_channel(services, workspace, "Second")
    before = utcnow()

    response = workspace_client.post(
        "/v1/posts", json={"text": "Our meetup is on!", "channel_ids": [str(channel.id), str(second.id)]}
    )

    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"] == f"/v1/posts/{body['id']}"
    assert set(body) == {
        "id",
        "text",
        "thread",
        "media",
        "channels",
        "labels",
        "timezone",
        "timing",
        "scheduled_at",
        "scheduled_local",
        "recurrence",
        "state",
        "author_id",
        "review",
        "version",
        "created_at",
        "updated_at",
        "deliveries",
    }
    assert body["text"] == "Our meetup is on!"
    assert body["state"] == "scheduled"
    assert before <= datetime.fromisoformat(body["scheduled_at"]) <= utcnow()
    assert body["scheduled_at"].endswith("+00:00")
    assert [delivery["channel_id"] for delivery in body["deliveries"]] == [str(channel.id), str(second.id)]
    delivery = body["deliveries"][0]
    assert set(delivery) == {
        "id", "channel_id", "network", "state", "scheduled_at", "due_at", "published_at", "url", "error",
        "attempts",
    }  # fmt: skip
    assert delivery["network"] == "sandbox"
    assert delivery["state"] == "scheduled"
    assert delivery["scheduled_at"] == body["scheduled_at"]
    assert delivery["due_at"] == body["scheduled_at"]
    assert delivery["published_at"] is None
    assert delivery["url"] is None
    assert delivery["error"] is None
    assert delivery["attempts"] == 0


def test_a_scheduled_time_with_an_offset_is_kept_and_shown_in_utc(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    in_two_days = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    plus_two = in_two_days.astimezone(timezone(timedelta(hours=2)))

    response = workspace_client.post(
        "/v1/posts",
        json={"text": "Later", "channel_ids": [str(channel.id)], "scheduled_at": plus_two.isoformat()},
    )

    assert response.status_code == 201
    assert response.json["scheduled_at"] == in_two_days.isoformat()
    assert response.json["deliveries"][0]["due_at"] == in_two_days.isoformat()


def test_a_time_a_few_seconds_ago_is_accepted_as_now(workspace_client: FlaskClient, channel: Channel) -> None:
    recent = (utcnow() - timedelta(seconds=30)).isoformat()

    response = workspace_client.post(
        "/v1/posts", json={"text": "Now-ish", "channel_ids": [str(channel.id)], "scheduled_at": recent}
    )

    assert response.status_code == 201


def test_a_post_is_read_back_with_its_deliveries(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    post = make_post(services, workspace, [channel])

    response = workspace_client.get(f"/v1/posts/{post.id}")

    assert response.status_code == 200
    assert response.json["id"] == str(post.id)
    assert response.json["text"] == post.text
    assert response.json["state"] == "scheduled"
    assert [delivery["id"] for delivery in response.json["deliveries"]] == [
        str(delivery.id) for delivery in post.deliveries
    ]


def test_a_published_post_shows_where_it_went(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    post = make_post(services, workspace, [channel])
    publish_what_is_due(services)

    response = workspace_client.get(f"/v1/posts/{post.id}")

    assert response.json["state"] == "published"
    [delivery] = response.json["deliveries"]
    assert delivery["state"] == "published"
    assert delivery["url"].startswith("https://sandbox.invalid/@sandbox/")
    assert delivery["published_at"].endswith("+00:00")
    assert delivery["attempts"] == 1
    assert delivery["error"] is None


def test_a_post_of_another_workspace_is_not_found_exactly_like_a_missing_one(
    workspace_client: FlaskClient, services: Services
) -> None:
    other_workspace, _ = make_workspace(services, "Someone else")
    theirs = make_post(services, other_workspace, [make_channel(services, other_workspace)])
    missing = uuid.uuid4()

    responses = {post_id: workspace_client.get(f"/v1/posts/{post_id}") for post_id in (theirs.id, missing)}

    for post_id, response in responses.items():
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
        assert response.json == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"There is no post with id {post_id} in this workspace.",
            "instance": f"/v1/posts/{post_id}",
        }


def test_a_post_id_that_is_not_a_uuid_is_not_found(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/posts/not-a-uuid")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


INVALID_BODIES: list[tuple[str, Any, list[dict[str, str]]]] = [
    (
        "missing text",
        {"channel_ids": ["{channel}"]},
        [{"pointer": "/text", "detail": "Missing data for required field."}],
    ),
    (
        "empty text",
        {"text": "", "channel_ids": ["{channel}"]},
        [{"pointer": "/text", "detail": "The text is empty."}],
    ),
    (
        "a channel id that is not a uuid",
        {"text": "Hi", "channel_ids": ["not-a-uuid"]},
        [{"pointer": "/channel_ids/0", "detail": "Not a valid UUID."}],
    ),
    (
        "no channels",
        {"text": "Hi", "channel_ids": []},
        [{"pointer": "/channel_ids", "detail": "Length must be between 1 and 50."}],
    ),
    (
        "missing channels",
        {"text": "Hi"},
        [{"pointer": "/channels", "detail": "Give the channels either as `channels` or as `channel_ids`."}],
    ),
    (
        "a channel listed twice",
        {"text": "Hi", "channel_ids": ["{channel}", "{channel}"]},
        [{"pointer": "/channel_ids/1", "detail": "Channel {channel} is listed more than once."}],
    ),
    (
        "a time without an offset",
        {"text": "Hi", "channel_ids": ["{channel}"], "scheduled_at": "2030-05-01T09:00:00"},
        [
            {
                "pointer": "/scheduled_at",
                "detail": "Give the time with a UTC offset (…+02:00 or …Z), or a `timezone` to read it in.",
            }
        ],
    ),
    (
        "a time in the past",
        {"text": "Hi", "channel_ids": ["{channel}"], "scheduled_at": "{two_minutes_ago}"},
        [
            {
                "pointer": "/scheduled_at",
                "detail": "The time is in the past. Omit scheduled_at to publish now.",
            }
        ],
    ),
]


@pytest.mark.parametrize(
    ("body", "errors"), [case[1:] for case in INVALID_BODIES], ids=[case[0] for case in INVALID_BODIES]
)
def test_a_malformed_post_is_a_422_naming_each_field_and_stores_nothing(
    workspace_client: FlaskClient,
    services: Services,
    channel: Channel,
    body: dict[str, Any],
    errors: list[dict[str, str]],
) -> None:
    values = {"channel": str(channel.id), "two_minutes_ago": (utcnow() - timedelta(minutes=2)).isoformat()}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format(**values)
        if isinstance(value, list):
            return [fill(item) for item in value]
        return {key: fill(item) for key, item in value.items()}

    response = workspace_client.post("/v1/posts", json=fill(body))

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == fill(errors)
    assert count_stored(services) == (0, 0)


def test_more_than_fifty_channels_are_refused(workspace_client: FlaskClient) -> None:
    channel_ids = [str(uuid.uuid4()) for _ in range(51)]

    response = workspace_client.post("/v1/posts", json={"text": "Hi", "channel_ids": channel_ids})

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"pointer": "/channel_ids", "detail": "Length must be between 1 and 50."}
    ]


def test_an_unknown_channel_is_a_422_at_its_index_and_stores_nothing(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    unknown = uuid.uuid4()

    response = workspace_client.post(
        "/v1/posts", json={"text": "Hi", "channel_ids": [str(channel.id), str(unknown)]}
    )

    assert response.status_code == 422
    assert response.json == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "The request breaks a rule.",
        "instance": "/v1/posts",
        "errors": [{"pointer": "/channel_ids/1", "detail": f"There is no channel {unknown} here."}],
    }
    assert count_stored(services) == (0, 0)


def test_a_channel_of_another_workspace_is_unknown(workspace_client: FlaskClient, services: Services) -> None:
    other_workspace, _ = make_workspace(services, "Someone else")
    theirs = make_channel(services, other_workspace)

    response = workspace_client.post("/v1/posts", json={"text": "Hi", "channel_ids": [str(theirs.id)]})

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"pointer": "/channel_ids/0", "detail": f"There is no channel {theirs.id} here."}
    ]
    assert count_stored(services) == (0, 0)


def test_text_over_the_sandbox_limit_is_a_422_on_text_and_stores_nothing(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    response = workspace_client.post("/v1/posts", json={"text": "x" * 501, "channel_ids": [str(channel.id)]})

    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "pointer": "/text",
            "detail": "Sandbox (sandbox): the text is 501 characters (grapheme clusters) long;"
            " the sandbox allows 500",
        }
    ]
    assert count_stored(services) == (0, 0)


def test_the_sandbox_limit_counts_graphemes_not_code_points(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    thumbs_up_medium_skin = "\U0001f44d\U0001f3fd"  # two code points, one grapheme

    response = workspace_client.post(
        "/v1/posts", json={"text": thumbs_up_medium_skin * 500, "channel_ids": [str(channel.id)]}
    )

    assert response.status_code == 201
