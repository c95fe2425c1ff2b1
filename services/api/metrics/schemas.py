"""What a post's metrics look like on the wire."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import Schema, fields, pre_dump

from services.api.fields import UTCDateTime
from shared.deliveries.models import Delivery
from shared.metrics.models import MetricSample


class MetricSampleSchema(Schema):
    """One reading; a null count means the network did not say, which is not zero."""

    collected_at = UTCDateTime()
    likes = fields.Integer(allow_none=True, metadata={"example": 42})
    reposts = fields.Integer(allow_none=True, metadata={"example": 8})
    replies = fields.Integer(allow_none=True, metadata={"example": 4})
    quotes = fields.Integer(allow_none=True, metadata={"example": 1})
    bookmarks = fields.Integer(allow_none=True, metadata={"example": 2})
    views = fields.Integer(allow_none=True, metadata={"example": 1260})
    clicks = fields.Integer(
        allow_none=True,
        metadata={"example": 3, "description": "On Crier's own short links; null without any."},
    )


class DeliveryMetricsSchema(Schema):
    delivery_id = fields.UUID()
    channel_id = fields.UUID()
    network = fields.String(metadata={"example": "sandbox"})
    latest = fields.Nested(MetricSampleSchema, allow_none=True)
    samples = fields.List(fields.Nested(MetricSampleSchema), metadata={"description": "Oldest first."})

    @pre_dump
    def unpack(self, row: tuple[Delivery, Sequence[MetricSample]], **_: Any) -> dict[str, Any]:
        """A (delivery, samples) pair, as shared.metrics.services.samples_for_post gives it."""
        delivery, samples = row
        return {
            "delivery_id": delivery.id,
            "channel_id": delivery.channel_id,
            "network": delivery.channel.network,
            "latest": samples[-1] if samples else None,
            "samples": samples,
        }


class PostMetricsSchema(Schema):
    post_id = fields.UUID()
    deliveries = fields.List(fields.Nested(DeliveryMetricsSchema))


class RefreshQueuedSchema(Schema):
    post_id = fields.UUID()
    queued = fields.Boolean(metadata={"example": True})
