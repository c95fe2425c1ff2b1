"""Webhook endpoints, the messages owed to them (a transactional outbox), and each attempt to send one."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, JSONDocument, created_timestamp, enum_column, uuid_pk
from shared.workspaces.models import workspace_fk


class EventType(StrEnum):
    """What an endpoint can be told about. Add members freely: event types are stored as plain strings."""

    DELIVERY_PUBLISHED = "delivery.published"
    DELIVERY_FAILED = "delivery.failed"
    DELIVERY_NEEDS_REVIEW = "delivery.needs_review"
    DELIVERY_DELETED = "delivery.deleted"  # deleted from its network through Crier
    DELIVERY_EDITED = "delivery.edited"  # its text changed on its network through Crier
    # A delete or an edit the network refused, that ran out of attempts, or that a person must look at.
    DELIVERY_CHANGE_FAILED = "delivery.change_failed"
    POST_APPROVAL_REQUESTED = "post.approval_requested"
    POST_REJECTED = "post.rejected"  # the author is told what to change
    POST_EXPIRED = "post.expired"  # its time came before anyone approved it: the author is told
    CHANNEL_NEEDS_REAUTH = "channel.needs_reauth"
    # A reply, mention, quote or message stored in a channel's inbox (not a saved search's posts).
    INBOX_ITEM_RECEIVED = "inbox.item_received"
    INBOX_ITEM_ASSIGNED = "inbox.item_assigned"  # a member was given an item to answer
    # Sent only when a person pings one endpoint; nothing subscribes to it.
    PING = "ping"


# What an endpoint's `events` may name: every event type but ping, or "*" for all of them, including
# those added after the endpoint was made. An empty list is refused rather than read as "all": a person
# who unticked every box means "nothing", and an endpoint that should hear nothing is deactivated instead.
ALL_EVENTS = "*"
SUBSCRIBABLE_EVENTS = tuple(event for event in EventType if event is not EventType.PING)


class MessageState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at, or being sent under a lease
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # refused, gone, or out of attempts: never sent again


class WebhookAttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    # No answer (but for a URL refused as written), or one that may get better: 401, 408, 425, 429, 5xx.
    WILL_RETRY = "will_retry"
    FAILED = "failed"  # an answer that will not get better, a URL refused as written, or the last attempt
    ENDPOINT_GONE = "endpoint_gone"  # 410: the receiver says the endpoint is gone; it is deactivated


class WebhookEndpoint(Base):
    """A URL of the workspace's where Crier POSTs the events it subscribes to, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), default="")
    # Event type values, or ["*"]: see ALL_EVENTS.
    events: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # The HMAC key, sealed by shared.credentials; shown in the clear only when it is made.
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why Crier deactivated it (the receiver answered 410 Gone); None when a person did, or it is active.
    deactivated_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_timestamp]

    def subscribes_to(self, event: str) -> bool:
        if event == EventType.PING:
            return False
        return ALL_EVENTS in self.events or event in self.events


class WebhookMessage(Base):
    """One event owed to one endpoint, added in the transaction of the action it tells about.

    Its id is the event delivery's id: the same on every attempt (in the body and X-Crier-Delivery), so a
    receiver can drop a repeat.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        # The sender's query, every few seconds: due pending messages, oldest first.
        Index("ix_webhook_messages_state_next_attempt_at", "state", "next_attempt_at"),
        # The delivery log: one endpoint's messages, newest first.
        Index("ix_webhook_messages_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: Mapped[uuid_pk]
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    workspace_id: Mapped[workspace_fk]
    # A string, not an Enum column: a process that predates an event type can still read the row.
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    state: Mapped[MessageState] = mapped_column(enum_column(MessageState), default=MessageState.PENDING)
    # Attempts recorded so far; bounded by webhook_max_attempts.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # Set while a sender holds the message; one that died holding it lets it go when this passes.
    lease_expires_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[created_timestamp]

    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        order_by=lambda: [WebhookAttempt.at, WebhookAttempt.id], lazy="selectin", passive_deletes=True
    )


class WebhookAttempt(Base):
    """One POST of a message and what came of it: the delivery log people read."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid_pk]
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    duration_ms: Mapped[int]
    # None when no HTTP answer came: the connection failed, timed out, or the address was refused.
    status_code: Mapped[int | None]
    outcome: Mapped[WebhookAttemptOutcome] = mapped_column(enum_column(WebhookAttemptOutcome))
    # The failure, with an excerpt of the receiver's answer; never the secret.
    error: Mapped[str | None] = mapped_column(Text)
