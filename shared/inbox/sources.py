"""The inbox's sources in the database: opening a channel's inbox, claiming what is due, storing a page.

A source is held by one reader at a time: claiming moves its next read past a lease and stamps the claim,
and each page is stored only while that claim stands, with the position after it, in one transaction. A
reader that dies lets go when the lease passes; the page it read and did not store is read again, and an
item is stored once whatever happens (one row per source and network id).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of
from shared.db import affected_rows
from shared.deliveries.models import Delivery, DeliveryPart, DeliveryState
from shared.inbox.models import InboxItem, InboxSource, SourceKind
from shared.metrics.services import CollectionBatch, record_engagement
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.ports import Account, InboxKind
from shared.notifications.models import EventType
from shared.notifications.outbox import emit

# Column widths: a longer name from a network is cut to fit rather than losing the item.
NAME_WIDTH = 300


@dataclass(frozen=True)
class ClaimedSource:
    """A source held for one read: what to read, for which account, and from where."""

    source_id: uuid.UUID
    workspace_id: uuid.UUID
    kind: SourceKind
    network: str
    query: str | None
    position: str | None
    interval_seconds: int
    account: Account
    sealed_credentials: bytes | None
    # The claim's stamp: a page is stored only while the source still carries it.
    claim: datetime

    @property
    def channel_id(self) -> uuid.UUID:
        return uuid.UUID(self.account.channel_id)


def open_channel_inboxes(session: Session, networks: Collection[str], *, now: datetime) -> int:
    """Give every connected channel of these networks its inbox, read first at once. Returns how many."""
    if not networks:
        return 0
    missing = session.execute(
        select(Channel.id, Channel.workspace_id).where(
            Channel.network.in_(networks),
            Channel.state != ChannelState.DISCONNECTED,
            ~exists().where(InboxSource.channel_id == Channel.id, InboxSource.kind == SourceKind.INBOX),
        )
    ).all()
    opened = 0
    for channel_id, workspace_id in missing:
        try:
            # Another reader may open the same inbox at the same moment: the unique index keeps one.
            with session.begin_nested():
                session.add(
                    InboxSource(
                        workspace_id=workspace_id,
                        channel_id=channel_id,
                        kind=SourceKind.INBOX,
                        next_read_at=now,
                    )
                )
            opened += 1
        except IntegrityError:
            continue
    return opened


def channel_inbox(session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID) -> InboxSource | None:
    """The channel's inbox, once a read has opened it; None before (or for a network with none)."""
    return session.scalars(
        select(InboxSource).where(
            InboxSource.workspace_id == workspace_id,
            InboxSource.channel_id == channel_id,
            InboxSource.kind == SourceKind.INBOX,
        )
    ).one_or_none()


def claim_due_sources(
    session: Session, *, now: datetime, limit: int, lease: timedelta, source_id: uuid.UUID | None = None
) -> list[ClaimedSource]:
    """Sources of active channels whose read is due (or the one asked for), each held for `lease`."""
    query = (
        select(InboxSource, Channel)
        .join(Channel, Channel.id == InboxSource.channel_id)
        .where(Channel.state == ChannelState.ACTIVE)
        .order_by(InboxSource.next_read_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=InboxSource)
    )
    if source_id is None:
        query = query.where(InboxSource.next_read_at <= now)
    else:
        query = query.where(InboxSource.id == source_id)
    claimed = []
    for source, channel in session.execute(query).all():
        source.next_read_at = now + lease
        source.claimed_until = now + lease
        claimed.append(
            ClaimedSource(
                source_id=source.id,
                workspace_id=source.workspace_id,
                kind=source.kind,
                network=channel.network,
                query=source.query,
                position=source.position,
                interval_seconds=source.interval_seconds,
                account=account_of(channel),
                sealed_credentials=channel.sealed_credentials,
                claim=now + lease,
            )
        )
    return claimed


def store_page(session: Session, source: ClaimedSource, page: InboxPage, *, now: datetime) -> list[InboxItem]:
    """Store the page's new items and the position after it; none when the claim was lost meanwhile.

    An item already stored (read again after a crash, or twice in one page) is left as it is: a member may
    have worked it since.
    """
    moved = session.execute(
        update(InboxSource)
        .where(InboxSource.id == source.source_id, InboxSource.claimed_until == source.claim)
        .values(position=page.position)
    )
    if affected_rows(moved) == 0:
        return []
    entries = _first_of_each(page.entries)
    stored = set(
        session.scalars(
            select(InboxItem.external_id).where(
                InboxItem.source_id == source.source_id,
                InboxItem.external_id.in_([entry.external_id for entry in entries]),
            )
        )
    )
    if page.engagement:
        _keep_engagement(session, source, page, now)
    fresh = [entry for entry in entries if entry.external_id not in stored]
    answered = _crier_posts_among(session, source.channel_id, _ids_answered(fresh))
    items = [_item(source, entry, answered, now) for entry in fresh]
    session.add_all(items)
    session.flush()
    if source.kind is SourceKind.INBOX:
        for item in items:
            emit(session, source.workspace_id, EventType.INBOX_ITEM_RECEIVED, event_payload(item))
    return items


