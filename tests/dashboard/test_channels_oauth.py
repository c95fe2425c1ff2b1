"""Connecting and reconnecting a Mastodon channel from the dashboard by authorizing Crier on the server.

The server is tests/networks/mastodon/fake.py over real HTTP on this machine: the dashboard's form sends
the browser to its authorize page, the test plays the person who approves there, and the API's own way
back (GET /oauth/callback) connects the channel, then returns the browser to the dashboard; a flow begun
through the API ends on the callback's own page, as before.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.services import ask_for_reconnection
from shared.config import Settings
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.seeding import SeededWorkspace
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon, serve
from tests.networks.on_this_machine import allowing_here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake server listens on 127.0.0.1, which the operator allows here.
    return allowing_here(settings)


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def alice(server: FakeMastodon) -> FakeAccount:
    return server.add_account("alice")


def back_from(location: str) -> str:
    """The path and query the person's browser comes back to Crier with."""
    parts = urllib.parse.urlsplit(location)
    return f"{parts.path}?{parts.query}"


def mastodon_channels(services: Services) -> list[Channel]:
    with services.sessions() as session:
        found = list(session.scalars(select(Channel).where(Channel.network == "mastodon")))
        session.expunge_all()
        return found


def test_the_form_sends_the_browser_to_the_server_and_the_way_back_connects_the_channel(
    client: FlaskClient, services: Services, seeded: SeededWorkspace, server: FakeMastodon, alice: FakeAccount
) -> None:
    sign_in(client, seeded.owner_token)
    page = client.get("/dashboard/channels?network=mastodon").get_data(as_text=True)
    assert 'data-test="authorize-form"' in page

    response = client.post(
        "/dashboard/channels/authorizations",
        data={
            "csrf_token": csrf_token_of(page),
            "network": "mastodon",
            "via": "authorize",
            "name": "Alice on Mastodon",
            "setting-key-0": "base_url",
            "setting-value-0": server.base_url,
        },
    )

    assert response.status_code == 303, response.get_data(as_text=True)
    authorize = urllib.parse.urlsplit(response.headers["Location"])
    assert (f"{authorize.scheme}://{authorize.netloc}", authorize.path) == (
        server.base_url,
        "/oauth/authorize",
    )
    assert "form-action 'self' https:" in response.headers["Content-Security-Policy"]
    came_back = client.get(back_from(server.approve(response.headers["Location"], alice)))
    [connected] = mastodon_channels(services)
    assert came_back.status_code == 303
    assert came_back.headers["Location"] == f"/dashboard/channels/{connected.id}"
    assert came_back.headers["Referrer-Policy"] == "no-referrer"
    channel_page = client.get(came_back.headers["Location"]).get_data(as_text=True)
    assert (
        "Connected: Crier now posts to the channel “Alice on Mastodon” as alice on Mastodon." in channel_page
    )
    assert (connected.name, connected.handle, connected.state) == (
        "Alice on Mastodon",
        "alice",
        ChannelState.ACTIVE,
    )
    assert connected.workspace_id == seeded.workspace.id


def begin_from_dashboard(client: FlaskClient, server: FakeMastodon, name: str) -> str:
    """Send the authorize form; the server's authorize page the browser is sent to."""
    page = client.get("/dashboard/channels?network=mastodon").get_data(as_text=True)
    begun = client.post(
        "/dashboard/channels/authorizations",
        data={
            "csrf_token": csrf_token_of(page),
            "network": "mastodon",
            "name": name,
            "setting-key-0": "base_url",
            "setting-value-0": server.base_url,
        },
    )
    assert begun.status_code == 303, begun.get_data(as_text=True)
    return begun.headers["Location"]


def test_declining_on_the_server_returns_to_the_dashboard_s_channels_saying_nothing_was_connected(
    client: FlaskClient, services: Services, seeded: SeededWorkspace, server: FakeMastodon
) -> None:
    sign_in(client, seeded.owner_token)

    came_back = client.get(back_from(server.decline(begin_from_dashboard(client, server, "Declined"))))
    channels_page = client.get(came_back.headers["Location"]).get_data(as_text=True)

    assert (came_back.status_code, came_back.headers["Location"]) == (303, "/dashboard/channels")
    assert (
        "Not connected: Crier was not authorized on the network, so nothing was connected." in channels_page
    )
    assert mastodon_channels(services) == []


def test_a_flow_begun_through_the_api_ends_on_the_callback_s_own_page(
    client: FlaskClient, services: Services, seeded: SeededWorkspace, server: FakeMastodon, alice: FakeAccount
) -> None:
    begun = client.post(
        "/v1/channels/authorizations",
        json={"network": "mastodon", "name": "Alice by API", "settings": {"base_url": server.base_url}},
        headers={"Authorization": f"Bearer {seeded.owner_token}"},
    )
    assert begun.status_code == 201, begun.json
    assert begun.json is not None

    came_back = client.get(back_from(server.approve(begun.json["authorization_url"], alice)))

    [connected] = mastodon_channels(services)
    assert came_back.status_code == 200
    assert came_back.mimetype == "text/html"
    assert "You can close this page." in came_back.get_data(as_text=True)
    assert connected.name == "Alice by API"


def test_settings_the_server_refuses_are_shown_beside_the_authorize_form(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    page = client.get("/dashboard/channels?network=mastodon").get_data(as_text=True)

    response = client.post(
        "/dashboard/channels/authorizations",
        data={
            "csrf_token": csrf_token_of(page),
            "network": "mastodon",
            "via": "authorize",
            "name": "Nowhere",
        },
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="authorize-settings-error"' in page
    assert 'id="connect-settings-error"' not in page, "the problem is shown beside the form that was sent"
    assert mastodon_channels(services) == []


def test_a_channel_that_needs_reconnecting_is_authorized_again_from_its_page(
    client: FlaskClient, services: Services, seeded: SeededWorkspace, server: FakeMastodon, alice: FakeAccount
) -> None:
    sign_in(client, seeded.owner_token)
    page = client.get("/dashboard/channels?network=mastodon").get_data(as_text=True)
    begun = client.post(
        "/dashboard/channels/authorizations",
        data={
            "csrf_token": csrf_token_of(page),
            "network": "mastodon",
            "name": "Alice on Mastodon",
            "setting-key-0": "base_url",
            "setting-value-0": server.base_url,
        },
    )
    client.get(back_from(server.approve(begun.headers["Location"], alice)))
    [channel] = mastodon_channels(services)
    with services.sessions.begin() as session:
        ask_for_reconnection(session, [channel.id])

    page = client.get(f"/dashboard/channels/{channel.id}").get_data(as_text=True)
    assert "Authorize Crier on Mastodon again" in page
    again = client.post(
        f"/dashboard/channels/{channel.id}/authorization", data={"csrf_token": csrf_token_of(page)}
    )
    assert again.status_code == 303
    came_back = client.get(back_from(server.approve(again.headers["Location"], alice)))

    [reconnected] = mastodon_channels(services)
    assert (reconnected.id, reconnected.state) == (channel.id, ChannelState.ACTIVE)
    assert came_back.headers["Location"] == f"/dashboard/channels/{channel.id}"
