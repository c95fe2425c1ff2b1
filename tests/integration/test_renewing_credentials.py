"""Access tokens renewed ahead of expiry, once, even when several processes reach for them at once.

The network here is the sandbox with tokens that expire and refresh tokens that work once, as X's do: a
second exchange of the same refresh token is refused, which would leave the channel unable to post. The
authority stands for the network's token endpoint and can be made slow, to hold the race window open.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from sqlalchemy import select, update

from shared.bootstrap import Services, bootstrap
from shared.channels.models import Channel, ChannelState
from shared.channels.refreshing import (
    LEASE,
    Renewal,
    renew_credentials,
    renew_expiring_credentials,
)
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    PublishedPost,
    Transient,
)
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.notifications.endpoints import create_endpoint
from shared.notifications.models import EventType, WebhookMessage
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.access import Actor
from tests.driving import publish_what_is_due
from tests.factories import make_connected_channel, make_post, make_workspace

TOKEN_LIFETIME = timedelta(hours=2)


@dataclass
class TokenAuthority:
    """The network's token endpoint: access tokens expire, and each refresh token works once."""

    slow_seconds: float = 0.0
    refuse_with: type[Exception] | None = None
    exchanges: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh_tokens: set[str] = set()
        self._access_tokens: dict[str, datetime] = {}

    def issue(self, *, expires_in: timedelta = TOKEN_LIFETIME) -> dict[str, Any]:
        with self._lock:
            access, refresh = secrets.token_hex(8), secrets.token_hex(8)
            expires_at = utcnow() + expires_in
            self._access_tokens[access] = expires_at
            self._refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "expires_at": expires_at.isoformat()}

    def exchange(self, refresh_token: str) -> dict[str, Any]:
        time.sleep(self.slow_seconds)
        if self.refuse_with is not None:
            raise self.refuse_with("the token endpoint refused")
        with self._lock:
            self.exchanges += 1
            if refresh_token not in self._refresh_tokens:
                raise AuthExpired("invalid_request: Value passed for the token was invalid.")
            self._refresh_tokens.discard(refresh_token)  # single use
        return self.issue()

    def accepts(self, access_token: str) -> bool:
        expires_at = self._access_tokens.get(access_token)
        return expires_at is not None and expires_at > utcnow()


AUTHORITY = TokenAuthority()


class RenewingNetwork(SandboxNetwork):
    """The sandbox, posting only with an unexpired access token from AUTHORITY."""

    info = replace(
        SandboxNetwork.info,
        name="renewing",
        display_name="Renewing",
        credential_keys=("access_token", "refresh_token", "expires_at"),
    )

    def expires_at(self, credentials: Mapping[str, Any]) -> datetime | None:
        return datetime.fromisoformat(credentials["expires_at"])

    def refresh_credentials(self, account: Account) -> dict[str, Any]:
        return AUTHORITY.exchange(account.credentials["refresh_token"])

    def publish(
        self, account: Account, draft: Draft, idempotency_key: str, *, published: Sequence[Any] = ()
    ) -> PublishedPost:
        if not AUTHORITY.accepts(account.credentials["access_token"]):
            raise AuthExpired("the access token has expired")
        return super().publish(account, draft, idempotency_key, published=published)


RENEWING_ENTRY = EntryPoint(
    name="renewing",
    value="tests.integration.test_renewing_credentials:RenewingNetwork.from_settings",
    group=ENTRY_POINT_GROUP,
)


@pytest.fixture
def renewing(services: Services, settings: Settings, task_queue: MemoryTaskQueue) -> Iterator[Services]:
    """Services whose only network is RenewingNetwork, loaded through a real entry point."""
    global AUTHORITY
    AUTHORITY = TokenAuthority()
    built = bootstrap(
        settings,
        tasks=task_queue,
        networks=NetworkRegistry(settings, [RENEWING_ENTRY]),
        engine=services.engine,
    )
    yield built
    built.close()


def channel_with(services: Services, credentials: dict[str, Any]) -> Channel:
    return make_connected_channel(
        services, make_workspace(services)[0], "renewing", "Renewing", settings={}, credentials=credentials
    )


def credentials_of(services: Services, channel_id: uuid.UUID) -> dict[str, Any]:
    with services.sessions.begin() as session:
        channel = session.get_one(Channel, channel_id)
        return services.credentials.open(channel.sealed_credentials)


def state_of(services: Services, channel_id: uuid.UUID) -> ChannelState:
    with services.sessions.begin() as session:
        return session.get_one(Channel, channel_id).state


def test_the_periodic_job_renews_what_expires_soon_and_leaves_the_rest(renewing: Services) -> None:
    expiring = channel_with(renewing, AUTHORITY.issue(expires_in=timedelta(minutes=5)))
    lasting = channel_with(renewing, AUTHORITY.issue(expires_in=timedelta(hours=2)))
    lasting_before = credentials_of(renewing, lasting.id)

    outcomes = renew_expiring_credentials(renewing)

    assert outcomes == {Renewal.RENEWED: 1}
    renewed = credentials_of(renewing, expiring.id)
    assert AUTHORITY.accepts(renewed["access_token"])
    assert datetime.fromisoformat(renewed["expires_at"]) > utcnow() + timedelta(hours=1)
    assert credentials_of(renewing, lasting.id) == lasting_before
    assert AUTHORITY.exchanges == 1


