"""Connecting, reconnecting and verifying channels: credentials are tried on the network before anything
is stored, and the call to the network is never made inside a transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from shared.audit.services import record
from shared.channels.models import Channel, ChannelState
from shared.channels.opening import Opening, account_with_credentials
from shared.channels.services import (
    account_of,
    ask_for_reconnection,
    check_connection,
    connect_channel,
    get_channel,
)
from shared.dependencies import HasNetworks
from shared.networks.ports import Account, AuthExpired, Network, NetworkError, Profile
from shared.networks.toolkit.api_errors import network_asked
from shared.workspaces.access import Actor


class Connecting(Opening, HasNetworks, Protocol):
    """What connecting, reconnecting and verifying a channel use."""


def verify_and_connect(
    services: Connecting,
    actor: Actor,
    *,
    network: str,
    name: str,
    handle: str,
    settings: Mapping[str, Any],
    credentials: Mapping[str, Any],
    timezone: str = "UTC",
    posting_schedule: Mapping[str, Any] | None = None,
) -> Channel:
    """Connect a channel whose credentials the network accepts; refused credentials store nothing."""
    adapter = check_connection(services.networks, network, settings, credentials)
    _verify(
        adapter, Account(channel_id="", handle=handle, settings=dict(settings), credentials=dict(credentials))
    )
    with services.sessions.begin() as session:
        channel = connect_channel(
            session,
            services.networks,
            actor.workspace_id,
            network=network,
            name=name,
            handle=handle,
            settings=settings,
            credentials=credentials,
            cipher=services.credentials,
            timezone=timezone,
            posting_schedule=posting_schedule or {},
        )
        record(session, actor, "channel.connected", "channel", channel.id, network=network, name=name)
        return channel


def reconnect(
    services: Connecting, actor: Actor, channel_id: uuid.UUID, credentials: Mapping[str, Any]
) -> Channel:
    """New credentials for a channel (expired, revoked or disconnected): checked, sealed, made active."""
    with services.sessions.begin() as session:
        channel = get_channel(session, actor.workspace_id, channel_id)
        network, handle, settings = channel.network, channel.handle, dict(channel.settings)
    adapter = check_connection(services.networks, network, settings, credentials)
    _verify(
        adapter,
        Account(channel_id=str(channel_id), handle=handle, settings=settings, credentials=dict(credentials)),
    )
    with services.sessions.begin() as session:
        channel = get_channel(session, actor.workspace_id, channel_id)
        channel.sealed_credentials = services.credentials.seal(credentials)
        channel.state = ChannelState.ACTIVE
        record(session, actor, "channel.reconnected", "channel", channel.id)
        return channel


def verify_channel(
    services: Connecting, actor: Actor, channel_id: uuid.UUID
) -> tuple[Channel, Profile | None, str | None]:
    """Ask the network whether the channel's credentials still work: who they post as, or why not.

    Credentials the network no longer accepts mark the channel as needing reconnection, as a refused
    publish would.
    """
    with services.sessions.begin() as session:
        channel = get_channel(session, actor.workspace_id, channel_id)
        account, sealed = account_of(channel), channel.sealed_credentials
    adapter = services.networks.get(channel.network)
    try:
        profile = adapter.verify(account_with_credentials(services, account, sealed, network=adapter))
    except AuthExpired as error:
        with services.sessions.begin() as session:
            ask_for_reconnection(session, [channel_id])
            channel = get_channel(session, actor.workspace_id, channel_id)
            return channel, None, f"{adapter.info.display_name} no longer accepts the credentials: {error}"
    except NetworkError as error:
        return channel, None, f"{adapter.info.display_name} could not be asked: {error}"
    return channel, profile, None


def _verify(adapter: Network, account: Account) -> None:
    with network_asked(
        adapter.info, to="check the credentials", refused="these credentials", pointer="/credentials"
    ):
        adapter.verify(account)
