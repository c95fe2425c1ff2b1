"""A workspace's deliveries at a glance: how many are in each state, and the latest that went wrong."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
