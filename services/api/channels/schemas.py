"""What a channel looks like on the wire."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from marshmallow import Schema, fields, validate

from services.api.fields import SettingsWithSecretUrls, UTCDateTime
from shared.channels.models import ChannelState
from shared.workspaces.access import Permission


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


class CollectionSchema(Schema):
    """How reading the channel's numbers (engagement, followers) went lately."""

    last_success_at = UTCDateTime(allow_none=True, metadata={"description": "The last read that worked."})
    last_error = fields.String(
        allow_none=True,
        metadata={
            "description": "What the network (or Crier) said when the last read failed, in its own words.",
            "example": "Engagement: mastodon.example answered 501: Not Implemented",
        },
    )
    last_error_at = UTCDateTime(allow_none=True)
    failing_since = UTCDateTime(
        allow_none=True,
        metadata={"description": "Reads have failed since then; null once one works again."},
    )


class ChannelSchema(Schema):
    id = fields.UUID()
    network = fields.String(metadata={"example": "sandbox"})
    name = fields.String(metadata={"example": "Acme on Sandbox"})
    handle = fields.String(metadata={"example": "acme"})
    settings = SettingsWithSecretUrls(
        needs=Permission.MANAGE_CHANNELS,
        metadata={
            "description": "Network-specific options. A URL among them may be a credential (the webhook "
            "network's `url`): members who may not change channels (below admin) see its host alone."
        },
    )
    state = fields.Enum(ChannelState, by_value=fields.String)
    timezone = fields.String()
    posting_schedule = PostingScheduleField()
    created_at = UTCDateTime()
    metrics_collection = fields.Nested(
        CollectionSchema,
        attribute="collection",
        allow_none=True,
        metadata={"description": "Null until Crier has read the channel's numbers once."},
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # A channel connected in this very request was never read, and its row was never loaded: loading
        # it now, after the transaction, would fail, and there is nothing to find.
        if attr == "collection" and "collection" in sqlalchemy.inspect(obj).unloaded:
            return None
        return super().get_attribute(obj, attr, default)


class ChannelListSchema(Schema):
    items = fields.List(fields.Nested(ChannelSchema))
