"""Connecting a channel through the network's OAuth 2 authorization-code flow, with state and PKCE.

Beginning makes a state and a PKCE code verifier, keeps both for ten minutes (the state only as its hash,
the verifier sealed) and answers the network's page where the person approves Crier. Completing takes the
state and the code the network sent the person back with, uses the state up (once only), exchanges the
code with the verifier, asks the network whom the new credentials post as, and connects the channel, or
stores the credentials on the channel being reconnected.

Network calls are made outside any transaction, as in shared.channels.connecting: the state is used up
in a transaction of its own before the code is exchanged, so two requests racing with one state cannot
both get past it, and no database lock is held while a network answers.

PKCE (RFC 7636) is the standard library's `secrets` and `hashlib` rather than authlib: Crier needs two
lines of it, a random verifier and its S256 challenge, and the token request itself belongs to each
adapter's HTTP code, where every answer maps to the adapters' error kinds (authlib's client raises its own
error from the answer's body, losing the status that tells an unknown client from a used code).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.models import Channel, ChannelState
from shared.channels.services import connect_channel, get_channel, store_credentials
from shared.config import Settings
from shared.credentials import CredentialsUnreadable
from shared.db import affected_rows
from shared.dependencies import HasCredentials, HasNetworks, HasSessions, HasSettings
from shared.errors import CrierError, Forbidden, InvalidInput, NotFound, Problem
from shared.networks.ports import (
    Account,
    AuthorizesWithOAuth,
    Network,
    Profile,
)
from shared.networks.registry import NetworkRegistry, UnknownNetwork
from shared.networks.toolkit.answers import storable_profile
from shared.networks.toolkit.api_errors import network_asked
from shared.oauth.models import PendingAuthorization
from shared.workspaces.access import ROLE_PERMISSIONS, Actor, Permission
from shared.workspaces.models import Member

log = logging.getLogger(__name__)

AUTHORIZATION_LIFETIME = timedelta(minutes=10)
# Expired authorizations are kept a day, so that a late return is told "expired" rather than "unknown".
EXPIRED_KEPT = timedelta(days=1)
CALLBACK_PATH = "/oauth/callback"


class Authorizing(HasSettings, HasSessions, HasNetworks, HasCredentials, Protocol):
    """What authorizing a channel with OAuth uses of its process."""


class UnknownAuthorization(NotFound):
    """No authorization waits for this state: used already, cleared, never begun, or another workspace's."""

    def __init__(self) -> None:
        # Not NotFound's own message: the state is a secret, and is never repeated back.
        CrierError.__init__(
            self,
            "No authorization is waiting for this state: it was used already, or it expired and was "
            "cleared, or it was not begun in this workspace. Begin again.",
        )
        self.kind = "authorization"


@dataclass(frozen=True)
class AuthorizationBegun:
    """Where to send the person, and until when their approval can be completed."""

    url: str
    expires_at: datetime


