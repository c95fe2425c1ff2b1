"""How well a workspace answers: response rate and time to first reply, per channel and per member.

An item counts when it says something to the account (a reply, mention, quote or message; a saved
search's posts do not) and was written within the period. It is answered when a reply made from Crier was
published; its time to first reply runs from when the item was written to when that first reply went out.
The member of an answered item is who wrote its first published reply.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.deliveries.models import Delivery, DeliveryState
from shared.inbox.models import InboxItem, InboxReply, InboxSource, SourceKind
from shared.networks.ports import InboxKind


@dataclass(frozen=True)
class Responsiveness:
    """One row: a channel's or a member's items, how many were answered, and how fast."""

    key: uuid.UUID | None  # the channel's or member's id; None for replies whose member was removed
    items: int
    answered: int
    median_seconds: float | None
    mean_seconds: float | None

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.items if self.items else None


@dataclass(frozen=True)
class _Answered:
    item_id: uuid.UUID
    channel_id: uuid.UUID
    written_at: datetime
    first_reply_at: datetime | None
    member_id: uuid.UUID | None


def responsiveness(
    session: Session, workspace_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[Responsiveness], list[Responsiveness]]:
    """Per channel, then per member (of answered items only), over items written in [start, end)."""
    rows = list(_items(session, workspace_id, start, end))
    by_channel: dict[uuid.UUID | None, list[_Answered]] = defaultdict(list)
    by_member: dict[uuid.UUID | None, list[_Answered]] = defaultdict(list)
    for row in rows:
        by_channel[row.channel_id].append(row)
        if row.first_reply_at is not None:
            by_member[row.member_id].append(row)
    return _rows(by_channel), _rows(by_member)


def _items(session: Session, workspace_id: uuid.UUID, start: datetime, end: datetime) -> Iterable[_Answered]:
    published = (
        select(
            InboxReply.item_id,
            InboxReply.member_id,
            Delivery.published_at,
            func.row_number()
            .over(partition_by=InboxReply.item_id, order_by=(Delivery.published_at, InboxReply.post_id))
            .label("rank"),
        )
        .join(Delivery, Delivery.post_id == InboxReply.post_id)
        .where(Delivery.state == DeliveryState.PUBLISHED, Delivery.published_at.is_not(None))
        .subquery()
    )
    query = (
        select(
            InboxItem.id,
            InboxItem.channel_id,
            InboxItem.created_at,
            published.c.published_at,
            published.c.member_id,
        )
        .join(InboxSource, InboxSource.id == InboxItem.source_id)
        .outerjoin(published, (published.c.item_id == InboxItem.id) & (published.c.rank == 1))
        .where(
            InboxItem.workspace_id == workspace_id,
            InboxSource.kind == SourceKind.INBOX,
            InboxItem.kind != InboxKind.POST,
            InboxItem.created_at >= start,
            InboxItem.created_at < end,
        )
    )
    for item_id, channel_id, written_at, replied_at, member_id in session.execute(query):
        yield _Answered(item_id, channel_id, written_at, replied_at, member_id)


def _rows(groups: dict[uuid.UUID | None, list[_Answered]]) -> list[Responsiveness]:
    rows = []
    for key, items in groups.items():
        waits = [
            max((item.first_reply_at - item.written_at).total_seconds(), 0.0)
            for item in items
            if item.first_reply_at is not None
        ]
        rows.append(
            Responsiveness(
                key=key,
                items=len(items),
                answered=len(waits),
                median_seconds=statistics.median(waits) if waits else None,
                mean_seconds=statistics.fmean(waits) if waits else None,
            )
        )
    return sorted(rows, key=lambda row: (-row.items, str(row.key)))
