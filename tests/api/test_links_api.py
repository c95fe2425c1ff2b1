"""Link settings over /v1, each delivery's short links, and the public /l/<code> redirect that counts."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.links.models import ShortLink
from shared.links.services import shorten_for_delivery
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_member_token, make_post, make_workspace, only_delivery_id

TARGET = "https://example.org/meetup?utm_source=mastodon"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
LINK_PREVIEW_ROBOTS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "http.rb/5.1.1 (Mastodon/4.2.10; +https://mastodon.social/) Bot",
    "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
]
SETTINGS = {"shorten": True, "utm": {"utm_source": "{network}", "utm_campaign": "{label}"}}


@pytest.fixture
def delivery_id(services: Services, workspace: Workspace, channel: Channel) -> uuid.UUID:
    return only_delivery_id(make_post(services, workspace, [channel], text=f"Tickets: {TARGET}"))


@pytest.fixture
def code(services: Services, workspace: Workspace, delivery_id: uuid.UUID) -> str:
    with services.sessions.begin() as session:
        short_url = shorten_for_delivery(
            session, workspace.id, delivery_id, TARGET, services.settings.public_url
        )
    return short_url.rsplit("/", 1)[1]


@pytest.fixture
def editor_client(app: Flask, services: Services, workspace: Workspace) -> FlaskClient:
    """A client acting as an editor: they write and publish posts, but do not manage the workspace."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = (
        f"Bearer {make_member_token(services, workspace, Role.EDITOR)}"
    )
    return client


def clicks_on(services: Services, code: str) -> int:
    with services.sessions() as session:
        return session.scalars(select(ShortLink.clicks).where(ShortLink.code == code)).one()


# --- the redirect ----------------------------------------------------------------------------------------


def test_a_short_link_redirects_to_its_target_and_counts_the_click(
    client: FlaskClient, services: Services, code: str
) -> None:
    response = client.get(f"/l/{code}", headers={"User-Agent": BROWSER})

    assert response.status_code == 302
    assert response.headers["Location"] == TARGET
    assert response.headers["Cache-Control"] == "no-store"
    assert clicks_on(services, code) == 1


def test_each_reader_is_counted_once_however_often_they_click(
    client: FlaskClient, services: Services, code: str
) -> None:
    readers = [("192.0.2.1", BROWSER), ("192.0.2.2", BROWSER), ("192.0.2.2", "Mozilla/5.0 (Android) Chrome")]
    for address, user_agent in readers:
        client.get(f"/l/{code}", headers={"User-Agent": user_agent}, environ_base={"REMOTE_ADDR": address})
    # A script clicking in a loop, as someone inflating a post's numbers would.
    answers = [
        client.get(
            f"/l/{code}", headers={"User-Agent": "curl/8.5"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
        )
        for _ in range(200)
    ]

    assert {answer.status_code for answer in answers} == {302}
    assert clicks_on(services, code) == 4


@pytest.mark.parametrize("user_agent", LINK_PREVIEW_ROBOTS)
def test_a_networks_link_preview_robot_is_redirected_but_not_counted(
    client: FlaskClient, services: Services, code: str, user_agent: str
) -> None:
    response = client.get(f"/l/{code}", headers={"User-Agent": user_agent})

    assert response.status_code == 302
    assert response.headers["Location"] == TARGET
    assert clicks_on(services, code) == 0


def test_a_head_request_is_redirected_but_not_counted(
    client: FlaskClient, services: Services, code: str
) -> None:
    response = client.head(f"/l/{code}", headers={"User-Agent": BROWSER})

    assert response.status_code == 302
    assert response.headers["Location"] == TARGET
    assert response.headers["Cache-Control"] == "no-store"
    assert clicks_on(services, code) == 0


def test_an_unknown_code_is_a_404_problem_document(client: FlaskClient, code: str) -> None:
    response = client.get("/l/Nope1234")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "There is no short link with this code.",
        "instance": "/l/Nope1234",
    }


def test_the_redirect_is_not_part_of_the_documented_api(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]

    assert not [path for path in paths if path.startswith("/l/")]


# --- a delivery's links ----------------------------------------------------------------------------------


