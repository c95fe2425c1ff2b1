"""What a webhook endpoint and its delivery log look like on the wire."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from services.api.fields import SecretUrl, UTCDateTime
from services.api.paging import Cursor
from shared.notifications.endpoints import MAX_URL_LENGTH, EndpointSecret
from shared.notifications.models import (
    ALL_EVENTS,
    SUBSCRIBABLE_EVENTS,
    MessageState,
    WebhookAttemptOutcome,
)
from shared.workspaces.access import Permission

EVENTS_DESCRIPTION = (
    f'The event types to send, or ["{ALL_EVENTS}"] for every one (those added later included). At least '
    f"one: to hear nothing, deactivate the webhook. One of: {', '.join([ALL_EVENTS, *SUBSCRIBABLE_EVENTS])}."
)


def _url(**kwargs: Any) -> fields.String:
    # Only a string of bounded length here: the service checks the scheme, the host and its address,
    # under the server's settings.
    return fields.String(
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={
            "description": "Where Crier POSTs each event: https (or http), never to a private address "
            "unless the server allows it.",
            "example": "https://hooks.example.org/crier",
        },
        **kwargs,
    )


def _events(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        metadata={"description": EVENTS_DESCRIPTION, "example": ["delivery.failed", "delivery.needs_review"]},
        **kwargs,
    )


def _description(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Length(max=500), metadata={"example": "Alerts in the ops channel"}, **kwargs
    )


class WebhookCreateSchema(Schema):
    url = _url(required=True)
    events = _events(required=True)
    description = _description(load_default="")
    active = fields.Boolean(load_default=True)


class WebhookUpdateSchema(Schema):
    """Only the fields given change."""

    url = _url()
    events = _events()
    description = _description()
    active = fields.Boolean(
        metadata={"description": "false: nothing is sent (messages wait); true: sending resumes."}
    )


class WebhookSchema(Schema):
    id = fields.UUID()
    url = SecretUrl(
        needs=Permission.MANAGE_WORKSPACE,
        metadata={
            "description": "Where Crier POSTs. A webhook's URL is often its credential: members who may not "
            "manage webhooks (below admin) see its host alone, as https://hooks.example.org/….",
            "example": "https://hooks.example.org/crier",
        },
    )
    description = fields.String()
    events = fields.List(fields.String(), metadata={"example": ["delivery.failed"]})
    active = fields.Boolean()
    deactivated_reason = fields.String(
        allow_none=True,
        metadata={"description": "Why Crier deactivated it (the receiver answered 410 Gone), if it did."},
    )
    created_at = UTCDateTime()


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema))


class WebhookWithSecretSchema(WebhookSchema):
    """The webhook with its signing secret, which this answer is the only one to show."""

    secret = fields.String(
        metadata={
            "description": "The HMAC-SHA256 key of X-Crier-Signature. Shown only now: store it.",
            "example": "whsec_3q2-7wEjX0mXx8dZ2bq4sQn0h6e1lJcB2H7pX9fV0yA",
        }
    )

    def get_attribute(self, obj: EndpointSecret, attr: str, default: Any) -> Any:
        # The secret travels beside the endpoint, never on it: the endpoint keeps it only sealed.
        return super().get_attribute(obj if attr == "secret" else obj.endpoint, attr, default)


class WebhookAttemptSchema(Schema):
    """One POST to the receiver."""

    at = UTCDateTime()
    duration_ms = fields.Integer(metadata={"example": 84})
    status_code = fields.Integer(
        allow_none=True, metadata={"description": "Null when no HTTP answer came.", "example": 200}
    )
    outcome = fields.Enum(WebhookAttemptOutcome, by_value=fields.String)
    error = fields.String(
        allow_none=True, metadata={"description": "What went wrong, with the answer's start."}
    )


class WebhookMessageSchema(Schema):
    """One event sent (or being sent) to the webhook, with every attempt."""

    id = fields.UUID(
        metadata={"description": "The body's `id` and X-Crier-Delivery, the same on every attempt."}
    )
    type = fields.String(attribute="event_type", metadata={"example": "delivery.failed"})
    data = fields.Dict(attribute="payload", metadata={"description": "The event's document, as sent."})
    state = fields.Enum(MessageState, by_value=fields.String)
    next_attempt_at = UTCDateTime(allow_none=True, metadata={"description": "Null unless pending."})
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime(metadata={"description": "When the event happened."})
    attempts = fields.List(
        fields.Nested(WebhookAttemptSchema),
        attribute="attempt_log",
        metadata={"description": "Every POST, oldest first."},
    )


class WebhookMessageQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = Cursor(
        metadata={
            "type": "string",
            "description": "The previous page's next_cursor; omit for the newest messages.",
        }
    )


class WebhookMessagePageSchema(Schema):
    items = fields.List(fields.Nested(WebhookMessageSchema))
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last one."}
    )
