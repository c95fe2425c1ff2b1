"""The scheduler's side of the state machine: claiming due deliveries, and the sweeps behind it.

- scheduled or retry_wait, once due → enqueued (claim_due: a lease and a new claim number); coming due too
  long after its time → missed (mark_missed).
- enqueued whose message never started an attempt before its lease ran out → enqueued again under a new
  claim number, which makes the old message stale (reclaim_lost).
- publishing whose lease ran out → unknown (expire_stalled_attempts).

A worker ends a claim by end_claim, which changes the delivery only while that claim still holds it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Update, Uuid, any_, cast, exists, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shared.channels.models import Channel, ChannelState
from shared.db import affected_rows
from shared.deliveries.models import Delivery, DeliveryPart, DeliveryState


@dataclass(frozen=True)
class Claim:
    """A delivery a scheduler has claimed: the message to send names it and its claim number."""

    delivery_id: uuid.UUID
    attempt: int
    due_at: datetime


def mark_missed(session: Session, *, now: datetime, lookahead: timedelta, max_lateness: timedelta) -> int:
    """Give up on waiting deliveries that come due more than `max_lateness` after their time.

    After downtime, or a channel reconnected days later, a post is not fired late without saying so: it
    is marked missed, and a person may still publish it (retry_delivery). A thread with parts already out
    is never missed: what is out there is finished, however late.
    """
    missed = session.execute(
        update(Delivery)
        .where(
            Delivery.state.in_(DeliveryState.waiting()),
            Delivery.due_at <= now + lookahead,
            Delivery.scheduled_at < now - max_lateness,
            ~exists().where(DeliveryPart.delivery_id == Delivery.id),
        )
        .values(
            state=DeliveryState.MISSED,
            last_error=f"Not published: it could not go out within {_minutes(max_lateness)} of its time.",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return affected_rows(missed)


def _minutes(duration: timedelta) -> str:
    minutes = duration.total_seconds() / 60
    return f"{minutes:g} minute" + ("" if minutes == 1 else "s")


def claim_due(
    session: Session, *, now: datetime, lookahead: timedelta, batch_size: int, lease: timedelta
) -> list[Claim]:
    """Move up to `batch_size` due deliveries to enqueued, oldest first, and return them.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets replicas claim disjoint batches at once. SQLAlchemy drops
    that clause on SQLite, where the engine starts every transaction with BEGIN IMMEDIATE instead, so a
    claim there holds the database's write lock from its first read (see shared.db.create_db_engine).
    Deliveries of a channel that is not active (needs reconnecting, paused) wait.
    """
    due = (
        select(Delivery.id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(
            Delivery.state.in_(DeliveryState.waiting()),
            Delivery.due_at <= now + lookahead,
            Channel.state == ChannelState.ACTIVE,
        )
        .order_by(Delivery.due_at)
        .limit(batch_size)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    claimed = session.execute(
        _locked_batch_update(session, due)
        .values(
            state=DeliveryState.ENQUEUED,
            attempt=Delivery.attempt + 1,
            lease_expires_at=now + lease,
            updated_at=now,
        )
        .returning(Delivery.id, Delivery.attempt, Delivery.due_at)
    ).all()
    return sorted((Claim(*row) for row in claimed), key=lambda claim: claim.due_at)


def reclaim_lost(session: Session, *, now: datetime, batch_size: int, lease: timedelta) -> list[Claim]:
    """Re-claim enqueued deliveries whose message never started an attempt before its lease ran out.

    The message may have been lost with a flushed broker; a new claim number makes the old message stale
    should it still arrive, so the delivery is attempted once either way.
    """
    expired = (
        select(Delivery.id)
        .where(Delivery.state == DeliveryState.ENQUEUED, Delivery.lease_expires_at < now)
        .order_by(Delivery.lease_expires_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    reclaimed = session.execute(
        _locked_batch_update(session, expired)
        .values(attempt=Delivery.attempt + 1, lease_expires_at=now + lease, updated_at=now)
        .returning(Delivery.id, Delivery.attempt, Delivery.due_at)
    ).all()
    return [Claim(*row) for row in reclaimed]


def _locked_batch_update(session: Session, batch: Select[Any]) -> Update:
    """An UPDATE of exactly the rows `batch` selects (and, on PostgreSQL, locks), found by their keys.

    On PostgreSQL the batch's ids are gathered into one array by an uncorrelated subquery, which runs once:
    with `id IN (subquery)` the planner may run the subquery more than once, and under SKIP LOCKED each run
    can pick other rows, so one statement claimed more than its LIMIT (seen here: 5 rows with a limit of
    2); joined as a common table expression, it hashed the whole table for every batch instead. The UPDATE
    repeats none of the batch's conditions: its rows are locked (on SQLite the whole database is), so
    they still hold.
    """
    if session.get_bind().dialect.name == "postgresql":
        locked = batch.subquery("batch")
        # The cast makes it `= ANY(array)`, not `= ANY(subquery)`, which is the IN-subquery again.
        ids = cast(select(func.array_agg(locked.c.id)).scalar_subquery(), ARRAY(Uuid))
        matches = Delivery.id == any_(ids)
    else:
        matches = Delivery.id.in_(batch.scalar_subquery())
    return update(Delivery).where(matches).execution_options(synchronize_session=False)


def expire_stalled_attempts(session: Session, *, now: datetime) -> int:
    """Mark publishing deliveries whose lease ran out as unknown: the worker died mid-call, or hangs.

    The network may have the post; only a check with the network (or a person) may decide what follows.
    """
    expired = session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.PUBLISHING, Delivery.lease_expires_at < now)
        .values(
            state=DeliveryState.UNKNOWN,
            last_error="The publish attempt did not report back before its lease expired.",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return affected_rows(expired)


def end_claim(
    session: Session,
    delivery_id: uuid.UUID,
    attempt: int,
    held_in: DeliveryState,
    *,
    now: datetime,
    **values: object,
) -> bool:
    """Write `values` and let the lease go, if claim `attempt` still holds the delivery in `held_in`.

    Whether it did: a message for an older claim, or a second worker, finds the delivery moved on.
    """
    ended = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.attempt == attempt, Delivery.state == held_in)
        .values(lease_expires_at=None, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(ended) == 1
