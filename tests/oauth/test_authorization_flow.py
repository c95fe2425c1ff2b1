"""Connecting a channel through the authorization flow, on both databases, against a fake Mastodon server.

The test plays the person: it follows the authorization URL to the fake server's authorize page, presses
"Authorize" (or "Deny") there, and brings back what the server's redirect carried.
"""

from __future__ import annotations

import logging
import socket
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.config import Settings
from shared.db import utcnow
from shared.errors import Forbidden, InvalidInput, NotFound, Unavailable
from shared.models import Base
from shared.networks.ports import Account
from shared.oauth.models import PendingAuthorization
from shared.oauth.services import (
    AUTHORIZATION_LIFETIME,
    AuthorizationBegun,
    UnknownAuthorization,
    begin_authorization,
    begin_reauthorization,
    complete_authorization,
    discard_authorization,
    hash_state,
    new_code_verifier,
)
from shared.workspaces.access import Actor, Role
from shared.workspaces.models import Member, Workspace
from shared.workspaces.services import authenticate
from tests.factories import make_member_token, make_workspace
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon, serve
from tests.networks.on_this_machine import allowing_here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return allowing_here(settings)


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def alice(server: FakeMastodon) -> FakeAccount:
    return server.add_account("alice")


@pytest.fixture
def workspace_and_owner(services: Services) -> tuple[Workspace, Actor]:
    workspace, token = make_workspace(services)
    return workspace, actor_of(services, token)


@pytest.fixture
def owner(workspace_and_owner: tuple[Workspace, Actor]) -> Actor:
    return workspace_and_owner[1]


def actor_of(services: Services, token: str) -> Actor:
    with services.sessions.begin() as session:
        return authenticate(session, token, utcnow())


def settings_for(server: FakeMastodon) -> dict[str, Any]:
    return {"base_url": server.base_url}


def begin(services: Services, actor: Actor, server: FakeMastodon, name: str = "Alice") -> AuthorizationBegun:
    return begin_authorization(
        services, actor, network="mastodon", name=name, settings=settings_for(server), now=utcnow()
    )


def redirect_query(location: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def approve(server: FakeMastodon, begun: AuthorizationBegun, account: FakeAccount) -> dict[str, str]:
    """The person approves Crier as `account`; the state and code their browser comes back with."""
    return redirect_query(server.approve(begun.url, account))


def read_channels(services: Services) -> list[Channel]:
    with services.sessions() as session:
        return list(session.scalars(select(Channel)))


def read_pending(services: Services) -> list[PendingAuthorization]:
    with services.sessions() as session:
        return list(session.scalars(select(PendingAuthorization)))


def connect_alice(services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount) -> Channel:
    back = approve(server, begin(services, owner, server), alice)
    return complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())


