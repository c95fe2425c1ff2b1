"""The queue as the database holds it, read at each scrape.

Each query reads only deliveries still on their way, through the deliveries' indexes (state, and the
partial index of waiting rows by due time): its cost follows what is queued, never the publishing history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel, ChannelState
from shared.deliveries.models import Delivery, DeliveryState

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
