"""Connecting and listing channels."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.errors import InvalidInput, Problem
from shared.networks.ports import Account
from shared.networks.registry import NetworkRegistry, UnknownNetwork


def connect_channel(
    session: Session,
    networks: NetworkRegistry,
    workspace_id: uuid.UUID,
    *,
    network: str,
    name: str,
    handle: str,
    settings: Mapping[str, Any],
) -> Channel:
    try:
        adapter = networks.get(network)
    except UnknownNetwork as error:
        raise InvalidInput([Problem("/network", str(error))]) from error
    problems = adapter.check_settings(settings)
    if problems:
        raise InvalidInput([Problem("/settings", problem) for problem in problems])
    channel = Channel(
        workspace_id=workspace_id, network=network, name=name, handle=handle, settings=dict(settings)
    )
    session.add(channel)
    session.flush()
    return channel


def list_channels(session: Session, workspace_id: uuid.UUID) -> Sequence[Channel]:
    query = select(Channel).where(Channel.workspace_id == workspace_id).order_by(Channel.created_at)
    return session.scalars(query).all()


def account_of(channel: Channel) -> Account:
    """The channel as a network adapter sees it."""
    return Account(channel_id=str(channel.id), handle=channel.handle, settings=dict(channel.settings))
