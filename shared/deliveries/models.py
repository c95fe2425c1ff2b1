from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, created_timestamp, enum_column, partial_index, utcnow, uuid_pk

if TYPE_CHECKING:
    from shared.channels.models import Channel
    from shared.posts.models import Post


class DeliveryState(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its due time (or for its channel to be reconnected)
    RETRY_WAIT = "retry_wait"  # a transient failure; waiting out the backoff before the next attempt
    ENQUEUED = "enqueued"  # claimed by a scheduler; a publish message is on its way
    PUBLISHING = "publishing"  # an attempt row is committed; the network call may be under way
    PUBLISHED = "published"
    FAILED = "failed"  # permanent: the network refused it, or attempts ran out
    UNKNOWN = "unknown"  # the request may have reached the network; being checked with the network
    NEEDS_REVIEW = "needs_review"  # the network cannot tell whether it has the post: a person decides
    CANCELLED = "cancelled"
    MISSED = "missed"  # too late to be worth publishing when it could have gone out
    DELETED = "deleted"  # published, then deleted from the network through Crier

    @classmethod
    def waiting(cls) -> frozenset[DeliveryState]:
        """States a scheduler claims from once they are due."""
        return frozenset({cls.SCHEDULED, cls.RETRY_WAIT})

    @classmethod
    def in_progress(cls) -> frozenset[DeliveryState]:
        """States from which the delivery will still move on by itself."""
        return frozenset({cls.SCHEDULED, cls.RETRY_WAIT, cls.ENQUEUED, cls.PUBLISHING, cls.UNKNOWN})

    @classmethod
    def final(cls) -> frozenset[DeliveryState]:
        """States nothing moves a delivery out of, short of a person's action."""
        return frozenset(
            {cls.PUBLISHED, cls.FAILED, cls.NEEDS_REVIEW, cls.CANCELLED, cls.MISSED, cls.DELETED}
        )


class AttemptOutcome(StrEnum):
    PUBLISHED = "published"
    REJECTED = "rejected"
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    AUTH_EXPIRED = "auth_expired"
    UNKNOWN = "unknown"


# The waiting states, as SQL for the partial indexes (which must spell their predicate out).
WAITING_SQL = "state IN ('scheduled', 'retry_wait')"
METRICS_RUNNING_SQL = "metrics_due_at IS NOT NULL"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # One delivery per channel per occurrence: a post that repeats has one per channel each time.
        UniqueConstraint("post_id", "channel_id", "occurrence"),
        # The scheduler reads these every tick. Partial indexes over the waiting rows keep each read
        # proportional to what it returns: with `state IN (…)` on a (state, due_at) index, PostgreSQL
        # sorted every due row for each batch of a burst (claims fell from 45k/s to 12k/s at 100k due).
        partial_index("ix_deliveries_waiting_due_at", "due_at", where=WAITING_SQL),
        partial_index("ix_deliveries_waiting_scheduled_at", "scheduled_at", where=WAITING_SQL),
        # The lease sweeps: enqueued and publishing rows whose lease ran out.
        Index("ix_deliveries_state_lease_expires_at", "state", "lease_expires_at"),
        # The metrics collector reads only deliveries whose schedule is still running.
        partial_index("ix_deliveries_metrics_due_at", "metrics_due_at", where=METRICS_RUNNING_SQL),
    )

    id: Mapped[uuid_pk]
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    # Which occurrence of a recurring post this is (0 for a post that does not repeat).
    occurrence: Mapped[int] = mapped_column(default=0)
    state: Mapped[DeliveryState] = mapped_column(enum_column(DeliveryState), default=DeliveryState.SCHEDULED)
    # When the delivery is meant to go out: the post's time, or when a person last asked for it. The
    # lateness limit is measured from here.
    scheduled_at: Mapped[datetime]
    # When it is next to be acted on: its time, a retry's backoff, or a rate limit's reset.
    due_at: Mapped[datetime]
    # Transient failures since it was scheduled (or a person retried it); bounded by max_publish_attempts.
    failures: Mapped[int] = mapped_column(default=0)
    # Counts claims. A publish message carries the number it was sent with; a message whose number is not
    # the delivery's current one is stale and is dropped.
    attempt: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the metrics collector next looks at it: set to its publication time when it is published, then
    # kept by shared.metrics (see its schedule); None before it is published and once its schedule is over.
    metrics_due_at: Mapped[datetime | None]
    metrics_collections: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_timestamp]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    post: Mapped[Post] = relationship(back_populates="deliveries")
    channel: Mapped[Channel] = relationship(lazy="joined")
    attempts: Mapped[list[PublishAttempt]] = relationship(
        back_populates="delivery", order_by="PublishAttempt.number", lazy="selectin"
    )
    parts: Mapped[list[DeliveryPart]] = relationship(order_by="DeliveryPart.position", lazy="selectin")
    changes: Mapped[list[DeliveryChange]] = relationship(
        order_by="DeliveryChange.created_at", lazy="selectin", viewonly=True
    )


