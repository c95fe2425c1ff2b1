"""What a post looks like on the wire."""

from __future__ import annotations

import uuid

from marshmallow import Schema, fields, validate

from services.api.deliveries.schemas import DeliverySchema
from services.api.fields import UTCDateTime
from shared.posts.models import PostState

MAX_CHANNELS_PER_POST = 50


class PostCreateSchema(Schema):
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, error="The text is empty."),
        metadata={"example": "Our spring meetup is on! Tickets at example.org/meetup"},
    )
    channel_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHANNELS_PER_POST),
        metadata={"description": "Distinct channels to publish on.", "example": [str(uuid.UUID(int=1))]},
    )
    scheduled_at = UTCDateTime(
        load_default=None,
        metadata={
            "description": "When to publish, with a UTC offset. Omitted or null: now.",
            "example": "2026-05-01T09:00:00+02:00",
        },
    )


class PostSchema(Schema):
    id = fields.UUID()
    text = fields.String(metadata={"example": "Our spring meetup is on! Tickets at example.org/meetup"})
    scheduled_at = UTCDateTime()
    created_at = UTCDateTime()
    state = fields.Enum(
        PostState, by_value=True, metadata={"description": "Derived from the deliveries' states."}
    )
    deliveries = fields.List(fields.Nested(DeliverySchema))