def test_approving_crier_connects_an_active_channel_whose_token_is_sealed(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    begun = begin(services, owner, server)
    back = approve(server, begun, alice)

    channel = complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    [stored] = read_channels(services)
    assert (stored.id, stored.network, stored.name, stored.handle) == (
        channel.id,
        "mastodon",
        "Alice",
        "alice",
    )
    assert stored.state is ChannelState.ACTIVE
    assert stored.workspace_id == owner.workspace_id
    credentials = services.credentials.open(stored.sealed_credentials)
    assert credentials["access_token"] in alice.tokens
    assert read_pending(services) == []
    with services.sessions() as session:
        [entry] = session.scalars(select(AuditEntry))
    assert (entry.action, entry.subject_id, entry.member_id) == (
        "channel.connected",
        channel.id,
        owner.member_id,
    )


def test_the_authorization_expires_ten_minutes_after_it_began(
    services: Services, owner: Actor, server: FakeMastodon
) -> None:
    before = utcnow()

    begun = begin(services, owner, server)

    assert before + AUTHORIZATION_LIFETIME <= begun.expires_at <= utcnow() + AUTHORIZATION_LIFETIME
    [pending] = read_pending(services)
    assert pending.expires_at == begun.expires_at


def test_a_code_exchanged_with_another_verifier_is_refused_and_connects_nothing(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    begun = begin(services, owner, server)
    back = approve(server, begun, alice)
    # As if someone had swapped the verifier: the server must see that it is not the challenge's.
    with services.sessions.begin() as session:
        pending = session.scalars(select(PendingAuthorization)).one()
        secrets = services.credentials.open(pending.sealed_secrets)
        pending.sealed_secrets = services.credentials.seal(secrets | {"code_verifier": new_code_verifier()})

    with pytest.raises(InvalidInput) as refused:
        complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    [problem] = refused.value.problems
    assert problem.pointer == "/code"
    assert "authorization grant is invalid" in problem.detail
    assert read_channels(services) == []


def test_a_state_is_used_once(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    back = approve(server, begin(services, owner, server), alice)
    complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    with pytest.raises(UnknownAuthorization):
        complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    assert len(read_channels(services)) == 1


def test_an_expired_state_is_refused_and_used_up(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    begun = begin(services, owner, server)
    back = approve(server, begun, alice)
    late = begun.expires_at + timedelta(seconds=1)

    with pytest.raises(InvalidInput) as expired:
        complete_authorization(services, state=back["state"], code=back["code"], now=late)

    assert [problem.pointer for problem in expired.value.problems] == ["/state"]
    assert "expired" in expired.value.detail
    assert read_channels(services) == []
    with pytest.raises(UnknownAuthorization):
        complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())


def test_a_state_of_another_workspace_is_not_found_and_stays_usable_in_its_own(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    back = approve(server, begin(services, owner, server), alice)
    other, _ = make_workspace(services, "Another team")

    with pytest.raises(NotFound):
        complete_authorization(
            services, state=back["state"], code=back["code"], now=utcnow(), workspace_id=other.id
        )

    channel = complete_authorization(
        services, state=back["state"], code=back["code"], now=utcnow(), workspace_id=owner.workspace_id
    )
    assert channel.workspace_id == owner.workspace_id


def test_reconnecting_a_channel_that_needs_it_stores_new_credentials_and_makes_it_active(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    channel = connect_alice(services, owner, server, alice)
    with services.sessions.begin() as session:
        stored = session.get_one(Channel, channel.id)
        old_token = services.credentials.open(stored.sealed_credentials)["access_token"]
        stored.state = ChannelState.NEEDS_REAUTH
    server.revoke(old_token)

    begun = begin_reauthorization(services, owner, channel.id, now=utcnow())
    back = approve(server, begun, alice)
    reconnected = complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    [stored] = read_channels(services)
    assert reconnected.id == stored.id == channel.id
    assert stored.state is ChannelState.ACTIVE
    new_token = services.credentials.open(stored.sealed_credentials)["access_token"]
    assert new_token != old_token
    assert new_token in alice.tokens


def test_reconnecting_with_another_account_is_refused_and_keeps_the_channel_as_it_was(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    channel = connect_alice(services, owner, server, alice)
    with services.sessions.begin() as session:
        session.execute(update(Channel).values(state=ChannelState.NEEDS_REAUTH))
    bob = server.add_account("bob")

    back = approve(server, begin_reauthorization(services, owner, channel.id, now=utcnow()), bob)
    with pytest.raises(InvalidInput) as refused:
        complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    [problem] = refused.value.problems
    assert "posts as alice, but the account approved was bob" in problem.detail

    [stored] = read_channels(services)
    assert stored.state is ChannelState.NEEDS_REAUTH
    assert services.credentials.open(stored.sealed_credentials)["access_token"] in alice.tokens


def test_a_channel_of_another_workspace_cannot_be_reconnected(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    channel = connect_alice(services, owner, server, alice)
    _, token = make_workspace(services, "Another team")

    with pytest.raises(NotFound):
        begin_reauthorization(services, actor_of(services, token), channel.id, now=utcnow())


def test_declining_on_the_server_discards_the_authorization(
    services: Services, owner: Actor, server: FakeMastodon
) -> None:
    back = redirect_query(server.decline(begin(services, owner, server).url))
    assert back["error"] == "access_denied"

    discard_authorization(services, back["state"])

    assert read_pending(services) == []


def test_a_member_no_longer_allowed_to_manage_channels_cannot_complete(
    services: Services,
    workspace_and_owner: tuple[Workspace, Actor],
    server: FakeMastodon,
    alice: FakeAccount,
) -> None:
    workspace = workspace_and_owner[0]
    admin = actor_of(services, make_member_token(services, workspace, Role.ADMIN))
    back = approve(server, begin(services, admin, server), alice)
    with services.sessions.begin() as session:
        session.execute(update(Member).where(Member.id == admin.member_id).values(role=Role.EDITOR))

    with pytest.raises(Forbidden):
        complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    assert read_channels(services) == []


def test_a_network_that_takes_credentials_cannot_be_authorized(services: Services, owner: Actor) -> None:
    with pytest.raises(InvalidInput) as refused:
        begin_authorization(services, owner, network="sandbox", name="Sandbox", settings={}, now=utcnow())

    [problem] = refused.value.problems
    assert problem.pointer == "/network"
    assert "connected with credentials" in problem.detail


def test_settings_the_network_cannot_use_are_refused_before_the_server_is_asked(
    services: Services, owner: Actor, server: FakeMastodon
) -> None:
    with pytest.raises(InvalidInput) as refused:
        begin_authorization(
            services, owner, network="mastodon", name="Alice", settings={"base_url": "ftp://x"}, now=utcnow()
        )

    assert {problem.pointer for problem in refused.value.problems} == {"/settings"}
    assert server.requests == []
    assert read_pending(services) == []


def test_a_server_that_cannot_be_reached_is_unavailable_and_nothing_is_kept(
    services: Services, owner: Actor
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = {"base_url": f"http://127.0.0.1:{port}"}

    with pytest.raises(Unavailable):
        begin_authorization(
            services, owner, network="mastodon", name="Alice", settings=settings, now=utcnow()
        )

    assert read_pending(services) == []


def test_an_account_name_crier_cannot_keep_as_a_handle_connects_nothing(
    services: Services, owner: Actor, server: FakeMastodon
) -> None:
    # A server of the Mastodon API is anyone's: its answer about the account is checked like any other.
    long_name = server.add_account("a" * 300)
    begun = begin(services, owner, server)
    back = approve(server, begun, long_name)

    with pytest.raises(Unavailable, match="account name Crier cannot keep"):
        complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    assert read_channels(services) == []


def test_the_verifier_the_state_and_the_tokens_never_appear_in_plain_text_in_the_database_or_the_logs(
    services: Services,
    owner: Actor,
    server: FakeMastodon,
    alice: FakeAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    begun = begin(services, owner, server)
    [pending] = read_pending(services)
    verifier = services.credentials.open(pending.sealed_secrets)["code_verifier"]
    while_pending = dump_database(services)
    back = approve(server, begun, alice)
    channel = complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())
    with services.sessions() as session:
        sealed = session.get_one(Channel, channel.id).sealed_credentials
    [app] = server.apps.values()
    secrets = {
        "state": back["state"],
        "code": back["code"],
        "code verifier": verifier,
        "client secret": app["client_secret"],
        "access token": services.credentials.open(sealed)["access_token"],
    }

    assert pending.state_hash == hash_state(back["state"])
    assert server.requests_to("POST", "/oauth/token")[-1].form["code_verifier"] == [verifier]
    for what, secret in secrets.items():
        assert secret not in while_pending, what
        assert secret not in dump_database(services), what
        assert secret not in caplog.text, what


def dump_database(services: Services) -> str:
    """Every value of every row, as text: bytes as they are stored, without decoding anything sealed."""
    values: list[str] = []
    with services.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                values += [
                    value.decode("latin-1") if isinstance(value, bytes) else str(value) for value in row
                ]
    return "\n".join(values)


def test_the_connected_channel_publishes_with_the_token_the_server_issued(
    services: Services, owner: Actor, server: FakeMastodon, alice: FakeAccount
) -> None:
    channel = connect_alice(services, owner, server, alice)
    with services.sessions() as session:
        stored = session.get_one(Channel, channel.id)
    account = Account(
        channel_id=str(stored.id),
        handle=stored.handle,
        settings=stored.settings,
        credentials=services.credentials.open(stored.sealed_credentials),
    )

    assert services.networks.get("mastodon").verify(account).handle == "alice"
