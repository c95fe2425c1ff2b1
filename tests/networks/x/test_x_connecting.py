"""Connecting an X channel through Crier's API: begin, the person approving on X, the way back, and the
channel kept with a token pair that renews."""

from __future__ import annotations

import threading
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.api.app import create_app
from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.refreshing import Renewal, renew_credentials
from shared.config import Settings
from shared.networks.ports import Account
from shared.networks.x.adapter import XNetwork
from tests.factories import make_connected_channel, make_workspace
from tests.networks.on_this_machine import allowing_here
from tests.networks.x.fake import FakeUser, FakeX


@pytest.fixture
def settings(settings: Settings, server: FakeX) -> Settings:
    return allowing_here(settings).model_copy(
        update={
            "x_api_url": server.base_url,
            "x_authorize_url": f"{server.base_url}/i/oauth2/authorize",
            "x_client_id": server.client_id,
            "x_client_secret": server.client_secret,
        }
    )


def test_an_x_channel_is_connected_through_the_api_with_credentials_that_renew(
    services: Services, server: FakeX, alice: FakeUser
) -> None:
    app = create_app(services=services)
    _, token = make_workspace(services)
    owner: FlaskClient = app.test_client()
    owner.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    begun = owner.post("/v1/channels/authorizations", json={"network": "x", "name": "Alice on X"})
    assert begun.status_code == 201, begun.json
    back = urllib.parse.urlsplit(server.approve(begun.json["authorization_url"], alice))
    page = app.test_client().get(f"{back.path}?{back.query}")

    assert page.status_code == 200, page.text
    [listed] = owner.get("/v1/channels").json["items"]
    assert (listed["network"], listed["handle"], listed["state"]) == ("x", "alice", "active")
    with services.sessions() as session:
        channel = session.scalars(select(Channel)).one()
        credentials = services.credentials.open(channel.sealed_credentials)
    network = services.networks.get("x")
    assert isinstance(network, XNetwork)
    expires = network.expires_at(credentials)
    assert expires is not None
    assert expires > datetime.now(UTC) + timedelta(hours=1)
    renewed = network.refresh_credentials(Account(str(channel.id), "alice", credentials=credentials))
    assert renewed["refresh_token"] != credentials["refresh_token"]
    assert (server.token_exchanges, server.refreshes) == (2, 1)


def test_workers_renewing_one_x_channel_at_once_spend_its_single_use_refresh_token_once(
    services: Services, server: FakeX, alice: FakeUser
) -> None:
    """X's refresh tokens work once: had two workers both sent the same one, the second would be refused and
    the channel locked out. Eight at once, through Crier's renewal lease: one exchange; it renews again."""
    workspace, _ = make_workspace(services)
    expiring = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    credentials = {"access_token": "alice-access", "refresh_token": "alice-refresh", "expires_at": expiring}
    channel = make_connected_channel(
        services, workspace, "x", "Alice on X", settings={}, credentials=credentials
    )
    network = services.networks.get("x")
    assert isinstance(network, XNetwork)
    start = threading.Barrier(8)
    outcomes: list[Renewal] = []

    def renew() -> None:
        start.wait()
        outcomes.append(renew_credentials(services, network, channel.id, ahead=timedelta(minutes=15)))

    workers = [threading.Thread(target=renew) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert outcomes.count(Renewal.RENEWED) == 1
    assert set(outcomes) <= {Renewal.RENEWED, Renewal.BUSY, Renewal.NOT_DUE}
    assert server.refreshes == 1
    with services.sessions() as session:
        stored = session.get_one(Channel, channel.id)
        assert stored.state is ChannelState.ACTIVE
        renewed = services.credentials.open(stored.sealed_credentials)
    assert renewed["refresh_token"] not in server.used_refresh_tokens
    # The pair stored is the one X issued last: the next renewal works, and the new token posts.
    assert renew_credentials(services, network, channel.id, ahead=timedelta(hours=3)) is Renewal.RENEWED
    assert server.refreshes == 2
    with services.sessions() as session:
        latest = services.credentials.open(session.get_one(Channel, channel.id).sealed_credentials)
    assert network.verify(Account(str(channel.id), "alice", credentials=latest)).handle == "alice"
