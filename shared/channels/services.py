"""Connecting and listing channels."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.channels.credentials import CredentialCipher
from shared.channels.models import Channel
from shared.errors import InvalidInput, Problem
from shared.networks.ports import Account, Network
from shared.networks.registry import NetworkRegistry, UnknownNetwork


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
        if key not in expected
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
) -> Channel:
    """Store a channel whose options and credentials have the right shape (see verify_and_connect)."""
    check_connection(networks, network, settings, credentials or {})
    if credentials and cipher is None:
        raise ValueError("credentials are only ever stored sealed: pass the cipher")
    channel = Channel(
        workspace_id=workspace_id,
        network=network,
        name=name,
        handle=handle,
        settings=dict(settings),
        sealed_credentials=cipher.seal(credentials) if cipher and credentials else None,
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
