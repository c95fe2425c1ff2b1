"""Connecting and listing channels."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.models import Channel, ChannelState
from shared.channels.slots import PostingSchedule
from shared.credentials import CredentialCipher
from shared.errors import Conflict, InvalidInput, Problem
from shared.networks.ports import Account, Network
from shared.networks.registry import NetworkRegistry, UnknownNetwork
from shared.notifications.models import EventType
from shared.notifications.outbox import Event, emit_all
from shared.timezones import check_timezone
from shared.workspaces.access import Actor
from shared.workspaces.services import get_in_workspace


def check_connection(
    networks: NetworkRegistry, network: str, settings: Mapping[str, Any], credentials: Mapping[str, Any]
) -> Network:
    """The network's adapter, once the channel's options and credentials have the shape it needs."""
    try:
        adapter = networks.get(network)
    except UnknownNetwork as error:
        raise InvalidInput([Problem("/network", str(error))]) from error
    problems = [Problem("/settings", problem) for problem in adapter.check_settings(settings)]
    expected = adapter.info.credential_keys
    problems += [
        Problem(f"/credentials/{key}", f"{adapter.info.display_name} needs this to post.")
        for key in expected
        if not credentials.get(key)
    ]
    problems += [
        Problem(f"/credentials/{key}", f"{adapter.info.display_name} takes no credential of this name.")
        for key in credentials
        if key not in expected and key not in adapter.info.optional_credential_keys
    ]
    if not problems:
        problems = [Problem("/credentials", problem) for problem in adapter.check_credentials(credentials)]
    if problems:
        raise InvalidInput(problems)
    return adapter


def connect_channel(
    session: Session,
    networks: NetworkRegistry,
    workspace_id: uuid.UUID,
    *,
    network: str,
    name: str,
    handle: str,
    settings: Mapping[str, Any],
    credentials: Mapping[str, Any] | None = None,
    cipher: CredentialCipher | None = None,
    timezone: str = "UTC",
    posting_schedule: Mapping[str, Any] | None = None,
) -> Channel:
    """Store a channel whose options and credentials have the right shape (see verify_and_connect)."""
    check_connection(networks, network, settings, credentials or {})
    check_timezone(timezone, pointer="/timezone")
    schedule = PostingSchedule.from_document(dict(posting_schedule or {}))
    if credentials and cipher is None:
        raise ValueError("credentials are only ever stored sealed: pass the cipher")
    channel = Channel(
        workspace_id=workspace_id,
        network=network,
        name=name,
        handle=handle,
        settings=dict(settings),
        sealed_credentials=cipher.seal(credentials) if cipher and credentials else None,
        timezone=timezone,
        posting_schedule=schedule.to_document(),
    )
    session.add(channel)
    session.flush()
    return channel


def store_credentials(
    session: Session, cipher: CredentialCipher, channel_id: uuid.UUID, credentials: Mapping[str, Any]
) -> None:
    """Keep credentials a network renewed for the channel (a refreshed session), sealed."""
    session.execute(
        update(Channel).where(Channel.id == channel_id).values(sealed_credentials=cipher.seal(credentials))
    )


def ask_for_reconnection(session: Session, channel_ids: Collection[uuid.UUID]) -> list[uuid.UUID]:
    """Channels whose network refused their credentials wait for a person: needs_reauth, announced once.

    Only active channels change: a paused or disconnected one stays as a person left it, and a channel
    already waiting is not announced again. Returns the channels that changed.
    """
    if not channel_ids:
        return []
    newly_expired = session.execute(
        update(Channel)
        .where(Channel.id.in_(channel_ids), Channel.state == ChannelState.ACTIVE)
        .values(state=ChannelState.NEEDS_REAUTH)
        .returning(Channel.id, Channel.workspace_id, Channel.network, Channel.name)
    ).all()
    emit_all(
        session,
        [
            Event(
                row.workspace_id,
                EventType.CHANNEL_NEEDS_REAUTH,
                {"channel_id": row.id, "network": row.network, "name": row.name},
            )
            for row in newly_expired
        ],
    )
    return [row.id for row in newly_expired]


def reseal_credentials(session: Session, cipher: CredentialCipher) -> int:
    """Seal every channel's credentials again with the newest secret; how many were resealed."""
    channels = session.scalars(select(Channel).where(Channel.sealed_credentials.is_not(None))).all()
    for channel in channels:
        assert channel.sealed_credentials is not None
        channel.sealed_credentials = cipher.reseal(channel.sealed_credentials)
    return len(channels)


def list_channels(session: Session, workspace_id: uuid.UUID) -> Sequence[Channel]:
    query = select(Channel).where(Channel.workspace_id == workspace_id).order_by(Channel.created_at)
    return session.scalars(query).all()


def account_of(channel: Channel) -> Account:
    """The channel as a network adapter sees it."""
    return Account(channel_id=str(channel.id), handle=channel.handle, settings=dict(channel.settings))


def get_channel(session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    return get_in_workspace(session, Channel, workspace_id, channel_id, "channel")


def change_channel(
    session: Session,
    actor: Actor,
    channel: Channel,
    *,
    name: str | None = None,
    timezone: str | None = None,
    posting_schedule: Mapping[str, Any] | None = None,
    paused: bool | None = None,
) -> Channel:
    """Rename, move to another timezone, set the posting slots, pause or resume."""
    changes: dict[str, Any] = {}
    if name is not None:
        channel.name = changes["name"] = name
    if timezone is not None:
        check_timezone(timezone, pointer="/timezone")
        channel.timezone = changes["timezone"] = timezone
    if posting_schedule is not None:
        schedule = PostingSchedule.from_document(dict(posting_schedule))
        channel.posting_schedule = changes["posting_schedule"] = schedule.to_document()
    if paused is not None:
        if channel.state in {ChannelState.DISCONNECTED, ChannelState.NEEDS_REAUTH} and not paused:
            raise Conflict(f"The channel is {channel.state}: reconnect it with new credentials.")
        if channel.state is not ChannelState.DISCONNECTED:
            channel.state = ChannelState.PAUSED if paused else ChannelState.ACTIVE
            changes["state"] = channel.state.value
    record(session, actor, "channel.changed", "channel", channel.id, **changes)
    return channel


def mark_disconnected(channel: Channel) -> None:
    """Forget the channel's credentials and mark it disconnected (shared.workflow.channels.disconnect_channel
    also cancels what it had waiting to go out)."""
    channel.sealed_credentials = None
    channel.state = ChannelState.DISCONNECTED
