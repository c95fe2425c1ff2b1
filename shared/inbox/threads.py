"""An item's thread: what Crier stored of its conversation, and the conversation as its network has it now."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from shared.channels.models import Channel
from shared.channels.opening import Opening, account_with_credentials
from shared.channels.services import account_of
from shared.dependencies import HasNetworks
from shared.inbox.models import InboxItem
from shared.networks.inbox import InboxEntry, ReadsInbox
from shared.networks.registry import UnknownNetwork


class Threading(Opening, HasNetworks, Protocol):
    """What reading a thread from its network uses."""


def stored_thread(session: Session, item: InboxItem) -> Sequence[InboxItem]:
    """The items of the channel in the item's conversation, oldest first, the item included."""
    ids = {item.external_id, *(value for value in (item.thread_root, item.in_reply_to) if value)}
    root = item.thread_root or item.in_reply_to or item.external_id
    conditions: list[ColumnElement[bool]] = [
        InboxItem.external_id.in_(ids),
        InboxItem.thread_root == root,
        InboxItem.in_reply_to == root,
    ]
    return session.scalars(
        select(InboxItem)
        .where(InboxItem.channel_id == item.channel_id, or_(*conditions))
        .order_by(InboxItem.created_at, InboxItem.id)
    ).all()


def network_thread(services: Threading, item: InboxItem) -> Sequence[InboxEntry]:
    """The conversation as the network has it now, oldest first; empty where the network cannot say.

    Failures are the network's (NetworkError kinds): the caller shows the stored thread instead.
    """
    try:
        network = services.networks.get(item.network)
    except UnknownNetwork:
        return []  # its adapter is no longer installed: the stored thread is all there is
    if not isinstance(network, ReadsInbox):
        return []
    with services.sessions() as session:
        channel = session.get_one(Channel, item.channel_id)
        account, sealed = account_of(channel), channel.sealed_credentials
    opened = account_with_credentials(services, account, sealed, network=network)
    return network.read_thread(opened, item.external_id)