def test_two_processes_renewing_at_once_exchange_the_single_use_token_once(renewing: Services) -> None:
    channel = channel_with(renewing, AUTHORITY.issue(expires_in=timedelta(minutes=5)))
    AUTHORITY.slow_seconds = 0.3  # the first holds the refresh token while the second arrives
    network = _renewing_network(renewing)
    start = threading.Barrier(2)
    outcomes: list[Renewal] = []

    def renew() -> None:
        start.wait()
        outcomes.append(renew_credentials(renewing, network, channel.id, ahead=timedelta(minutes=15)))

    racers = [threading.Thread(target=renew) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    assert sorted(outcomes) == sorted([Renewal.RENEWED, Renewal.BUSY])
    assert AUTHORITY.exchanges == 1
    assert state_of(renewing, channel.id) is ChannelState.ACTIVE
    assert AUTHORITY.accepts(credentials_of(renewing, channel.id)["access_token"])
    # The stored refresh token is the one the network issued last, so the next renewal works.
    assert renew_credentials(renewing, network, channel.id, ahead=timedelta(hours=3)) is Renewal.RENEWED


def test_posts_due_on_an_expired_token_go_out_with_one_renewal(renewing: Services) -> None:
    """The periodic job did not run (the scheduler was down): the first call renews, the rest reuse it."""
    workspace = make_workspace(renewing)[0]
    credentials = AUTHORITY.issue(expires_in=timedelta(seconds=-1))
    channel = make_connected_channel(
        renewing, workspace, "renewing", "Renewing", settings={}, credentials=credentials
    )
    posts = [make_post(renewing, workspace, [channel], text=f"Post {n}") for n in range(3)]

    states = publish_what_is_due(renewing)

    assert list(states.values()) == [DeliveryState.PUBLISHED] * len(posts)
    assert AUTHORITY.exchanges == 1
    assert AUTHORITY.accepts(credentials_of(renewing, channel.id)["access_token"])


def test_a_refused_refresh_asks_a_person_to_reconnect_once(renewing: Services) -> None:
    channel = channel_with(renewing, AUTHORITY.issue(expires_in=timedelta(minutes=5)))
    _subscribe_to_needs_reauth(renewing, channel.id)
    AUTHORITY.refuse_with = AuthExpired

    assert renew_expiring_credentials(renewing) == {Renewal.NEEDS_REAUTH: 1}
    assert renew_expiring_credentials(renewing) == {}  # a channel waiting for a person is left alone

    assert state_of(renewing, channel.id) is ChannelState.NEEDS_REAUTH
    with renewing.sessions.begin() as session:
        messages = session.scalars(select(WebhookMessage)).all()
        assert [message.event_type for message in messages] == [EventType.CHANNEL_NEEDS_REAUTH]


def test_a_network_that_cannot_be_asked_leaves_the_credentials_for_the_next_run(
    renewing: Services,
) -> None:
    channel = channel_with(renewing, AUTHORITY.issue(expires_in=timedelta(minutes=5)))
    before = credentials_of(renewing, channel.id)
    AUTHORITY.refuse_with = Transient

    assert renew_expiring_credentials(renewing) == {Renewal.LATER: 1}
    assert credentials_of(renewing, channel.id) == before
    assert state_of(renewing, channel.id) is ChannelState.ACTIVE

    AUTHORITY.refuse_with = None
    assert renew_expiring_credentials(renewing) == {Renewal.RENEWED: 1}


def test_a_lease_left_by_a_process_that_died_runs_out(renewing: Services) -> None:
    channel = channel_with(renewing, AUTHORITY.issue(expires_in=timedelta(minutes=5)))
    network = _renewing_network(renewing)
    with renewing.sessions.begin() as session:
        session.execute(
            update(Channel)
            .where(Channel.id == channel.id)
            .values(renewing_credentials_until=utcnow() + LEASE)
        )

    assert renew_credentials(renewing, network, channel.id, ahead=timedelta(minutes=15)) is Renewal.BUSY  # type: ignore[arg-type]
    later = utcnow() + LEASE + timedelta(seconds=1)
    assert (
        renew_credentials(renewing, network, channel.id, ahead=timedelta(minutes=15), now=later)
        is Renewal.RENEWED
    )  # type: ignore[arg-type]


def _renewing_network(services: Services) -> RenewingNetwork:
    network = services.networks.get("renewing")
    assert isinstance(network, RenewingNetwork)
    return network


def _subscribe_to_needs_reauth(services: Services, channel_id: uuid.UUID) -> None:
    with services.sessions.begin() as session:
        workspace_id = session.get_one(Channel, channel_id).workspace_id
        create_endpoint(
            session,
            Actor.system(workspace_id),
            services.credentials,
            url="https://hooks.example.org/crier",
            events=["channel.needs_reauth"],
        )
