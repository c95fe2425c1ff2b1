"""The delivery state machine. Every transition is a conditional UPDATE (compare-and-set).

- scheduled or retry_wait, once due → enqueued (a scheduler's claim, with a lease and a claim number);
  if it comes due too long after its time → missed.
- enqueued → publishing (an attempt row committed before the network call); if the message is lost,
  the lease runs out and it is claimed again under a new number, which makes the old message stale.
- publishing → published | failed (refused, or attempts spent) | retry_wait (transient) | scheduled
  (rate limited; or the credentials expired, and it waits for the channel to be reconnected) | unknown
  (the request may have reached the network; also when the attempt outlives its lease).
- unknown → checked with the network → published | retry_wait (nothing there; or a thread found in part,
  to be finished from its last part); when the network's answer cannot settle it, at once, or when it
  does not answer for long → needs_review.
- Each part a delivery makes on the network (the post, each reply of its thread) is recorded in
  delivery_parts as soon as the network confirms it, whatever happens next: a later attempt goes on from
  the last part, and a delivery with parts out there is never called failed — a person reviews it.
- A person may retry (failed, missed, cancelled), republish or mark published (unknown, needs_review),
  or cancel (anything not yet out and not uncertain).
- scheduled, unclaimed, nothing of it out → withdrawn (deleted): its post is being rescheduled, or was
  changed after approval by a member who may not publish and waits for an approver again.

Each UPDATE names the state (and the claim number) it expects, so two schedulers, a redelivered message
or a message for an old claim change nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    String,
    Text,
    Update,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, joinedload

from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of
from shared.db import UTCDateTime, affected_rows, insert_on_conflict, table_of
from shared.deliveries.announcing import announce_deliveries, announce_reauth
from shared.deliveries.drafting import SentDrafts
from shared.deliveries.models import (
    AttemptOutcome,
    Delivery,
    DeliveryPart,
    DeliveryState,
    PublishAttempt,
)
from shared.errors import Conflict, NotFound
from shared.media.ports import MediaStorage
from shared.networks.ports import (
    Account,
    AuthExpired,
    CannotTell,
    Draft,
    NetworkError,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)
from shared.posts.models import Post
from shared.wording import counted

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
    # The channel's credentials as stored: opened only for the network call (shared.channels.credentials).
    sealed_credentials: bytes | None = field(default=None, repr=False)
    # The parts an earlier attempt made (a thread stopped midway): this attempt makes only the rest.
    published: tuple[PublishedPart, ...] = ()

    @property
    def idempotency_key(self) -> str:
        # The same for every attempt of one delivery, so a network that honours keys dedupes retries.
        return str(self.delivery_id)


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


def read_claimed(
    session: Session,
    claims: Sequence[tuple[uuid.UUID, int]],
    *,
    public_url: str | None = None,
    media: MediaStorage | None = None,
) -> list[PublishJob]:
    """The claimed deliveries still enqueued under these claim numbers; stale claims are left out.

    `public_url` is where short links are served, for channels whose links are shortened; `media` is where
    the posts' attachments are kept.
    """
    if not claims:
        return []
    drafts = SentDrafts(session, public_url, media)
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


def parts_of(delivery: Delivery) -> tuple[PublishedPart, ...]:
    """The parts of a delivery the network confirmed, in order, as the adapters take them."""
    return tuple(PublishedPart(part.external_id, part.url, part.published_at) for part in delivery.parts)


def _record_parts(
    session: Session, delivery_id: uuid.UUID, parts: Sequence[PublishedPart], now: datetime
) -> None:
    """Keep each confirmed part; a part recorded before (by another attempt or a check) is kept as it was."""
    if not parts:
        return
    session.execute(
        insert_on_conflict(session, DeliveryPart)
        .values(
            [
                {
                    "delivery_id": delivery_id,
                    "position": position,
                    "external_id": part.external_id,
                    "url": part.url,
                    "published_at": part.created_at,
                    "recorded_at": now,
                }
                for position, part in enumerate(parts)
            ]
        )
        .on_conflict_do_nothing(index_elements=["delivery_id", "position"])
    )


def defer(session: Session, job: PublishJob, *, until: datetime, reason: str, now: datetime) -> bool:
    """Give a claim back, to be claimed again at `until`. For Crier's own rate limits: not a failure."""
    deferred = session.execute(
        update(Delivery)
        .where(
            Delivery.id == job.delivery_id,
            Delivery.attempt == job.attempt,
            Delivery.state == DeliveryState.ENQUEUED,
        )
        .values(
            state=DeliveryState.SCHEDULED,
            due_at=until,
            lease_expires_at=None,
            last_error=reason,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return affected_rows(deferred) == 1


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
        _record_parts(session, job.delivery_id, parts, now)
        outcome, state, values = _transition(job, result, now=now, max_attempts=max_attempts, rng=rng)
        error = None if isinstance(result, PublishedPost) else _describe(result)
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


def ask_for_reconnection(session: Session, channel_ids: Collection[uuid.UUID]) -> None:
    """Channels whose network refused their credentials wait for a person: needs_reauth, announced once."""
    if not channel_ids:
        return
    newly_expired = session.scalars(
        update(Channel)
        .where(Channel.id.in_(channel_ids), Channel.state == ChannelState.ACTIVE)
        .values(state=ChannelState.NEEDS_REAUTH)
        .returning(Channel.id)
    ).all()
    announce_reauth(session, newly_expired)


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


def confirmed_parts(result: PublishedPost | NetworkError | None) -> tuple[PublishedPart, ...]:
    """The parts an answer confirms are on the network: all of a post, or those made before a failure."""
    if isinstance(result, PublishedPost):
        return result.parts
    return result.published if result is not None else ()


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
        return AttemptOutcome.PUBLISHED, DeliveryState.PUBLISHED, _published(result, fallback=now)
    error = _describe(result)
    out_there = result.published or job.published
    if out_there:
        error = f"{_parts_out_there(out_there, job.draft)} {error}"
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
            *_after_failure(job.failures, error, now, max_attempts, rng, out_there=bool(out_there)),
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


def _published(post: PublishedPost, *, fallback: datetime) -> dict[str, object]:
    # The network's own time of the post where it gives one: the time Crier sent it is only an estimate.
    published_at = post.created_at or fallback
    return {
        "external_id": post.external_id,
        "external_url": post.url,
        "published_at": published_at,
        "last_error": None,
        # From now on the metrics collector looks at it; its schedule says when it reads the counts.
        "metrics_due_at": published_at,
    }


def _parts_out_there(parts: Sequence[PublishedPart], draft: Draft | None) -> str:
    """`The post and 1 of 3 thread replies are on the network (url, url).`"""
    replies = len(parts) - 1
    of = f" of {len(draft.thread)}" if draft is not None else ""
    reply_word = "reply" if replies == 1 and not of else "replies"
    addresses = ", ".join(part.url or part.external_id for part in parts)
    return f"The post and {replies}{of} thread {reply_word} are on the network ({addresses})."


def _after_failure(
    failures_before: int,
    error: str,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None,
    *,
    out_there: bool = False,
) -> tuple[DeliveryState, dict[str, object]]:
    """A failure the network says did not publish anything (more): retry after a backoff, or give up.

    Giving up on a delivery with parts on the network is not a failure: a person reviews what is there.
    """
    failures = failures_before + 1
    if failures >= max_attempts:
        return DeliveryState.NEEDS_REVIEW if out_there else DeliveryState.FAILED, {
            "failures": failures,
            "last_error": f"Gave up after {counted(failures, 'attempt')}. Last error: {error}",
        }
    return DeliveryState.RETRY_WAIT, {
        "failures": failures,
        "due_at": now + retry_delay(failures, rng or random.Random()),
        "last_error": error,
    }


def retry_delay(failures: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, so retries of many deliveries do not arrive together."""
    base = min(timedelta(seconds=5 * 2 ** (failures - 1)), RETRY_BACKOFF_CAP)
    return base * rng.uniform(0.5, 1.5)


def _describe(error: NetworkError) -> str:
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class ReconcileJob:
    """A delivery in unknown, and what is needed to ask its network whether the post exists."""

    delivery_id: uuid.UUID
    attempt: int
    failures: int
    network: str
    account: Account
    uncertain_since: datetime
    attempt_started_at: datetime | None
    # What was sent and when it was first tried: some networks recognise a post only by these.
    first_attempted_at: datetime | None = None
    draft: Draft | None = None
    sealed_credentials: bytes | None = field(default=None, repr=False)
    # When it was meant to go out: a post found without the network's own time is not dated before it.
    scheduled_at: datetime | None = None
    # The parts recorded so far (a thread stopped midway).
    published: tuple[PublishedPart, ...] = ()

    @property
    def idempotency_key(self) -> str:
        return str(self.delivery_id)


def unknown_deliveries(
    session: Session, *, limit: int, public_url: str | None = None, media: MediaStorage | None = None
) -> list[ReconcileJob]:
    """Deliveries whose outcome is unknown, longest-uncertain first, with the drafts they sent."""
    drafts = SentDrafts(session, public_url, media)
    first_attempt = (
        select(func.min(PublishAttempt.started_at))
        .where(PublishAttempt.delivery_id == Delivery.id)
        .correlate(Delivery)
        .scalar_subquery()
    )
    query = (
        select(Delivery, PublishAttempt.started_at, first_attempt)
        .outerjoin(
            PublishAttempt,
            (PublishAttempt.delivery_id == Delivery.id) & (PublishAttempt.number == Delivery.attempt),
        )
        .where(Delivery.state == DeliveryState.UNKNOWN)
        .order_by(Delivery.updated_at)
        .limit(limit)
        .options(joinedload(Delivery.post))
    )
    return [
        ReconcileJob(
            delivery_id=delivery.id,
            attempt=delivery.attempt,
            failures=delivery.failures,
            network=delivery.channel.network,
            account=account_of(delivery.channel),
            uncertain_since=delivery.updated_at,
            attempt_started_at=started_at,
            first_attempted_at=first_started_at,
            draft=drafts.of(delivery),
            sealed_credentials=delivery.channel.sealed_credentials,
            scheduled_at=delivery.scheduled_at,
            published=parts_of(delivery),
        )
        for delivery, started_at, first_started_at in session.execute(query)
    ]


def record_reconciliation(
    session: Session,
    job: ReconcileJob,
    found: PublishedPost | NetworkError | None,
    *,
    now: datetime,
    give_up_after: timedelta,
    max_attempts: int,
    rng: random.Random | None = None,
) -> DeliveryState | None:
    """Settle an unknown delivery with what its network said. Returns the new state, if it moved.

    Found whole: published, at the network's time of the post (else when the attempt started, never
    before the delivery's time). Found in part (a thread whose next reply is certainly not there): the
    parts are recorded and the rest goes out from the last of them, as after any transient failure. Not
    there: the attempt failed, so it is retried. An answer that cannot settle it: a person decides, now.
    No answer: it stays unknown, until `give_up_after` has passed; then a person decides.
    """
    found_parts = confirmed_parts(found)
    _record_parts(session, job.delivery_id, found_parts, now)
    # The post's own address as soon as it is found, however the rest is settled.
    values: dict[str, object] = (
        {"external_id": found_parts[0].external_id, "external_url": found_parts[0].url} if found_parts else {}
    )
    if isinstance(found, PublishedPost) and len(found.thread) >= _thread_length(job.draft):
        state = DeliveryState.PUBLISHED
        started = job.attempt_started_at or now
        values = _published(found, fallback=max(started, job.scheduled_at) if job.scheduled_at else started)
    elif isinstance(found, PublishedPost):
        state, failure = _after_failure(
            job.failures,
            f"{_parts_out_there(found.parts, job.draft)} The next reply is not: the rest of the thread "
            "goes out from the last one found.",
            now,
            max_attempts,
            rng,
            out_there=True,
        )
        values |= failure
    elif found is None and job.published:
        # Parts were recorded and now nothing is found: someone deleted them, or the network lost them.
        # Sending the post again might double it; a person looks.
        state = DeliveryState.NEEDS_REVIEW
        values = {
            "last_error": f"{_parts_out_there(job.published, job.draft)} They were recorded, but the "
            "network no longer shows them: look, then mark it published or republish."
        }
    elif found is None:
        state, values = _after_failure(
            job.failures,
            "The network has no such post: the uncertain attempt did not publish.",
            now,
            max_attempts,
            rng,
        )
    elif isinstance(found, CannotTell):
        state = DeliveryState.NEEDS_REVIEW
        said = f"{_parts_out_there(found_parts, job.draft)} " if found_parts else ""
        values |= {"last_error": f"{said}The network's answer cannot settle it: {_describe(found)}"}
    elif now - job.uncertain_since > give_up_after:
        state = DeliveryState.NEEDS_REVIEW
        values = {"last_error": f"Could not ask the network whether the post exists: {_describe(found)}"}
    else:
        return None
    return _settle_unknown(session, job, state, values, now)


def _thread_length(draft: Draft | None) -> int:
    return len(draft.thread) if draft is not None else 0


def send_to_review(
    session: Session, job: ReconcileJob, *, reason: str, now: datetime
) -> DeliveryState | None:
    """An unknown delivery its network offers no way to check: never republished automatically."""
    return _settle_unknown(session, job, DeliveryState.NEEDS_REVIEW, {"last_error": reason}, now)


def _settle_unknown(
    session: Session, job: ReconcileJob, state: DeliveryState, values: dict[str, object], now: datetime
) -> DeliveryState | None:
    settled = session.execute(
        update(Delivery)
        .where(
            Delivery.id == job.delivery_id,
            Delivery.attempt == job.attempt,
            Delivery.state == DeliveryState.UNKNOWN,
        )
        .values(state=state, updated_at=now, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(settled) != 1:
        return None
    announce_deliveries(session, {job.delivery_id: state})
    return state


def mark_deleted(session: Session, delivery_id: uuid.UUID, *, now: datetime) -> bool:
    """A delivery whose every part was deleted from its network through Crier: its metrics stop."""
    deleted = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state != DeliveryState.DELETED)
        .values(state=DeliveryState.DELETED, metrics_due_at=None, lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(deleted) == 1


def withdraw_unclaimed(session: Session, deliveries: Sequence[Delivery]) -> None:
    """Delete deliveries no scheduler has claimed and nothing of which is out, so they never go out.

    A post being rescheduled, or sent back for approval, is given new ones later. All or none: Conflict
    when one was claimed meanwhile (it may be going out now) or has a part on its network (a thread a rate
    limit stopped midway), and the caller's transaction then rolls back what this deleted.
    """
    waiting = [delivery.id for delivery in deliveries]
    if not waiting:
        return
    removed = session.execute(
        delete(Delivery)
        .where(
            Delivery.id.in_(waiting),
            Delivery.state == DeliveryState.SCHEDULED,
            ~exists().where(DeliveryPart.delivery_id == Delivery.id),
        )
        .execution_options(synchronize_session=False)
    )
    if affected_rows(removed) != len(waiting):
        raise Conflict(
            "A delivery of the post has just started, or part of it is out: cancel or duplicate it instead."
        )
    for delivery in deliveries:
        session.expunge(delivery)


def get_delivery(session: Session, workspace_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.post.workspace_id != workspace_id:
        raise NotFound("delivery", delivery_id)
    return delivery


RETRYABLE = frozenset({DeliveryState.FAILED, DeliveryState.MISSED, DeliveryState.CANCELLED})
RESOLVABLE = frozenset({DeliveryState.UNKNOWN, DeliveryState.NEEDS_REVIEW})
# Not needs_review: a person settles that with resolve (mark published, or republish), saying what they
# know; a cancel followed by a retry would republish without anyone having said it is not out there.
CANCELLABLE = frozenset({DeliveryState.SCHEDULED, DeliveryState.RETRY_WAIT, DeliveryState.ENQUEUED})


def retry_delivery(
    session: Session, workspace_id: uuid.UUID, delivery_id: uuid.UUID, *, now: datetime
) -> Delivery:
    """A person asks for another try of a failed, missed or cancelled delivery: it goes out now."""
    return _act_for_person(
        session, workspace_id, delivery_id, "retried", RETRYABLE, now, values=_fresh_start(now)
    )


def republish_delivery(
    session: Session, workspace_id: uuid.UUID, delivery_id: uuid.UUID, *, now: datetime
) -> Delivery:
    """A person decides an uncertain delivery was not published and sends it again, accepting the risk."""
    return _act_for_person(
        session, workspace_id, delivery_id, "republished", RESOLVABLE, now, values=_fresh_start(now)
    )


def mark_published(
    session: Session,
    workspace_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    url: str,
    external_id: str | None,
    now: datetime,
) -> Delivery:
    """A person found an uncertain delivery on the network and says where it is."""
    return _act_for_person(
        session,
        workspace_id,
        delivery_id,
        "marked published",
        RESOLVABLE,
        now,
        values={
            "external_url": url,
            "external_id": external_id,
            "published_at": now,
            "last_error": None,
            "lease_expires_at": None,
            "metrics_due_at": now if external_id else None,
        },
        state=DeliveryState.PUBLISHED,
    )


def cancel_delivery(
    session: Session, workspace_id: uuid.UUID, delivery_id: uuid.UUID, *, now: datetime
) -> Delivery:
    """Stop a delivery that has not gone out. One being published, or uncertain, cannot be cancelled."""
    return _act_for_person(
        session,
        workspace_id,
        delivery_id,
        "cancelled",
        CANCELLABLE,
        now,
        values={"lease_expires_at": None},
        state=DeliveryState.CANCELLED,
    )


def _fresh_start(now: datetime) -> dict[str, object]:
    # Its time becomes now, so the lateness limit does not miss it again, and it gets its attempts back.
    return {"scheduled_at": now, "due_at": now, "failures": 0, "lease_expires_at": None, "last_error": None}


def _act_for_person(
    session: Session,
    workspace_id: uuid.UUID,
    delivery_id: uuid.UUID,
    action: str,
    allowed: frozenset[DeliveryState],
    now: datetime,
    *,
    values: dict[str, object],
    state: DeliveryState = DeliveryState.SCHEDULED,
) -> Delivery:
    delivery = get_delivery(session, workspace_id, delivery_id)
    changed = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(allowed))
        .values(state=state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(delivery)
    if affected_rows(changed) != 1:
        can_be = ", ".join(sorted(allowed))
        raise Conflict(f"The delivery is {delivery.state}; only one that is {can_be} can be {action}.")
    return delivery


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
