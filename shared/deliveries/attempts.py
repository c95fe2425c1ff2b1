"""Publish attempts: a claimed delivery moves to publishing, then on by what its network answered.

- enqueued → publishing (begin_attempts: an attempt row committed before the network call), or back to
  scheduled when Crier's own rate limit holds it (defer).
- publishing → published | failed (refused, or attempts spent) | retry_wait (transient) | scheduled (rate
  limited; or the credentials expired, and it waits for the channel to be reconnected) | unknown (the
  request may have reached the network) — finish_attempts. A late success also settles an unknown one.

Each UPDATE names the state and the claim number it expects, so a redelivered message or a message for an
old claim changes nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, bindparam, func, insert, select, tuple_, update
from sqlalchemy.orm import Session, joinedload

from shared.channels.services import account_of, ask_for_reconnection
from shared.db import UTCDateTime, table_of
from shared.deliveries.announcing import announce_deliveries
from shared.deliveries.claiming import end_claim
from shared.deliveries.drafting import SentDrafts
from shared.deliveries.models import AttemptOutcome, Delivery, DeliveryState, PublishAttempt
from shared.deliveries.outcomes import (
    RATE_LIMIT_DEFAULT_WAIT,
    after_failure,
    describe_error,
    parts_out_there,
    published_values,
)
from shared.deliveries.parts import confirmed_parts, parts_of, record_parts
from shared.media.ports import MediaStorage
from shared.media.public_addresses import PublicAddresses
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    NetworkError,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)


@dataclass(frozen=True)
class PublishJob:
    """Everything one publish attempt needs, read from the database before the network is called."""

    delivery_id: uuid.UUID
    attempt: int
    due_at: datetime
    # When it was meant to go out; how late it went is measured from here.
    scheduled_at: datetime
    failures: int
    network: str
    account: Account
    draft: Draft
    # The channel's credentials as stored: opened only for the network call (shared.credentials).
    sealed_credentials: bytes | None = field(default=None, repr=False)
    # The parts an earlier attempt made (a thread stopped midway): this attempt makes only the rest.
    published: tuple[PublishedPart, ...] = ()

    @property
    def idempotency_key(self) -> str:
        # The same for every attempt of one delivery, so a network that honours keys dedupes retries.
        return str(self.delivery_id)


def read_claimed(
    session: Session,
    claims: Sequence[tuple[uuid.UUID, int]],
    *,
    public_url: str | None = None,
    media: MediaStorage | None = None,
    addresses: PublicAddresses | None = None,
) -> list[PublishJob]:
    """The claimed deliveries still enqueued under these claim numbers; stale claims are left out.

    `public_url` is where short links are served, for channels whose links are shortened; `media` is where
    the posts' attachments are kept; `addresses` makes their public addresses, for networks that fetch them.
    """
    if not claims:
        return []
    drafts = SentDrafts(session, public_url, media, addresses)
    query = (
        select(Delivery)
        .where(tuple_(Delivery.id, Delivery.attempt).in_(claims), Delivery.state == DeliveryState.ENQUEUED)
        # Oldest first, so a rate limit lets a channel's earliest posts through and holds back the later.
        .order_by(Delivery.due_at, Delivery.id)
    )
    return [
        PublishJob(
            delivery_id=delivery.id,
            attempt=delivery.attempt,
            due_at=delivery.due_at,
            scheduled_at=delivery.scheduled_at,
            failures=delivery.failures,
            network=delivery.channel.network,
            account=account_of(delivery.channel),
            draft=drafts.of(delivery),
            sealed_credentials=delivery.channel.sealed_credentials,
            published=parts_of(delivery),
        )
        for delivery in session.scalars(query.options(joinedload(Delivery.post)))
    ]


def defer(session: Session, job: PublishJob, *, until: datetime, reason: str, now: datetime) -> bool:
    """Give a claim back, to be claimed again at `until`. For Crier's own rate limits: not a failure."""
    return end_claim(
        session,
        job.delivery_id,
        job.attempt,
        DeliveryState.ENQUEUED,
        now=now,
        state=DeliveryState.SCHEDULED,
        due_at=until,
        last_error=reason,
    )


