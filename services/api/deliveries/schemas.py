"""What a delivery looks like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.api.fields import UTCDateTime
from shared.deliveries.models import Delivery, DeliveryState


class DeliverySchema(Schema):
    id = fields.UUID()
    channel_id = fields.UUID()
    network = fields.String(attribute="channel.network", metadata={"example": "sandbox"})
    state = fields.Enum(DeliveryState, by_value=fields.String)
    due_at = UTCDateTime()
    published_at = UTCDateTime(allow_none=True)
    url = fields.String(
        attribute="external_url", allow_none=True, metadata={"example": "https://sandbox.invalid/@acme/1f3c"}
    )
    error = fields.String(attribute="last_error", allow_none=True)
    attempts = fields.Method(
        "count_attempts", metadata={"type": "integer", "description": "Calls made to the network so far."}
    )

    def count_attempts(self, delivery: Delivery) -> int:
        return len(delivery.attempts)


class DeliveryListItemSchema(DeliverySchema):
    """A delivery listed across posts names its post."""

    post_id = fields.UUID()


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliveryListItemSchema))


class DeliveryQuerySchema(Schema):
    state = fields.Enum(
        DeliveryState, by_value=fields.String, metadata={"description": "Only deliveries in this state."}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