def callback_url(settings: Settings) -> str:
    """Where networks send the person back: the redirect URI Crier registers with them."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def hash_state(state: str) -> str:
    # A state carries 256 random bits, so a fast hash is enough, as for API tokens: nothing to brute-force.
    return hashlib.sha256(state.encode()).hexdigest()


def new_code_verifier() -> str:
    """A PKCE code verifier: 32 random octets, base64url-encoded to 43 characters (RFC 7636, 4.1)."""
    return secrets.token_urlsafe(32)


def code_challenge(code_verifier: str) -> str:
    """The S256 challenge of a verifier: BASE64URL(SHA256(ASCII(verifier))), unpadded (RFC 7636, 4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin_authorization(
    services: Authorizing,
    actor: Actor,
    *,
    network: str,
    name: str,
    settings: Mapping[str, Any],
    now: datetime,
    state_label: str = "",
) -> AuthorizationBegun:
    """Begin connecting a new channel: the network's page where the person approves Crier.

    `state_label` begins the state, so the way back can tell where the flow began without storing it.
    """
    return _begin(
        services,
        actor,
        network=network,
        name=name,
        settings=settings,
        channel_id=None,
        now=now,
        state_label=state_label,
    )


def begin_reauthorization(
    services: Authorizing, actor: Actor, channel_id: uuid.UUID, *, now: datetime, state_label: str = ""
) -> AuthorizationBegun:
    """Begin reconnecting a channel whose credentials stopped working; it keeps its name and settings."""
    with services.sessions.begin() as session:
        channel = get_channel(session, actor.workspace_id, channel_id)
        network, name, settings = channel.network, channel.name, dict(channel.settings)
    return _begin(
        services,
        actor,
        network=network,
        name=name,
        settings=settings,
        channel_id=channel_id,
        now=now,
        state_label=state_label,
    )


def complete_authorization(
    services: Authorizing,
    *,
    state: str,
    code: str,
    now: datetime,
    workspace_id: uuid.UUID | None = None,
) -> Channel:
    """Connect (or reconnect) the channel the person approved Crier for, with the code they came back with.

    `workspace_id` is the caller's when a bearer token says who calls; on the network's redirect nothing
    does, and the state alone says whose authorization it is.
    """
    pending, member = _use_up(services, state, workspace_id)
    if pending.expires_at <= now:
        raise _expired()
    if not member.can(Permission.MANAGE_CHANNELS):
        raise Forbidden("The member who began this authorization may no longer manage channels.")
    adapter, authorizing = _authorizing_adapter(services.networks, pending.network)
    try:
        sealed = services.credentials.open(pending.sealed_secrets)
    except CredentialsUnreadable as error:
        raise _expired() from error
    with network_asked(
        adapter.info, to="complete the authorization", refused="the authorization code", pointer="/code"
    ):
        credentials = authorizing.complete_authorization(
            pending.settings,
            sealed["app_credentials"],
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=sealed["code_verifier"],
        )
    profile = _verify(adapter, pending.settings, credentials)
    with services.sessions.begin() as session:
        if pending.channel_id is None:
            channel = connect_channel(
                session,
                services.networks,
                pending.workspace_id,
                network=pending.network,
                name=pending.channel_name,
                handle=profile.handle,
                settings=pending.settings,
                credentials=credentials,
                cipher=services.credentials,
            )
            record(
                session,
                member,
                "channel.connected",
                "channel",
                channel.id,
                network=pending.network,
                name=pending.channel_name,
                through="authorization",
            )
        else:
            channel = _reconnect(session, services, pending, profile, credentials)
            record(session, member, "channel.reconnected", "channel", channel.id, through="authorization")
    log.info("channel %s connected on %s through an authorization", channel.id, pending.network)
    return channel


def discard_authorization(services: Authorizing, state: str) -> None:
    """Forget the authorization of this state (the person declined on the network), if there is one."""
    with services.sessions.begin() as session:
        session.execute(
            delete(PendingAuthorization).where(PendingAuthorization.state_hash == hash_state(state))
        )


def _begin(
    services: Authorizing,
    actor: Actor,
    *,
    network: str,
    name: str,
    settings: Mapping[str, Any],
    channel_id: uuid.UUID | None,
    now: datetime,
    state_label: str,
) -> AuthorizationBegun:
    if actor.member_id is None:
        raise Forbidden("Only a member can connect an account: Crier acts as no one on a network.")
    adapter, authorizing = _authorizing_adapter(services.networks, network)
    problems = [Problem("/settings", problem) for problem in adapter.check_settings(settings)]
    if problems:
        raise InvalidInput(problems)
    # The label is hashed with the rest of the state, so it cannot be changed on the way without the
    # state then matching no authorization; it is not secret, and adds nothing to the 256 random bits.
    state, verifier = state_label + secrets.token_urlsafe(32), new_code_verifier()
    redirect_uri = callback_url(services.settings)
    with network_asked(
        adapter.info, to="begin the authorization", refused="to authorize Crier", pointer="/settings"
    ):
        start = authorizing.begin_authorization(
            settings, redirect_uri=redirect_uri, state=state, code_challenge=code_challenge(verifier)
        )
    expires_at = now + AUTHORIZATION_LIFETIME
    with services.sessions.begin() as session:
        session.execute(
            delete(PendingAuthorization).where(PendingAuthorization.expires_at <= now - EXPIRED_KEPT)
        )
        session.add(
            PendingAuthorization(
                workspace_id=actor.workspace_id,
                member_id=actor.member_id,
                state_hash=hash_state(state),
                network=network,
                channel_name=name,
                settings=dict(settings),
                channel_id=channel_id,
                sealed_secrets=services.credentials.seal(
                    {"code_verifier": verifier, "app_credentials": dict(start.app_credentials)}
                ),
                redirect_uri=redirect_uri,
                expires_at=expires_at,
            )
        )
    return AuthorizationBegun(url=start.url, expires_at=expires_at)


def _use_up(
    services: Authorizing, state: str, workspace_id: uuid.UUID | None
) -> tuple[PendingAuthorization, Actor]:
    """The authorization of this state, deleted as it is read, so that it is used once; and its member as
    they are now, who acts in completing it. An expired one is used up too: it is of no use any more."""
    query = select(PendingAuthorization).where(PendingAuthorization.state_hash == hash_state(state))
    if workspace_id is not None:
        query = query.where(PendingAuthorization.workspace_id == workspace_id)
    with services.sessions.begin() as session:
        pending = session.scalars(query).one_or_none()
        if pending is None:
            raise UnknownAuthorization()
        used = session.execute(delete(PendingAuthorization).where(PendingAuthorization.id == pending.id))
        if affected_rows(used) != 1:
            raise UnknownAuthorization()  # another request with the same state got there first
        member = session.get_one(Member, pending.member_id)
        # What their role allows now: the scope of the token that began it is not kept, and the role may
        # have changed in the minutes since.
        actor = Actor(member.workspace_id, member.id, ROLE_PERMISSIONS[member.role], member.name)
        return pending, actor


def _authorizing_adapter(networks: NetworkRegistry, network: str) -> tuple[Network, AuthorizesWithOAuth]:
    try:
        adapter = networks.get(network)
    except UnknownNetwork as error:
        raise InvalidInput([Problem("/network", str(error))]) from error
    if not isinstance(adapter, AuthorizesWithOAuth):
        raise InvalidInput(
            [
                Problem(
                    "/network",
                    f"{adapter.info.display_name} is connected with credentials, not by authorizing Crier on "
                    "it: send them to POST /v1/channels.",
                )
            ]
        )
    return adapter, adapter


def _verify(adapter: Network, settings: Mapping[str, Any], credentials: Mapping[str, Any]) -> Profile:
    account = Account(channel_id="", handle="", settings=dict(settings), credentials=dict(credentials))
    with network_asked(
        adapter.info,
        to="check the new credentials",
        refused="the credentials it had just issued",
        pointer="/code",
    ):
        # The account's name becomes the channel's handle: checked as any answer that is kept.
        return storable_profile(adapter.verify(account), what=adapter.info.display_name)


def _reconnect(
    session: Session,
    services: Authorizing,
    pending: PendingAuthorization,
    profile: Profile,
    credentials: Mapping[str, Any],
) -> Channel:
    assert pending.channel_id is not None
    channel = get_channel(session, pending.workspace_id, pending.channel_id)
    if _account_name(channel.handle) != _account_name(profile.handle):
        # Posting as someone else under the channel's name would surprise everyone who schedules to it.
        raise InvalidInput(
            [
                Problem(
                    "/code",
                    f"The channel posts as {channel.handle}, but the account approved was {profile.handle}: "
                    f"sign in on {services.networks.get(channel.network).info.display_name} as "
                    f"{channel.handle} and begin again.",
                )
            ]
        )
    store_credentials(session, services.credentials, channel.id, credentials)
    session.refresh(channel)
    channel.state = ChannelState.ACTIVE
    return channel


def _account_name(handle: str) -> str:
    # "@alice@server", "alice@server" and "alice" name one account on the server the channel's settings
    # fix, which is the server that just answered: the name before the server's is what tells accounts apart.
    return handle.strip().lstrip("@").split("@", 1)[0].casefold()


def _expired() -> InvalidInput:
    problem = Problem("/state", "This authorization expired: approving Crier may take ten minutes at most.")
    return InvalidInput([problem], detail="The authorization expired; begin again.")