def begin_attempts(
    session: Session, jobs: Sequence[PublishJob], *, now: datetime, lease: timedelta
) -> list[PublishJob]:
    """Move to publishing the jobs whose delivery is still enqueued under their claim number.

    Each gets an attempt row in the same transaction, committed before any network call: a crash in the
    call leaves the delivery in publishing with an unfinished attempt, which the sweep turns into unknown.
    Returns the jobs that may call the network; a stale or repeated message gets none.
    """
    if not jobs:
        return []
    started = set(
        session.scalars(
            update(Delivery)
            .where(
                tuple_(Delivery.id, Delivery.attempt).in_([(job.delivery_id, job.attempt) for job in jobs]),
                Delivery.state == DeliveryState.ENQUEUED,
            )
            .values(state=DeliveryState.PUBLISHING, lease_expires_at=now + lease, updated_at=now)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
    )
    startable = [job for job in jobs if job.delivery_id in started]
    if startable:
        session.execute(
            insert(PublishAttempt),
            [
                {"id": uuid.uuid4(), "delivery_id": job.delivery_id, "number": job.attempt, "started_at": now}
                for job in startable
            ],
        )
    return startable


def begin_attempt(
    session: Session, delivery_id: uuid.UUID, attempt: int, *, now: datetime, lease: timedelta
) -> PublishJob | None:
    """begin_attempts for one claim: its job, or None for a stale or repeated message."""
    started = begin_attempts(session, read_claimed(session, [(delivery_id, attempt)]), now=now, lease=lease)
    return started[0] if started else None


_deliveries = table_of(Delivery)
_attempts = table_of(PublishAttempt)

# Built once: finishing is the hot path of publishing, and building the statements per delivery cost more
# than running them. Columns an outcome does not change are passed their current values (coalesce keeps
# what a failure does not know).
_FINISH_ATTEMPTS = (
    update(_attempts)
    .where(_attempts.c.delivery_id == bindparam("b_delivery_id"), _attempts.c.number == bindparam("b_number"))
    .values(finished_at=bindparam("b_now"), outcome=bindparam("b_outcome"), error=bindparam("b_error"))
)
_FINISH_DELIVERY = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("b_delivery_id"),
        _deliveries.c.attempt == bindparam("b_number"),
        # A late success is recorded even when the attempt was meanwhile marked unknown: it is the
        # evidence that state was waiting for.
        _deliveries.c.state.in_([DeliveryState.PUBLISHING, DeliveryState.UNKNOWN]),
    )
    .values(
        state=bindparam("b_state"),
        updated_at=bindparam("b_now"),
        lease_expires_at=None,
        due_at=bindparam("b_due_at"),
        failures=bindparam("b_failures"),
        last_error=bindparam("b_last_error"),
        external_id=func.coalesce(bindparam("b_external_id", type_=String()), _deliveries.c.external_id),
        external_url=func.coalesce(bindparam("b_external_url", type_=Text()), _deliveries.c.external_url),
        published_at=func.coalesce(
            bindparam("b_published_at", type_=UTCDateTime()), _deliveries.c.published_at
        ),
        metrics_due_at=func.coalesce(
            bindparam("b_metrics_due_at", type_=UTCDateTime()), _deliveries.c.metrics_due_at
        ),
    )
)


