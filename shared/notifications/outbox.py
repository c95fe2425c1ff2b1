"""The outbox: the messages owed to webhook endpoints, added in the transaction of what they tell about.

- `emit` adds one pending message per active endpoint subscribed to the event, in the caller's
  transaction: the message exists exactly when the action it tells about committed, and the action never
  waits for a receiver.
- shared.notifications.attempts claims them and moves each on after an attempt; shared.notifications.sending
  POSTs them. `list_messages` reads an endpoint's back, with their attempts: its delivery log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.errors import Conflict
from shared.notifications.endpoints import get_endpoint
from shared.notifications.models import EventType, MessageState, WebhookEndpoint, WebhookMessage


@dataclass(frozen=True)
class Event:
    """Something that happened in a workspace that its endpoints may want to hear about."""

    workspace_id: uuid.UUID
    type: EventType
    payload: Mapping[str, Any]


def emit_all(session: Session, events: Sequence[Event]) -> list[WebhookMessage]:
    """emit for many events at once, reading the endpoints once: publishing finishes deliveries in batches."""
    if not events:
        return []
    endpoints: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    for endpoint in session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.workspace_id.in_({event.workspace_id for event in events}),
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ):
        endpoints.setdefault(endpoint.workspace_id, []).append(endpoint)
    now = utcnow()
    messages = [
        _message(endpoint, event.type, json_ready(event.payload), now)
        for event in events
        for endpoint in endpoints.get(event.workspace_id, [])
        if endpoint.subscribes_to(event.type)
    ]
    session.add_all(messages)
    session.flush()
    return messages


def emit(
    session: Session, workspace_id: uuid.UUID, event: EventType, payload: Mapping[str, Any]
) -> list[WebhookMessage]:
    """Owe `event` to each of the workspace's active endpoints subscribed to it, in the caller's transaction.

    Nothing is sent here: a sender picks the messages up once the transaction has committed, and a
    rolled-back action leaves no message behind. `payload` may hold datetimes, UUIDs and enums besides
    JSON's own types.
    """
    return emit_all(session, [Event(workspace_id, event, payload)])


def ping_endpoint(session: Session, workspace_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookMessage:
    """Owe a `ping` to one endpoint, whatever it subscribes to: a person checking that it receives."""
    endpoint = get_endpoint(session, workspace_id, endpoint_id)
    if not endpoint.active:
        raise Conflict("The webhook is inactive: activate it, then ping it.")
    message = _message(endpoint, EventType.PING, {"webhook_id": str(endpoint.id)}, utcnow())
    session.add(message)
    session.flush()
    return message


def _message(
    endpoint: WebhookEndpoint, event: EventType, payload: dict[str, Any], now: datetime
) -> WebhookMessage:
    return WebhookMessage(
        endpoint_id=endpoint.id,
        workspace_id=endpoint.workspace_id,
        event_type=event.value,
        payload=payload,
        state=MessageState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        # Known to be empty, so the message can be shown after its session has closed.
        attempt_log=[],
    )


def json_ready(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON values; raises TypeError for a value with no obvious JSON form."""
    return cast(dict[str, Any], json.loads(json.dumps(dict(payload), default=_json_value)))


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"a webhook payload cannot carry {type(value).__name__} values")


def list_messages(
    session: Session,
    workspace_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[WebhookMessage]:
    """An endpoint's messages with their attempts, newest first; `before` is the (created_at, id) of the
    last message of the previous page."""
    get_endpoint(session, workspace_id, endpoint_id)
    query = select(WebhookMessage).where(
        WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.workspace_id == workspace_id
    )
    if before is not None:
        created_at, message_id = before
        query = query.where(
            (WebhookMessage.created_at < created_at)
            | ((WebhookMessage.created_at == created_at) & (WebhookMessage.id < message_id))
        )
    return session.scalars(
        query.order_by(WebhookMessage.created_at.desc(), WebhookMessage.id.desc()).limit(limit)
    ).all()