def finish_read(
    session: Session,
    source: ClaimedSource,
    *,
    now: datetime,
    next_in: timedelta,
    interval_seconds: int,
    error: str | None,
) -> None:
    """Let go of the source: its next read, its interval, and what went wrong, if anything did."""
    session.execute(
        update(InboxSource)
        .where(InboxSource.id == source.source_id, InboxSource.claimed_until == source.claim)
        .values(
            claimed_until=None,
            next_read_at=now + next_in,
            interval_seconds=interval_seconds,
            last_read_at=now,
            last_error=error,
        )
    )


def _keep_engagement(session: Session, source: ClaimedSource, page: InboxPage, now: datetime) -> None:
    """Store the counts the page carried for the channel's published posts, as a metrics reading would."""
    deliveries = {
        external_id: delivery_id
        for external_id, delivery_id in session.execute(
            select(Delivery.external_id, Delivery.id).where(
                Delivery.channel_id == source.channel_id,
                Delivery.state == DeliveryState.PUBLISHED,
                Delivery.external_id.in_(list(page.engagement)),
            )
        )
        if external_id is not None
    }
    if deliveries:
        batch = CollectionBatch(source.network, source.account, deliveries)
        record_engagement(session, batch, page.engagement, now=now)


def event_payload(item: InboxItem) -> dict[str, object]:
    """What a webhook receiver is told of an item: enough to show it and find it in the API."""
    return {
        "item_id": item.id,
        "channel_id": item.channel_id,
        "network": item.network,
        "kind": item.kind,
        "external_id": item.external_id,
        "url": item.url,
        "author": {"handle": item.author_handle, "display_name": item.author_name},
        "text": item.plain_text,
        "created_at": item.created_at,
        "post_id": item.post_id,
        "delivery_id": item.delivery_id,
        "assignee_id": item.assignee_id,
    }


def _first_of_each(entries: Iterable[InboxEntry]) -> list[InboxEntry]:
    by_id: dict[str, InboxEntry] = {}
    for entry in entries:
        by_id.setdefault(entry.external_id, entry)
    return list(by_id.values())


def _ids_answered(entries: Sequence[InboxEntry]) -> set[str]:
    return {
        external_id
        for entry in entries
        for external_id in (entry.in_reply_to, entry.quotes, entry.thread_root)
        if external_id is not None
    }


def _crier_posts_among(
    session: Session, channel_id: uuid.UUID, external_ids: Collection[str]
) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
    """The delivery and post that made each of these network ids on the channel, when Crier made it.

    A thread's later parts count: a reply to the third post of a thread answers that delivery.
    """
    if not external_ids:
        return {}
    made = select(Delivery.external_id, Delivery.id, Delivery.post_id).where(
        Delivery.channel_id == channel_id, Delivery.external_id.in_(external_ids)
    )
    parts = (
        select(DeliveryPart.external_id, Delivery.id, Delivery.post_id)
        .join(Delivery, Delivery.id == DeliveryPart.delivery_id)
        .where(Delivery.channel_id == channel_id, DeliveryPart.external_id.in_(external_ids))
    )
    found: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
    for external_id, delivery_id, post_id in [*session.execute(made), *session.execute(parts)]:
        if external_id is not None:
            found.setdefault(external_id, (delivery_id, post_id))
    return found


def _item(
    source: ClaimedSource,
    entry: InboxEntry,
    answered: dict[str, tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
) -> InboxItem:
    # What it answers or quotes first; a reply deeper in a thread Crier started is the thread's.
    crier = next(
        (
            answered[external_id]
            for external_id in (entry.in_reply_to, entry.quotes, entry.thread_root)
            if external_id is not None and external_id in answered
        ),
        None,
    )
    return InboxItem(
        workspace_id=source.workspace_id,
        source_id=source.source_id,
        channel_id=source.channel_id,
        network=source.network,
        kind=entry.kind if source.kind is SourceKind.INBOX else InboxKind.POST,
        external_id=entry.external_id,
        url=entry.url,
        author_handle=entry.author.handle[:NAME_WIDTH],
        author_name=(entry.author.display_name or None) and entry.author.display_name[:NAME_WIDTH],
        author_avatar_url=entry.author.avatar_url,
        author_url=entry.author.url,
        text=entry.text,
        plain_text=entry.plain_text,
        created_at=entry.created_at,
        received_at=now,
        in_reply_to=entry.in_reply_to,
        quotes=entry.quotes,
        thread_root=entry.thread_root,
        reply_target=entry.reply_target.to_json(),
        delivery_id=crier[0] if crier else None,
        post_id=crier[1] if crier else None,
    )
