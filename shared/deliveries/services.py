"""The delivery state machine. Every transition is a conditional UPDATE (compare-and-set).

A delivery moves scheduled → enqueued (a scheduler claimed it and sent a message) → publishing (an
attempt row is committed before the network is called) → published | failed | unknown, or back to
scheduled for a retry. Each UPDATE names the state (and the claim number) it expects, so two schedulers,
a redelivered message or a message for an old claim change nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Update, func, select, update
from sqlalchemy.orm import Session

from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of
from shared.db import affected_rows
from shared.deliveries.models import AttemptOutcome, Delivery, DeliveryState, PublishAttempt
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    NetworkError,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)
from shared.posts.models import Post

RATE_LIMIT_DEFAULT_WAIT = timedelta(seconds=60)
RETRY_BACKOFF_CAP = timedelta(minutes=10)


@dataclass(frozen=True)
class Claim:
    """A delivery a scheduler has claimed: the message to send names it and its claim number."""

    delivery_id: uuid.UUID
    attempt: int
    due_at: datetime


@dataclass(frozen=True)
class PublishJob:
    """Everything one publish attempt needs, read inside the transaction that started it."""

    delivery_id: uuid.UUID
    attempt: int
    network: str
    account: Account
    draft: Draft

    @property
    def idempotency_key(self) -> str:
        # The same for every attempt of one delivery, so a network that honours keys dedupes retries.
        return str(self.delivery_id)


def claim_due(
    session: Session, *, now: datetime, lookahead: timedelta, batch_size: int, lease: timedelta
) -> list[Claim]:
    """Move up to `batch_size` due deliveries to enqueued, oldest first, and return them.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets replicas claim disjoint batches at once. SQLAlchemy drops
    that clause on SQLite, where the engine starts every transaction with BEGIN IMMEDIATE instead, so a
    claim there holds the database's write lock from its first read (see shared.db.create_db_engine).
    """
    due = (
        select(Delivery.id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(
            Delivery.state == DeliveryState.SCHEDULED,
            Delivery.due_at <= now + lookahead,
            Channel.state == ChannelState.ACTIVE,
        )
        .order_by(Delivery.due_at)
        .limit(batch_size)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    claimed = session.execute(
        _locked_batch_update(due)
        .where(Delivery.state == DeliveryState.SCHEDULED)
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
        .order_by(Delivery.due_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    reclaimed = session.execute(
        _locked_batch_update(expired)
        .where(Delivery.state == DeliveryState.ENQUEUED)
        .values(attempt=Delivery.attempt + 1, lease_expires_at=now + lease, updated_at=now)
        .returning(Delivery.id, Delivery.attempt, Delivery.due_at)
    ).all()
    return [Claim(*row) for row in reclaimed]


def _locked_batch_update(batch: Select[Any]) -> Update:
    """An UPDATE of exactly the rows `batch` selects and locks.

    The batch is a MATERIALIZED common table expression joined with UPDATE … FROM, not `id IN (subquery)`:
    PostgreSQL may run an IN-subquery more than once, and with SKIP LOCKED each run can pick other rows,
    so one statement could claim more than its LIMIT (seen here: 5 rows claimed with a limit of 2).
    """
    locked = batch.cte("batch").prefix_with("MATERIALIZED", dialect="postgresql")
    return update(Delivery).where(Delivery.id == locked.c.id).execution_options(synchronize_session=False)


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


def begin_attempt(
    session: Session, delivery_id: uuid.UUID, attempt: int, *, now: datetime, lease: timedelta
) -> PublishJob | None:
    """Move the delivery to publishing if it is still the claim this message was sent for.

    Returns None for a stale or repeated message: the caller acknowledges it and does nothing.
    """
    started = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.state == DeliveryState.ENQUEUED,
            Delivery.attempt == attempt,
        )
        .values(state=DeliveryState.PUBLISHING, lease_expires_at=now + lease, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(started) != 1:
        return None
    session.add(PublishAttempt(delivery_id=delivery_id, number=attempt, started_at=now))
    delivery = session.get_one(Delivery, delivery_id)
    return PublishJob(
        delivery_id=delivery_id,
        attempt=attempt,
        network=delivery.channel.network,
        account=account_of(delivery.channel),
        draft=Draft(text=delivery.post.text),
    )


def finish_attempt(
    session: Session,
    job: PublishJob,
    result: PublishedPost | NetworkError,
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None = None,
) -> DeliveryState | None:
    """Record what the network answered and move the delivery on. Returns the new state.

    A late success is recorded even when the attempt was meanwhile marked unknown: it is the evidence
    that state was waiting for.
    """
    outcome, state, values = _transition(session, job, result, now=now, max_attempts=max_attempts, rng=rng)
    session.execute(
        update(PublishAttempt)
        .where(PublishAttempt.delivery_id == job.delivery_id, PublishAttempt.number == job.attempt)
        .values(
            finished_at=now,
            outcome=outcome,
            error=None if isinstance(result, PublishedPost) else _describe(result),
        )
        .execution_options(synchronize_session=False)
    )
    moved = session.execute(
        update(Delivery)
        .where(
            Delivery.id == job.delivery_id,
            Delivery.attempt == job.attempt,
            Delivery.state.in_([DeliveryState.PUBLISHING, DeliveryState.UNKNOWN]),
        )
        .values(state=state, updated_at=now, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    if outcome is AttemptOutcome.AUTH_EXPIRED:
        session.execute(
            update(Channel)
            .where(Channel.id == uuid.UUID(job.account.channel_id))
            .values(state=ChannelState.NEEDS_REAUTH)
        )
    return state if affected_rows(moved) == 1 else None


def _transition(
    session: Session,
    job: PublishJob,
    result: PublishedPost | NetworkError,
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None,
) -> tuple[AttemptOutcome, DeliveryState, dict[str, object]]:
    """What an attempt's result means: its outcome, the delivery's next state, and the columns to set."""
    if isinstance(result, PublishedPost):
        return (
            AttemptOutcome.PUBLISHED,
            DeliveryState.PUBLISHED,
            {
                "external_id": result.external_id,
                "external_url": result.url,
                "published_at": now,
                "last_error": None,
            },
        )
    error = _describe(result)
    if isinstance(result, RateLimited):
        # Waiting for the network's reset is not a failure of ours: it does not use up an attempt.
        wait_until = result.reset_at or now + RATE_LIMIT_DEFAULT_WAIT
        return (
            AttemptOutcome.RATE_LIMITED,
            DeliveryState.SCHEDULED,
            {
                "due_at": max(wait_until, now),
                "last_error": error,
            },
        )
    if isinstance(result, Transient):
        failures = 1 + _count_transient_failures(session, job.delivery_id)
        if failures >= max_attempts:
            return (
                AttemptOutcome.TRANSIENT,
                DeliveryState.FAILED,
                {
                    "last_error": f"Gave up after {failures} attempts. Last error: {error}",
                },
            )
        return (
            AttemptOutcome.TRANSIENT,
            DeliveryState.SCHEDULED,
            {
                "due_at": now + retry_delay(failures, rng or random.Random()),
                "last_error": error,
            },
        )
    if isinstance(result, Rejected):
        return AttemptOutcome.REJECTED, DeliveryState.FAILED, {"last_error": error}
    if isinstance(result, AuthExpired):
        return (
            AttemptOutcome.AUTH_EXPIRED,
            DeliveryState.FAILED,
            {
                "last_error": f"{error} Reconnect the channel, then retry this delivery.",
            },
        )
    # OutcomeUnknown, and any error we cannot classify: the post may exist. Never guess.
    return AttemptOutcome.UNKNOWN, DeliveryState.UNKNOWN, {"last_error": error}


def _count_transient_failures(session: Session, delivery_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        PublishAttempt.delivery_id == delivery_id, PublishAttempt.outcome == AttemptOutcome.TRANSIENT
    )
    return session.scalar(query) or 0


def retry_delay(failures: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, so retries of many deliveries do not arrive together."""
    base = min(timedelta(seconds=5 * 2 ** (failures - 1)), RETRY_BACKOFF_CAP)
    return base * rng.uniform(0.5, 1.5)


def _describe(error: NetworkError) -> str:
    return str(error) or type(error).__name__


def list_deliveries(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    state: DeliveryState | None = None,
    limit: int = 100,
) -> Sequence[Delivery]:
    query = (
        select(Delivery)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.workspace_id == workspace_id)
        .order_by(Delivery.due_at.desc(), Delivery.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(Delivery.state == state)
    return session.scalars(query).all()
