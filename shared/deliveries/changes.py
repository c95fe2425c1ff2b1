"""Changes to published deliveries (delete, edit), as a state machine of compare-and-set UPDATEs.

- A person asks: a change is made `waiting`, due now, for a delivery that has something on its network
  (published, or with parts out there). One change at a time per delivery (a unique partial index).
- waiting or unknown, once due → applying (a claim: a new claim number and a lease).
- applying → done | failed (refused, or attempts spent) | waiting (a transient failure, after a backoff;
  rate limited, until the reset; the credentials expired, until the channel is reconnected) | unknown (the
  call may have landed: the next attempt looks first). A claim whose lease ran out is taken again as
  unknown, so a worker that died mid-call leaves a change that is looked at, not made twice.
- unknown that cannot be looked at for long → needs_review.
- A delete that is done moves its delivery to deleted (mark_deleted): its metrics stop.

What the calls do lives in shared.deliveries.changing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of, ask_for_reconnection
from shared.db import affected_rows
from shared.deliveries.announcing import announce_change
from shared.deliveries.drafting import SentDrafts
from shared.deliveries.models import ChangeKind, ChangeState, Delivery, DeliveryChange, DeliveryState
from shared.deliveries.outcomes import RATE_LIMIT_DEFAULT_WAIT, describe_error, retry_delay, retry_or_give_up
from shared.deliveries.parts import parts_of
from shared.errors import Conflict
from shared.media.ports import MediaStorage
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    NetworkError,
    PostGone,
    PublishedPart,
    RateLimited,
    Rejected,
    Transient,
)


@dataclass(frozen=True)
class ChangeJob:
    """Everything one attempt at a change needs, read before the network is called."""

    change_id: uuid.UUID
    attempt: int
    failures: int
    kind: ChangeKind
    delivery_id: uuid.UUID
    network: str
    account: Account
    # What is on the network: every part, in order (a delete removes the replies first).
    parts: tuple[PublishedPart, ...]
    # The post as it reads now for the channel: what an edit sends.
    draft: Draft | None
    # A previous attempt may have landed: look before acting.
    uncertain: bool
    # When it became uncertain: a change that cannot be looked at for long goes to a person.
    uncertain_since: datetime | None
    sealed_credentials: bytes | None = field(default=None, repr=False)


def request_change(
    session: Session,
    delivery: Delivery,
    kind: ChangeKind,
    *,
    requested_by: uuid.UUID | None,
    now: datetime,
) -> DeliveryChange:
    """A change to apply to the delivery on its network, due now. Conflict while another is under way."""
    if not _on_the_network(delivery):
        raise Conflict(
            f"The delivery is {delivery.state}, with nothing on the network: there is nothing to "
            f"{'delete' if kind is ChangeKind.DELETE else 'edit'}."
        )
    change = DeliveryChange(
        id=uuid.uuid4(), delivery_id=delivery.id, kind=kind, due_at=now, requested_by=requested_by
    )
    try:
        with session.begin_nested():
            session.add(change)
    except IntegrityError as error:
        raise Conflict(
            "Another change to this delivery is still being applied: wait until it is done."
        ) from error
    return change


def _on_the_network(delivery: Delivery) -> bool:
    if delivery.state is DeliveryState.PUBLISHED:
        return delivery.external_id is not None
    return delivery.state is not DeliveryState.DELETED and bool(delivery.parts)


def claim_due_changes(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    public_url: str | None = None,
    media: MediaStorage | None = None,
) -> list[ChangeJob]:
    """Claim due changes (and those whose claim outlived its lease), and read what each needs.

    Changes of a channel that is not active wait for it, as its deliveries do.
    """
    due = (
        select(DeliveryChange.id)
        .join(Delivery, Delivery.id == DeliveryChange.delivery_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(
            Channel.state == ChannelState.ACTIVE,
            or_(
                DeliveryChange.state.in_([ChangeState.WAITING, ChangeState.UNKNOWN])
                & (DeliveryChange.due_at <= now),
                (DeliveryChange.state == ChangeState.APPLYING) & (DeliveryChange.lease_expires_at < now),
            ),
        )
        .order_by(DeliveryChange.due_at)
        .limit(limit)
        .with_for_update(of=DeliveryChange, skip_locked=True)
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    # A claim that outlived its lease: its worker died or hung mid-call, so the change may have landed.
    session.execute(
        update(DeliveryChange)
        .where(DeliveryChange.id.in_(ids), DeliveryChange.state == ChangeState.APPLYING)
        .values(
            state=ChangeState.UNKNOWN,
            last_error="The attempt did not report back before its lease expired.",
            due_at=now,
            uncertain_since=func.coalesce(DeliveryChange.uncertain_since, now),
        )
        .execution_options(synchronize_session=False)
    )
    uncertain = set(
        session.scalars(
            select(DeliveryChange.id).where(
                DeliveryChange.id.in_(ids), DeliveryChange.state == ChangeState.UNKNOWN
            )
        )
    )
    session.execute(
        update(DeliveryChange)
        .where(DeliveryChange.id.in_(ids))
        .values(
            state=ChangeState.APPLYING,
            attempt=DeliveryChange.attempt + 1,
            lease_expires_at=now + lease,
        )
        .execution_options(synchronize_session=False)
    )
    drafts = SentDrafts(session, public_url, media)
    changes = session.scalars(
        select(DeliveryChange)
        .where(DeliveryChange.id.in_(ids))
        .options(joinedload(DeliveryChange.delivery).joinedload(Delivery.post))
        .execution_options(populate_existing=True)
    )
    return [_job(change, change.id in uncertain, drafts) for change in changes]


def _job(change: DeliveryChange, uncertain: bool, drafts: SentDrafts) -> ChangeJob:
    delivery = change.delivery
    parts = parts_of(delivery)
    if not parts and delivery.external_id is not None:
        # Published before parts were recorded: the post is its only known part.
        parts = (PublishedPart(delivery.external_id, delivery.external_url or "", delivery.published_at),)
    return ChangeJob(
        change_id=change.id,
        attempt=change.attempt,
        failures=change.failures,
        kind=change.kind,
        delivery_id=delivery.id,
        network=delivery.channel.network,
        account=account_of(delivery.channel),
        parts=parts,
        draft=drafts.of(delivery) if change.kind is ChangeKind.EDIT else None,
        uncertain=uncertain,
        uncertain_since=change.uncertain_since if uncertain else None,
        sealed_credentials=delivery.channel.sealed_credentials,
    )


def finish_changes(
    session: Session,
    finished: Sequence[tuple[ChangeJob, PublishedPart | NetworkError | None]],
    *,
    now: datetime,
    max_attempts: int,
    give_up_after: timedelta,
    rng: random.Random | None = None,
) -> dict[uuid.UUID, ChangeState | None]:
    """Record what each attempt met and move its change on; None where the change had moved on meanwhile.

    A result of None or a PublishedPart is done (None: the delete went through, or found nothing left).
    """
    states: dict[uuid.UUID, ChangeState | None] = {}
    expired_channels: set[uuid.UUID] = set()
    for job, result in finished:
        state, values = _transition(
            job, result, now=now, max_attempts=max_attempts, give_up_after=give_up_after, rng=rng
        )
        moved = session.execute(
            update(DeliveryChange)
            .where(
                DeliveryChange.id == job.change_id,
                DeliveryChange.attempt == job.attempt,
                DeliveryChange.state == ChangeState.APPLYING,
            )
            .values(state=state, lease_expires_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        if affected_rows(moved) != 1:
            states[job.change_id] = None
            continue
        states[job.change_id] = state
        if state is ChangeState.DONE and job.kind is ChangeKind.DELETE:
            mark_deleted(session, job.delivery_id, now=now)
        announce_change(session, job.change_id)
        if isinstance(result, AuthExpired):
            expired_channels.add(uuid.UUID(job.account.channel_id))
    ask_for_reconnection(session, expired_channels)
    return states


def mark_deleted(session: Session, delivery_id: uuid.UUID, *, now: datetime) -> bool:
    """A delivery whose every part was deleted from its network through Crier: its metrics stop."""
    deleted = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state != DeliveryState.DELETED)
        .values(state=DeliveryState.DELETED, metrics_due_at=None, lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(deleted) == 1


def _transition(
    job: ChangeJob,
    result: PublishedPart | NetworkError | None,
    *,
    now: datetime,
    max_attempts: int,
    give_up_after: timedelta,
    rng: random.Random | None,
) -> tuple[ChangeState, dict[str, object]]:
    if result is None or isinstance(result, PublishedPart | PostGone):
        return ChangeState.DONE, {"finished_at": now, "last_error": None, "uncertain_since": None}
    error = describe_error(result)
    if isinstance(result, RateLimited):
        wait_until = result.reset_at or now + RATE_LIMIT_DEFAULT_WAIT
        return ChangeState.WAITING, {"due_at": max(wait_until, now), "last_error": error}
    if isinstance(result, AuthExpired):
        return ChangeState.WAITING, {"last_error": f"{error} Waiting for the channel to be reconnected."}
    if isinstance(result, Rejected):
        return ChangeState.FAILED, {"finished_at": now, "last_error": error}
    if isinstance(result, Transient) and not job.uncertain:
        gave_up, values = retry_or_give_up(job.failures, error, now, max_attempts, rng)
        if gave_up:
            return ChangeState.FAILED, {**values, "finished_at": now}
        return ChangeState.WAITING, values
    # It may have landed (or, uncertain already, it could not be looked at): look again later, and after
    # long enough ask a person rather than guess.
    since = job.uncertain_since or now
    if job.uncertain and now - since > give_up_after:
        return ChangeState.NEEDS_REVIEW, {
            "finished_at": now,
            "last_error": f"Could not tell whether the {job.kind} went through: {error}",
        }
    failures = job.failures + 1
    return ChangeState.UNKNOWN, {
        "failures": failures,
        "due_at": now + retry_delay(min(failures, 3), rng or random.Random()),
        "last_error": error,
        "uncertain_since": func.coalesce(DeliveryChange.uncertain_since, now),
    }
