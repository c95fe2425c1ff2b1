"""Connecting a channel by authorizing Crier on Mastodon, over HTTP: begin, the way back, and completion.

The server is tests/networks/mastodon/fake.py over real HTTP on this machine; the test plays the person
who approves (or declines) on its authorize page and follows the redirect back to Crier.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.config import Settings
from shared.db import utcnow
from shared.oauth.models import PendingAuthorization
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.factories import make_member_token, make_workspace
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon, serve
from tests.networks.on_this_machine import allowing_here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake servers listen on 127.0.0.1, which the operator allows here.
    return allowing_here(settings)


PROBLEM = "application/problem+json"


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def alice(server: FakeMastodon) -> FakeAccount:
    return server.add_account("alice")


def client_with(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def begin(client: FlaskClient, server: FakeMastodon, name: str = "Alice on Mastodon") -> dict[str, Any]:
    response = client.post(
        "/v1/channels/authorizations",
        json={
            "network": "mastodon",
            "name": name,
            "settings": {"base_url": server.base_url},
        },
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def back_from(location: str) -> str:
    """The path and query the person's browser comes back to Crier with."""
    parts = urllib.parse.urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8000"  # the default public_url
    return f"{parts.path}?{parts.query}"


def query_of(location: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def read_channels(services: Services) -> list[Channel]:
    with services.sessions() as session:
        return list(session.scalars(select(Channel)))


def test_an_owner_is_sent_to_the_servers_authorize_page(
    workspace_client: FlaskClient, server: FakeMastodon
) -> None:
    before = utcnow()

    begun = begin(workspace_client, server)

    url = urllib.parse.urlsplit(begun["authorization_url"])
    query = dict(urllib.parse.parse_qsl(url.query))
    assert (f"{url.scheme}://{url.netloc}", url.path) == (server.base_url, "/oauth/authorize")
    assert query["redirect_uri"] == "http://127.0.0.1:8000/oauth/callback"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 43
    expires_at = datetime.fromisoformat(begun["expires_at"])
    assert before + timedelta(minutes=10) <= expires_at <= utcnow() + timedelta(minutes=10)


def test_an_editor_may_not_connect_channels(
    app: Flask, services: Services, workspace: Workspace, server: FakeMastodon
) -> None:
    editor = client_with(app, make_member_token(services, workspace, Role.EDITOR))

    began = editor.post("/v1/channels/authorizations", json={"network": "mastodon", "name": "Alice"})
    completed = editor.post("/v1/channels/authorizations/complete", json={"state": "s", "code": "c"})

    assert (began.status_code, began.mimetype) == (403, PROBLEM)
    assert (completed.status_code, completed.mimetype) == (403, PROBLEM)
    assert server.requests == []


def test_the_way_back_connects_the_channel_without_a_token_and_says_so(
    workspace_client: FlaskClient,
    client: FlaskClient,
    services: Services,
    server: FakeMastodon,
    alice: FakeAccount,
) -> None:
    begun = begin(workspace_client, server)

    page = client.get(back_from(server.approve(begun["authorization_url"], alice)))

    assert (page.status_code, page.mimetype) == (200, "text/html")
    assert "Connected" in page.text
    assert "as alice on Mastodon" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    [listed] = workspace_client.get("/v1/channels").json["items"]
    assert (listed["name"], listed["handle"], listed["state"]) == ("Alice on Mastodon", "alice", "active")


def test_the_page_says_nothing_was_connected_when_the_person_declines(
    workspace_client: FlaskClient, client: FlaskClient, services: Services, server: FakeMastodon
) -> None:
    begun = begin(workspace_client, server)
    location = server.decline(begun["authorization_url"])

    page = client.get(back_from(location))

    assert (page.status_code, page.mimetype) == (400, "text/html")
    assert "Crier was not authorized" in page.text
    assert read_channels(services) == []
    with services.sessions() as session:
        assert session.scalars(select(PendingAuthorization)).all() == []
    state = query_of(location)["state"]
    later = workspace_client.post("/v1/channels/authorizations/complete", json={"state": state, "code": "x"})
    assert later.status_code == 404


def test_the_page_answers_404_for_a_state_no_authorization_waits_for(client: FlaskClient) -> None:
    page = client.get("/oauth/callback?code=abc&state=never-made")

    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert "No authorization is waiting for this state" in page.text
    assert "never-made" not in page.text


def test_the_page_answers_422_for_an_expired_authorization(
    workspace_client: FlaskClient,
    client: FlaskClient,
    services: Services,
    server: FakeMastodon,
    alice: FakeAccount,
) -> None:
    begun = begin(workspace_client, server)
    location = server.approve(begun["authorization_url"], alice)
    with services.sessions.begin() as session:
        session.execute(update(PendingAuthorization).values(expires_at=utcnow() - timedelta(seconds=1)))

    page = client.get(back_from(location))

    assert (page.status_code, page.mimetype) == (422, "text/html")
    assert "expired" in page.text
    assert read_channels(services) == []


def test_the_page_escapes_what_it_repeats(
    workspace_client: FlaskClient, client: FlaskClient, server: FakeMastodon, alice: FakeAccount
) -> None:
    begun = begin(workspace_client, server, name="<script>alert(1)</script>")

    page = client.get(back_from(server.approve(begun["authorization_url"], alice)))

    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_the_page_repeats_no_words_that_a_link_could_put_in_it(client: FlaskClient) -> None:
    page = client.get("/oauth/callback?state=s&error=call_us&error_description=Call+555-0100+to+fix+this")

    assert page.status_code == 400
    assert "555" not in page.text
    assert "call_us" not in page.text


def test_the_page_says_so_when_the_network_sends_no_state(client: FlaskClient) -> None:
    page = client.get("/oauth/callback?code=abc")

    assert (page.status_code, page.mimetype) == (400, "text/html")


def test_an_api_client_with_its_own_redirect_page_completes_with_its_token(
    workspace_client: FlaskClient, server: FakeMastodon, alice: FakeAccount
) -> None:
    begun = begin(workspace_client, server)
    back = query_of(server.approve(begun["authorization_url"], alice))

    response = workspace_client.post("/v1/channels/authorizations/complete", json=back)

    assert response.status_code == 201, response.json
    assert (response.json["network"], response.json["handle"], response.json["state"]) == (
        "mastodon",
        "alice",
        "active",
    )
    assert "credentials" not in response.json


def test_a_state_begun_in_another_workspace_is_not_found(
    app: Flask, services: Services, workspace_client: FlaskClient, server: FakeMastodon, alice: FakeAccount
) -> None:
    back = query_of(server.approve(begin(workspace_client, server)["authorization_url"], alice))
    _, other_token = make_workspace(services, "Another team")

    response = client_with(app, other_token).post("/v1/channels/authorizations/complete", json=back)

    assert (response.status_code, response.mimetype) == (404, PROBLEM)
    assert read_channels(services) == []


def test_completing_needs_the_state_and_the_code(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/channels/authorizations/complete", json={"state": "s"})

    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    assert [error["pointer"] for error in response.json["errors"]] == ["/code"]


def test_a_refused_code_is_a_422_problem_pointing_at_the_code(
    workspace_client: FlaskClient, server: FakeMastodon, alice: FakeAccount
) -> None:
    back = query_of(server.approve(begin(workspace_client, server)["authorization_url"], alice))

    response = workspace_client.post(
        "/v1/channels/authorizations/complete", json={"state": back["state"], "code": "not-the-code"}
    )

    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    [error] = response.json["errors"]
    assert error["pointer"] == "/code"
    assert "Mastodon refused the authorization code" in error["detail"]


def test_a_new_channel_needs_a_network_and_a_name(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/channels/authorizations", json={"settings": {}})

    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    assert sorted(error["pointer"] for error in response.json["errors"]) == ["/name", "/network"]


def test_a_network_that_takes_credentials_is_a_422_problem(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/channels/authorizations", json={"network": "sandbox", "name": "S"})

    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    [error] = response.json["errors"]
    assert error["pointer"] == "/network"


def test_reconnecting_a_channel_that_needs_it_makes_it_active_again(
    workspace_client: FlaskClient,
    client: FlaskClient,
    services: Services,
    server: FakeMastodon,
    alice: FakeAccount,
) -> None:
    back = query_of(server.approve(begin(workspace_client, server)["authorization_url"], alice))
    channel_id = workspace_client.post("/v1/channels/authorizations/complete", json=back).json["id"]
    with services.sessions.begin() as session:
        session.execute(update(Channel).values(state=ChannelState.NEEDS_REAUTH))

    begun = workspace_client.post("/v1/channels/authorizations", json={"channel_id": channel_id})
    assert begun.status_code == 201, begun.json
    page = client.get(back_from(server.approve(begun.json["authorization_url"], alice)))

    assert page.status_code == 200
    [stored] = read_channels(services)
    assert (str(stored.id), stored.state) == (channel_id, ChannelState.ACTIVE)


def test_a_reconnection_is_sent_with_the_channel_alone(workspace_client: FlaskClient) -> None:
    response = workspace_client.post(
        "/v1/channels/authorizations",
        json={"channel_id": "7b0e1a6c-0000-4000-8000-000000000001", "name": "A new name"},
    )

    assert (response.status_code, response.mimetype) == (422, PROBLEM)
    assert [error["pointer"] for error in response.json["errors"]] == ["/name"]


def test_reconnecting_a_channel_that_is_not_the_workspaces_is_not_found(
    workspace_client: FlaskClient,
) -> None:
    response = workspace_client.post(
        "/v1/channels/authorizations", json={"channel_id": "7b0e1a6c-0000-4000-8000-000000000001"}
    )

    assert (response.status_code, response.mimetype) == (404, PROBLEM)


def test_the_way_back_is_documented_as_needing_no_token(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json

    callback = spec["paths"]["/oauth/callback"]["get"]
    assert callback["security"] == []
    assert "text/html" in callback["responses"]["200"]["content"]