class PublishAttempt(Base):
    """One call to a network, committed before the call is made, so a crash leaves a trace."""

    __tablename__ = "publish_attempts"
    # One row per claim number: a second worker holding the same message cannot start the same attempt.
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[uuid_pk]
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    number: Mapped[int]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[AttemptOutcome | None] = mapped_column(enum_column(AttemptOutcome))
    error: Mapped[str | None] = mapped_column(Text)

    delivery: Mapped[Delivery] = relationship(back_populates="attempts")


class DeliveryPart(Base):
    """One post a delivery made on its network: the post itself (position 0), or reply n of its thread.

    Recorded as soon as the network confirms each, before the delivery is published: a thread stopped
    midway is finished from its last part, never begun again, and a person sees what is out there.
    """

    __tablename__ = "delivery_parts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    # When the network says it made it; None where it does not say.
    published_at: Mapped[datetime | None]
    recorded_at: Mapped[created_timestamp]


class ChangeKind(StrEnum):
    DELETE = "delete"  # every part of the post, from the network
    EDIT = "edit"  # the post's text, to the channel's text of the post as it reads now


class ChangeState(StrEnum):
    WAITING = "waiting"  # due at due_at (a retry's backoff, or a rate limit's reset)
    APPLYING = "applying"  # claimed under a lease; the network call may be under way
    UNKNOWN = "unknown"  # the call may have landed: the next attempt looks first, then acts if needed
    DONE = "done"
    FAILED = "failed"  # the network refused it, or attempts ran out
    NEEDS_REVIEW = "needs_review"  # the network could not be asked for long: a person looks

    @classmethod
    def active(cls) -> frozenset[ChangeState]:
        return frozenset({cls.WAITING, cls.APPLYING, cls.UNKNOWN})


ACTIVE_CHANGE_SQL = "state IN ('waiting', 'applying', 'unknown')"


class DeliveryChange(Base):
    """A change to a published delivery on its network, asked for by a person: a delete, or an edit.

    Applied exactly once by the same means as publishing: claimed under a lease with a claim number,
    each transition a compare-and-set, an uncertain call looked at before it is made again, and every
    request in the audit log. One change at a time per delivery.
    """

    __tablename__ = "delivery_changes"
    __table_args__ = (
        partial_index("ix_delivery_changes_active_due_at", "due_at", where=ACTIVE_CHANGE_SQL),
        # At most one change under way per delivery: a second request is refused, never raced.
        partial_index("uq_delivery_changes_one_active", "delivery_id", where=ACTIVE_CHANGE_SQL, unique=True),
    )

    id: Mapped[uuid_pk]
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ChangeKind] = mapped_column(enum_column(ChangeKind))
    state: Mapped[ChangeState] = mapped_column(enum_column(ChangeState), default=ChangeState.WAITING)
    due_at: Mapped[datetime]
    # Counts claims, as a delivery's attempt does: a claim whose number is not the current one is stale.
    attempt: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Since when it may have landed without Crier knowing: after long enough, a person looks.
    uncertain_since: Mapped[datetime | None]
    # The member who asked (None: Crier itself, or a member since removed).
    requested_by: Mapped[uuid.UUID | None]
    created_at: Mapped[created_timestamp]
    finished_at: Mapped[datetime | None]

    delivery: Mapped[Delivery] = relationship()
