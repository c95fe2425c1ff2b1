from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, JSONDocument, created_timestamp, enum_column, partial_index, utcnow, uuid_pk
from shared.networks.ports import InboxKind
from shared.workspaces.models import workspace_fk


class SourceKind(StrEnum):
    INBOX = "inbox"  # what people say to the channel's account: replies, mentions, quotes, messages
    SEARCH = "search"  # a saved search (a stream) on the channel's network


class InboxSource(Base):
    """Something Crier reads items from, with where its last read stopped and when to read it next."""

    __tablename__ = "inbox_sources"
    __table_args__ = (
        # One inbox per channel; a channel may have any number of searches.
        partial_index("uq_inbox_sources_channel_inbox", "channel_id", where="kind = 'inbox'", unique=True),
        Index("ix_inbox_sources_next_read_at", "next_read_at"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind))
    # A stream's name and query; None for a channel's inbox.
    name: Mapped[str | None] = mapped_column(String(200))
    query: Mapped[str | None] = mapped_column(String(500))
    # The adapter's own position after the last stored read; None before the first.
    position: Mapped[str | None] = mapped_column(Text)
    next_read_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How long after a read the next one is due: shorter while items keep coming, longer while none do.
    interval_seconds: Mapped[int] = mapped_column(default=60)
    # A reader holds the source until then; one that dies lets go when it passes.
    claimed_until: Mapped[datetime | None]
    last_read_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[created_timestamp]


class ItemState(StrEnum):
    OPEN = "open"  # waiting for someone
    DONE = "done"  # answered, or nothing to answer
    SPAM = "spam"


class InboxItem(Base):
    """One reply, mention, quote, message or found post, as its network had it when read."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        # Read twice (a crash between reading and storing), stored once.
        UniqueConstraint("source_id", "external_id"),
        Index("ix_inbox_items_workspace_id_received_at", "workspace_id", "received_at"),
        Index("ix_inbox_items_channel_id_state", "channel_id", "state"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inbox_sources.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(64))
    kind: Mapped[InboxKind] = mapped_column(enum_column(InboxKind))
    external_id: Mapped[str] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(Text)
    author_handle: Mapped[str] = mapped_column(String(300))
    author_name: Mapped[str | None] = mapped_column(String(300))
    author_avatar_url: Mapped[str | None] = mapped_column(Text)
    author_url: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    plain_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]  # when the network says it was written
    received_at: Mapped[datetime] = mapped_column(default=utcnow)  # when Crier stored it
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    quotes: Mapped[str | None] = mapped_column(String(500))
    thread_root: Mapped[str | None] = mapped_column(String(500))
    # How to answer it (ReplyTarget.to_json()): only its network's adapter reads the ref inside.
    reply_target: Mapped[dict[str, object]] = mapped_column(JSONDocument)
    # The Crier delivery (and its post) the item answers or quotes, when it is one.
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    post_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), index=True)
    state: Mapped[ItemState] = mapped_column(enum_column(ItemState), default=ItemState.OPEN)
    unread: Mapped[bool] = mapped_column(default=True)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped by every change: the ETag (If-Match → 412 on a stale copy).
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    labels: Mapped[list[InboxItemLabel]] = relationship(
        lazy="selectin", order_by="InboxItemLabel.name", cascade="all, delete-orphan"
    )
    notes: Mapped[list[InboxNote]] = relationship(
        lazy="selectin", order_by="InboxNote.created_at", cascade="all, delete-orphan"
    )
    replies: Mapped[list[InboxReply]] = relationship(
        lazy="selectin", order_by="InboxReply.created_at", cascade="all, delete-orphan"
    )
    actions: Mapped[list[InboxAction]] = relationship(
        lazy="selectin", order_by="InboxAction.requested_at", cascade="all, delete-orphan"
    )

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]


class InboxItemLabel(Base):
    __tablename__ = "inbox_item_labels"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inbox_items.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class InboxNote(Base):
    """A member's note on an item, for the team: never sent to the network."""

    __tablename__ = "inbox_notes"

    id: Mapped[uuid_pk]
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_timestamp]


class InboxReply(Base):
    """A reply made from Crier: a post of its own, whose delivery publishes it as any other."""

    __tablename__ = "inbox_replies"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inbox_items.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[created_timestamp]


class ActionKind(StrEnum):
    LIKE = "like"
    HIDE = "hide"


class ActionState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at, or being performed under a lease
    DONE = "done"
    FAILED = "failed"  # refused, or out of attempts: last_error says why


class InboxAction(Base):
    """A like or a hide asked for an item, performed once on its network by a worker."""

    __tablename__ = "inbox_actions"
    __table_args__ = (
        # Asked twice, done once: a second like of one item is the first.
        UniqueConstraint("item_id", "kind"),
        partial_index("ix_inbox_actions_pending", "next_attempt_at", where="state = 'pending'"),
    )

    id: Mapped[uuid_pk]
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"))
    kind: Mapped[ActionKind] = mapped_column(enum_column(ActionKind))
    state: Mapped[ActionState] = mapped_column(enum_column(ActionState), default=ActionState.PENDING)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    requested_at: Mapped[created_timestamp]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def idempotency_key(self) -> str:
        """The same on every attempt: what lets a network like once however often it is asked."""
        return str(self.id)
