"""Reading deliveries; what a person may do to one; what posts and channels do to theirs.

A person may retry, republish, mark published or cancel one delivery. A post cancelled, or a channel
disconnected, cancels what it has waiting (cancel_waiting: the states a person may cancel); a post
published now brings its waiting deliveries forward (bring_forward); a post being rescheduled, or sent
back for approval, takes back those not yet claimed (withdraw_unclaimed).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.db import affected_rows
from shared.deliveries.models import Delivery, DeliveryPart, DeliveryState
from shared.errors import Conflict, NotFound
from shared.links.models import ShortLink
from shared.links.services import links_of_delivery
from shared.posts.models import Post


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


def delivery_links(session: Session, workspace_id: uuid.UUID, delivery_id: uuid.UUID) -> Sequence[ShortLink]:
    """The delivery's short links, oldest first; NotFound for a delivery of another workspace."""
    get_delivery(session, workspace_id, delivery_id)
    return links_of_delivery(session, delivery_id)


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


def cancel_waiting(session: Session, of: Post | Channel, *, now: datetime, reason: str | None = None) -> int:
    """Cancel every delivery of a post, or on a channel, that has not gone out; how many were cancelled.

    The states are those a person may cancel: an enqueued one's message then finds nothing to send.
    `reason`, when given, becomes their last error.
    """
    owner = Delivery.post_id if isinstance(of, Post) else Delivery.channel_id
    reason_given = {"last_error": reason} if reason is not None else {}
    cancelled = session.execute(
        update(Delivery)
        .where(owner == of.id, Delivery.state.in_(CANCELLABLE))
        .values(state=DeliveryState.CANCELLED, lease_expires_at=None, updated_at=now, **reason_given)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(cancelled)


def bring_forward(session: Session, post: Post, *, now: datetime) -> int:
    """Make the post's deliveries that wait for their time due now; how many there were."""
    moved = session.execute(
        update(Delivery)
        .where(Delivery.post_id == post.id, Delivery.state == DeliveryState.SCHEDULED)
        .values(scheduled_at=now, due_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(moved)


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
