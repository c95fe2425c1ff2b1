"""What a channel looks like on the wire."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from services.api.fields import UTCDateTime
from shared.channels.models import ChannelState


def PostingScheduleField(**kwargs: Any) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": (
                "Queue slots per weekday (mon … sun) as HH:MM in the channel's timezone; "
                "a slot keeps its wall-clock time across daylight-saving changes."
            ),
            "example": {"mon": ["09:00", "12:30", "17:45"], "tue": ["09:00"]},
        },
        **kwargs,
    )


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
    timezone = fields.String(
        load_default="UTC",
        metadata={"description": "IANA timezone of the posting slots.", "example": "Europe/Paris"},
    )
    posting_schedule = PostingScheduleField(load_default=dict)


class ChannelChangeSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = fields.String(metadata={"example": "Europe/Paris"})
    posting_schedule = PostingScheduleField()
    paused = fields.Boolean(metadata={"description": "Pause (true) or resume (false) publishing."})


class CredentialsSchema(Schema):
    credentials = fields.Dict(keys=fields.String(), values=fields.String(), required=True, load_only=True)


class VerificationSchema(Schema):
    channel = fields.Nested(lambda: ChannelSchema())
    ok = fields.Boolean()
    posts_as = fields.String(allow_none=True, metadata={"description": "The account the network names."})
    problem = fields.String(allow_none=True)


class ChannelSchema(Schema):
    id = fields.UUID()
    network = fields.String(metadata={"example": "sandbox"})
    name = fields.String(metadata={"example": "Acme on Sandbox"})
    handle = fields.String(metadata={"example": "acme"})
    settings = fields.Dict(keys=fields.String())
    state = fields.Enum(ChannelState, by_value=fields.String)
    timezone = fields.String()
    posting_schedule = PostingScheduleField()
    created_at = UTCDateTime()


class ChannelListSchema(Schema):
    items = fields.List(fields.Nested(ChannelSchema))
