"""Deliveries at a glance: a workspace's, by state, with the latest that went wrong; and the whole queue's,
as /metrics reports it.

The queue's queries read only deliveries still on their way, through the deliveries' indexes (state, and
the partial index of waiting rows by due time): their cost follows what is queued, never the publishing
history.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel, ChannelState
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.services import list_deliveries
from shared.posts.models import Post

# The states in which a delivery waits for a person: refused, or its outcome is uncertain.
TROUBLED_STATES = (DeliveryState.FAILED, DeliveryState.NEEDS_REVIEW, DeliveryState.UNKNOWN)


def count_by_state(session: Session, workspace_id: uuid.UUID) -> dict[DeliveryState, int]:
    """Every state, with how many of the workspace's deliveries are in it (zero included)."""
    counted = session.execute(
        select(Delivery.state, func.count())
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.workspace_id == workspace_id)
        .group_by(Delivery.state)
    )
    counts = dict.fromkeys(DeliveryState, 0)
    counts.update({state: count for state, count in counted})
    return counts


def latest_troubled(session: Session, workspace_id: uuid.UUID, limit: int = 10) -> list[Delivery]:
    """The latest failed, needs_review and unknown deliveries, latest due first.

    Read through list_deliveries, state by state, so the order is the one GET /v1/deliveries?state=… gives.
    """
    troubled: list[Delivery] = []
    for state in TROUBLED_STATES:
        troubled += list_deliveries(session, workspace_id, state=state, limit=limit)
    return _latest_due_first(troubled)[:limit]


def _latest_due_first(deliveries: Sequence[Delivery]) -> list[Delivery]:
    # list_deliveries orders by due_at descending, then id ascending: two stable sorts give the same order.
    by_id = sorted(deliveries, key=lambda delivery: delivery.id)
    return sorted(by_id, key=lambda delivery: delivery.due_at, reverse=True)


# Not yet out: waiting for their time, in flight, being checked with the network, or waiting for a person.
QUEUED_STATES = (
    DeliveryState.SCHEDULED,
    DeliveryState.RETRY_WAIT,
    DeliveryState.ENQUEUED,
    DeliveryState.PUBLISHING,
    DeliveryState.UNKNOWN,
    DeliveryState.NEEDS_REVIEW,
)


@dataclass(frozen=True)
class Overdue:
    """Deliveries a scheduler could claim now but has not: a backlog that should stay near zero."""

    count: int
    oldest_due_at: datetime | None


def count_queued(session: Session) -> dict[DeliveryState, int]:
    """How many deliveries are in each queued state; every queued state is present, zero or not."""
    rows = session.execute(
        select(Delivery.state, func.count()).where(Delivery.state.in_(QUEUED_STATES)).group_by(Delivery.state)
    )
    counts = dict.fromkeys(QUEUED_STATES, 0)
    counts.update({state: count for state, count in rows})
    return counts


def find_overdue(session: Session, *, now: datetime) -> Overdue:
    """Waiting deliveries already due on active channels: what claim_due would take, were it running.

    Those of paused or disconnected channels, or channels that need reconnecting, wait on purpose and are
    left out.
    """
    count, oldest = session.execute(
        select(func.count(), func.min(Delivery.due_at))
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(
            Delivery.state.in_(DeliveryState.waiting()),
            Delivery.due_at <= now,
            Channel.state == ChannelState.ACTIVE,
        )
    ).one()
    return Overdue(count=count, oldest_due_at=oldest)