def test_a_deliverys_links_are_listed_with_their_clicks(
    workspace_client: FlaskClient, client: FlaskClient, services: Services, delivery_id: uuid.UUID, code: str
) -> None:
    client.get(f"/l/{code}", headers={"User-Agent": BROWSER})

    response = workspace_client.get(f"/v1/deliveries/{delivery_id}/links")

    assert response.status_code == 200
    [link] = response.json["items"]
    assert link["code"] == code
    assert link["short_url"] == f"{services.settings.public_url}/l/{code}"
    assert link["target_url"] == TARGET
    assert link["clicks"] == 1
    assert link["first_clicked_at"] == link["last_clicked_at"]
    assert link["first_clicked_at"].endswith("+00:00")
    assert set(link) == {
        "code", "short_url", "target_url", "clicks", "first_clicked_at", "last_clicked_at", "created_at"
    }  # fmt: skip


def test_a_delivery_without_links_lists_none(workspace_client: FlaskClient, delivery_id: uuid.UUID) -> None:
    response = workspace_client.get(f"/v1/deliveries/{delivery_id}/links")

    assert response.status_code == 200
    assert response.json == {"items": []}


def test_another_workspaces_deliverys_links_are_a_404(
    app: Flask, services: Services, delivery_id: uuid.UUID, code: str
) -> None:
    stranger = app.test_client()
    stranger.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_workspace(services, 'Strangers')[1]}"

    response = stranger.get(f"/v1/deliveries/{delivery_id}/links")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


# --- settings --------------------------------------------------------------------------------------------


def test_with_nothing_set_the_workspace_leaves_links_alone(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/link-settings")

    assert response.status_code == 200
    assert response.json == {"shorten": False, "utm": {}, "source": "none"}


def test_the_workspace_default_is_saved_and_read_back(workspace_client: FlaskClient) -> None:
    saved = workspace_client.put("/v1/link-settings", json=SETTINGS)

    assert saved.status_code == 200
    assert saved.json == {**SETTINGS, "source": "workspace"}
    assert workspace_client.get("/v1/link-settings").json == {**SETTINGS, "source": "workspace"}


def test_a_channel_shows_the_default_until_it_has_an_override_and_again_once_it_is_removed(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    path = f"/v1/channels/{channel.id}/link-settings"
    workspace_client.put("/v1/link-settings", json=SETTINGS)
    assert workspace_client.get(path).json == {**SETTINGS, "source": "workspace"}

    override = {"shorten": False, "utm": {"utm_medium": "social"}}
    saved = workspace_client.put(path, json=override)
    assert saved.status_code == 200
    assert saved.json == {**override, "source": "channel"}
    assert workspace_client.get(path).json == {**override, "source": "channel"}

    removed = workspace_client.delete(path)
    assert removed.status_code == 204
    assert workspace_client.get(path).json == {**SETTINGS, "source": "workspace"}


def test_utm_may_be_left_out_of_the_settings(workspace_client: FlaskClient) -> None:
    response = workspace_client.put("/v1/link-settings", json={"shorten": True})

    assert response.status_code == 200
    assert response.json == {"shorten": True, "utm": {}, "source": "workspace"}


def test_an_unknown_placeholder_is_a_422_that_points_at_its_parameter(workspace_client: FlaskClient) -> None:
    response = workspace_client.put(
        "/v1/link-settings", json={"shorten": True, "utm": {"utm_campaign": "{campaign}"}}
    )

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    [error] = response.json["errors"]
    assert error["pointer"] == "/utm/utm_campaign"
    assert "{campaign}" in error["detail"]


def test_a_parameter_that_is_not_a_utm_one_is_a_422(workspace_client: FlaskClient) -> None:
    response = workspace_client.put("/v1/link-settings", json={"shorten": True, "utm": {"ref": "crier"}})

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == ["/utm/ref"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/link-settings"), ("PUT", "/v1/channels/{channel_id}/link-settings"),
     ("DELETE", "/v1/channels/{channel_id}/link-settings")],
)  # fmt: skip
def test_an_editor_may_not_change_link_settings(
    editor_client: FlaskClient, channel: Channel, method: str, path: str
) -> None:
    response = editor_client.open(path.format(channel_id=channel.id), method=method, json=SETTINGS)

    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert "manage_workspace" in response.json["detail"]


def test_an_editor_may_read_link_settings_and_links(
    editor_client: FlaskClient, channel: Channel, delivery_id: uuid.UUID
) -> None:
    for path in (
        "/v1/link-settings",
        f"/v1/channels/{channel.id}/link-settings",
        f"/v1/deliveries/{delivery_id}/links",
    ):
        assert editor_client.get(path).status_code == 200, path


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_workspaces_channel_is_a_404(
    workspace_client: FlaskClient, services: Services, method: str
) -> None:
    strangers_channel = make_channel(services, make_workspace(services, "Strangers")[0])

    response = workspace_client.open(
        f"/v1/channels/{strangers_channel.id}/link-settings", method=method, json=SETTINGS
    )

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
