"""A FakeX per test, its account alice, and the adapter pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shared.networks.ports import Account
from shared.networks.x.adapter import XNetwork
from tests.networks.on_this_machine import outbound_here
from tests.networks.x.fake import FakeUser, FakeX

HERE = outbound_here()


@pytest.fixture
def server() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def alice(server: FakeX) -> FakeUser:
    return server.add_account("alice", access_token="alice-access", refresh_token="alice-refresh")


def make_network(server: FakeX, read_timeout: float = 0.5, **options: Any) -> XNetwork:
    """The adapter on the fake, with short read timeouts (a stall is seen in half a second) and no waits
    between media polls."""
    defaults: dict[str, Any] = {
        "api_url": server.base_url,
        "authorize_url": f"{server.base_url}/i/oauth2/authorize",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "settle": timedelta(0),
        "media_longest_wait": 0.0,
        "media_poll_attempts": 5,
    }
    return XNetwork(HERE, http=HERE.client(httpx.Timeout(2.0, read=read_timeout)), **(defaults | options))


@pytest.fixture
def network(server: FakeX) -> XNetwork:
    return make_network(server)


@pytest.fixture
def account(alice: FakeUser) -> Account:
    return Account(
        channel_id="channel-x",
        handle="alice",
        credentials={"access_token": "alice-access", "refresh_token": "alice-refresh"},
    )
