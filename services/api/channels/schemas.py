"""What a channel looks like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.api.fields import UTCDateTime
from shared.channels.models import ChannelState


class ChannelCreateSchema(Schema):
    network = fields.String(required=True, metadata={"example": "sandbox"})
    name = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"example": "Acme on Sandbox"}
    )
    handle = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"example": "acme"}
    )
    settings = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Network-specific options.", "example": {"latency_ms": 50}},
    )
    credentials = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        load_default=dict,
        load_only=True,
        metadata={
            "description": "Secrets the network needs (a token, an app password, a webhook URL): "
            "checked with the network, stored sealed, never returned.",
            "example": {},
        },
    )


class ChannelSchema(Schema):
    id = fields.UUID()
    network = fields.String(metadata={"example": "sandbox"})
    name = fields.String(metadata={"example": "Acme on Sandbox"})
    handle = fields.String(metadata={"example": "acme"})
    settings = fields.Dict(keys=fields.String())
    state = fields.Enum(ChannelState, by_value=fields.String)
    created_at = UTCDateTime()


class ChannelListSchema(Schema):
    items = fields.List(fields.Nested(ChannelSchema))