def finish_attempts(
    session: Session,
    finished: Sequence[tuple[PublishJob, PublishedPost | NetworkError]],
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None = None,
) -> dict[uuid.UUID, DeliveryState | None]:
    """Record what the network answered for each job and move its delivery on.

    Returns each delivery's new state, or None where the delivery had moved on meanwhile (a person
    resolved it, say): then only the attempt row (and any part the network confirmed) records the answer.
    """
    if not finished:
        return {}
    connection = session.connection()
    rows: list[dict[str, Any]] = []
    for job, result in finished:
        parts = confirmed_parts(result)
        record_parts(session, job.delivery_id, parts, now)
        outcome, state, values = _transition(job, result, now=now, max_attempts=max_attempts, rng=rng)
        error = None if isinstance(result, PublishedPost) else describe_error(result)
        rows.append(
            {
                "b_delivery_id": job.delivery_id,
                "b_number": job.attempt,
                "b_now": now,
                "b_outcome": outcome,
                "b_error": error,
                "b_state": state,
                "b_due_at": values.get("due_at", job.due_at),
                "b_failures": values.get("failures", job.failures),
                "b_last_error": values.get("last_error"),
                # The post's own address as soon as the network confirms it, thread finished or not.
                "b_external_id": parts[0].external_id if parts else None,
                "b_external_url": parts[0].url if parts else None,
                "b_published_at": values.get("published_at"),
                "b_metrics_due_at": values.get("metrics_due_at"),
            }
        )
    connection.execute(_FINISH_ATTEMPTS, rows)
    states: dict[uuid.UUID, DeliveryState | None] = {}
    for row in rows:
        moved = connection.execute(_FINISH_DELIVERY, row)
        states[row["b_delivery_id"]] = row["b_state"] if moved.rowcount == 1 else None
    ask_for_reconnection(
        session,
        {uuid.UUID(job.account.channel_id) for job, result in finished if isinstance(result, AuthExpired)},
    )
    announce_deliveries(session, states)
    return states


def finish_attempt(
    session: Session,
    job: PublishJob,
    result: PublishedPost | NetworkError,
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None = None,
) -> DeliveryState | None:
    """finish_attempts for one job: the delivery's new state, or None if it had moved on."""
    states = finish_attempts(session, [(job, result)], now=now, max_attempts=max_attempts, rng=rng)
    return states[job.delivery_id]


def attempt_outcome(result: PublishedPost | NetworkError) -> AttemptOutcome:
    """The outcome an attempt's result is recorded with; the same as _transition's."""
    if isinstance(result, PublishedPost):
        return AttemptOutcome.PUBLISHED
    if isinstance(result, RateLimited):
        return AttemptOutcome.RATE_LIMITED
    if isinstance(result, Transient):
        return AttemptOutcome.TRANSIENT
    if isinstance(result, Rejected):
        return AttemptOutcome.REJECTED
    if isinstance(result, AuthExpired):
        return AttemptOutcome.AUTH_EXPIRED
    return AttemptOutcome.UNKNOWN


def _transition(
    job: PublishJob,
    result: PublishedPost | NetworkError,
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None,
) -> tuple[AttemptOutcome, DeliveryState, dict[str, object]]:
    """What an attempt's result means: its outcome, the delivery's next state, and the columns to set."""
    if isinstance(result, PublishedPost):
        return AttemptOutcome.PUBLISHED, DeliveryState.PUBLISHED, published_values(result, fallback=now)
    error = describe_error(result)
    out_there = result.published or job.published
    if out_there:
        error = f"{parts_out_there(out_there, job.draft)} {error}"
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
        return (
            AttemptOutcome.TRANSIENT,
            *after_failure(job.failures, error, now, max_attempts, rng, out_there=bool(out_there)),
        )
    if isinstance(result, Rejected):
        if out_there:
            # Part of it is out there and the rest was refused: neither published nor failed.
            return AttemptOutcome.REJECTED, DeliveryState.NEEDS_REVIEW, {"last_error": error}
        return AttemptOutcome.REJECTED, DeliveryState.FAILED, {"last_error": error}
    if isinstance(result, AuthExpired):
        # It waits, due as before: once the channel is reconnected it goes out (or, if too late, is missed).
        return (
            AttemptOutcome.AUTH_EXPIRED,
            DeliveryState.SCHEDULED,
            {
                "last_error": f"{error} Waiting for the channel to be reconnected.",
            },
        )
    # OutcomeUnknown, and any error we cannot classify: the post may exist. Never guess: check first.
    return AttemptOutcome.UNKNOWN, DeliveryState.UNKNOWN, {"last_error": error}
