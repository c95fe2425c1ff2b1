"""Settling deliveries whose outcome is unknown, with what their network says it has.

- unknown → published (found whole) | retry_wait (nothing there; or a thread found in part, finished from
  its last part) | failed or needs_review (attempts spent) | needs_review (the answer cannot settle it, the
  network offers no check, or it does not answer for long) — record_reconciliation, send_to_review.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from shared.channels.services import account_of
from shared.deliveries.announcing import announce_deliveries
from shared.deliveries.claiming import end_claim
from shared.deliveries.drafting import SentDrafts
from shared.deliveries.models import Delivery, DeliveryState, PublishAttempt
from shared.deliveries.outcomes import after_failure, describe_error, parts_out_there, published_values
from shared.deliveries.parts import confirmed_parts, parts_of, record_parts
from shared.media.ports import MediaStorage
from shared.networks.ports import Account, CannotTell, Draft, NetworkError, PublishedPart, PublishedPost


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
    record_parts(session, job.delivery_id, found_parts, now)
    # The post's own address as soon as it is found, however the rest is settled.
    values: dict[str, object] = (
        {"external_id": found_parts[0].external_id, "external_url": found_parts[0].url} if found_parts else {}
    )
    if isinstance(found, PublishedPost) and len(found.thread) >= _thread_length(job.draft):
        state = DeliveryState.PUBLISHED
        started = job.attempt_started_at or now
        values = published_values(
            found, fallback=max(started, job.scheduled_at) if job.scheduled_at else started
        )
    elif isinstance(found, PublishedPost):
        state, failure = after_failure(
            job.failures,
            f"{parts_out_there(found.parts, job.draft)} The next reply is not: the rest of the thread "
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
            "last_error": f"{parts_out_there(job.published, job.draft)} They were recorded, but the "
            "network no longer shows them: look, then mark it published or republish."
        }
    elif found is None:
        state, values = after_failure(
            job.failures,
            "The network has no such post: the uncertain attempt did not publish.",
            now,
            max_attempts,
            rng,
        )
    elif isinstance(found, CannotTell):
        state = DeliveryState.NEEDS_REVIEW
        said = f"{parts_out_there(found_parts, job.draft)} " if found_parts else ""
        values |= {"last_error": f"{said}The network's answer cannot settle it: {describe_error(found)}"}
    elif now - job.uncertain_since > give_up_after:
        state = DeliveryState.NEEDS_REVIEW
        values = {"last_error": f"Could not ask the network whether the post exists: {describe_error(found)}"}
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
    if not end_claim(
        session, job.delivery_id, job.attempt, DeliveryState.UNKNOWN, now=now, state=state, **values
    ):
        return None
    announce_deliveries(session, {job.delivery_id: state})
    return state
