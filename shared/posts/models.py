from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import (
    Base,
    JSONDocument,
    created_timestamp,
    enum_column,
    json_document,
    partial_index,
    utcnow,
    uuid_pk,
)
from shared.networks.ports import Draft, ReplyTarget
from shared.workspaces.models import workspace_fk

if TYPE_CHECKING:
    from shared.channels.models import Channel
    from shared.deliveries.models import Delivery


class PostStage(StrEnum):
    """Where a post is in its workflow, before and after it is handed to its deliveries."""

    DRAFT = "draft"  # being written; nothing is scheduled
    PENDING_APPROVAL = "pending_approval"  # written by a member who may not publish: an approver decides
    REJECTED = "rejected"  # an approver sent it back with a comment
    EXPIRED = "expired"  # its time came before anyone approved it; it did not go out
    CANCELLED = "cancelled"  # withdrawn before it was scheduled
    SCHEDULED = "scheduled"  # its deliveries exist: their states say the rest


class PostState(StrEnum):
    """A post's state as a reader sees it: its stage, and once scheduled, what its deliveries did."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SCHEDULED = "scheduled"  # some delivery has not gone out yet
    NEEDS_ATTENTION = "needs_attention"  # a delivery's outcome is uncertain: a person must look
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"  # nothing went out: failed or missed
    CANCELLED = "cancelled"
    DELETED = "deleted"  # it went out, and was deleted from every network through Crier


class Timing(StrEnum):
    """How the post's time was chosen."""

    AT = "at"  # an exact time (or now) in the post's timezone
    QUEUE = "queue"  # each channel's next free posting slot
    RECURRENCE = "recurrence"  # an RRULE from the first time, in the post's timezone


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # The recurrence sweep reads only the series that still have occurrences to come.
        partial_index(
            "ix_posts_next_occurrence_at",
            "next_occurrence_at",
            where="next_occurrence_at IS NOT NULL",
        ),
        Index("ix_posts_workspace_id_created_at", "workspace_id", "created_at"),
        # The scheduler looks every tick for posts still pending approval whose time has come.
        partial_index(
            "ix_posts_pending_approval_scheduled_at",
            "scheduled_at",
            where="stage = 'pending_approval'",
        ),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    # Replies that follow the text as a thread (or a first comment), on networks that take them.
    thread: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # Media asset ids, in the order they are shown. Ids, not rows: a variant may say "none" ([]) or "the
    # post's" (None), as it does for the thread; check_request makes sure each is the workspace's.
    media: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    stage: Mapped[PostStage] = mapped_column(enum_column(PostStage), default=PostStage.SCHEDULED)
    timing: Mapped[Timing] = mapped_column(enum_column(Timing), default=Timing.AT)
    # The zone the author thinks in: times are stored in UTC and shown, queued and repeated in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # An exact time, a recurrence's first occurrence, or a queued post's earliest slot; None for a draft
    # with no time yet.
    scheduled_at: Mapped[datetime | None]
    recurrence_rule: Mapped[str | None] = mapped_column(Text)
    # The next occurrence the scheduler has not yet made deliveries for; None when the series is done.
    next_occurrence_at: Mapped[datetime | None]
    occurrences_created: Mapped[int] = mapped_column(default=0)
    # The post it answers (ReplyTarget.to_json()), for a reply made from the engagement inbox; its one
    # channel's draft carries it as Draft.reply_to.
    reply_to: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    # Bumped by every change: the ETag, so an edit based on a stale copy is refused (If-Match → 412).
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_timestamp]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    targets: Mapped[list[PostTarget]] = relationship(
        back_populates="post",
        order_by="PostTarget.position",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    labels: Mapped[list[PostLabel]] = relationship(
        lazy="selectin", order_by="PostLabel.name", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="post", order_by="Delivery.created_at", lazy="selectin"
    )

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def target(self, channel_id: uuid.UUID) -> PostTarget | None:
        return next((target for target in self.targets if target.channel_id == channel_id), None)

    def media_for(self, channel_id: uuid.UUID) -> list[uuid.UUID]:
        """The media assets one channel gets, in order: its variant's, or the post's."""
        target = self.target(channel_id)
        ids = target.media if target is not None and target.media is not None else self.media
        return [uuid.UUID(media_id) for media_id in ids]

    def draft_for(self, channel_id: uuid.UUID) -> Draft:
        """What to send to one channel: the post's text and thread, with the channel's variant over them."""
        target = self.target(channel_id)
        reply_to = ReplyTarget.from_json(self.reply_to) if self.reply_to else None
        if target is None:
            return Draft(text=self.text, thread=tuple(self.thread), reply_to=reply_to)
        return Draft(
            text=target.text if target.text is not None else self.text,
            thread=tuple(target.thread if target.thread is not None else self.thread),
            options=target.options,
            reply_to=reply_to,
        )


class PostTarget(Base):
    """A channel the post goes to, with that channel's variant: its own text, thread, media and options."""

    __tablename__ = "post_targets"

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)  # the order the author listed the channels in
    text: Mapped[str | None] = mapped_column(Text)  # None: the post's text
    thread: Mapped[list[str] | None] = mapped_column(JSONDocument)  # None: the post's thread
    media: Mapped[list[str] | None] = mapped_column(JSONDocument)  # None: the post's media; []: none
    options: Mapped[json_document]  # network-specific: a content warning, visibility, language…

    post: Mapped[Post] = relationship(back_populates="targets")
    channel: Mapped[Channel] = relationship(lazy="joined")


class PostLabel(Base):
    """A label or campaign name on a post, for filtering and for the analytics' grouping."""

    __tablename__ = "post_labels"

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
