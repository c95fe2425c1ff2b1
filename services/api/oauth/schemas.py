"""What beginning and completing an authorization look like on the wire."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.api.fields import UTCDateTime


class AuthorizationBeginSchema(Schema):
    network = fields.String(metadata={"example": "mastodon"})
    name = fields.String(validate=validate.Length(min=1, max=200), metadata={"example": "Acme on Mastodon"})
    settings = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Network-specific options.",
            "example": {"base_url": "https://mastodon.social"},
        },
    )
    channel_id = fields.UUID(
        metadata={
            "description": "Reconnect this channel (its credentials stopped working) instead of connecting a "
            "new one. It keeps its network, name and settings, so send it alone."
        }
    )

    @validates_schema
    def _new_or_reconnected(self, data: dict[str, Any], **_: Any) -> None:
        if "channel_id" in data:
            extra = sorted({"network", "name", "settings"} & set(data))
            if extra:
                raise ValidationError(
                    "A reconnected channel keeps its network, name and settings.", field_name=extra[0]
                )
            return
        missing = {
            key: ["Missing data for required field."] for key in ("network", "name") if key not in data
        }
        if missing:
            raise ValidationError(missing)


class AuthorizationSchema(Schema):
    authorization_url = fields.String(
        metadata={
            "description": "The network's page where the person approves Crier; send their browser there.",
            "example": "https://mastodon.social/oauth/authorize?response_type=code&client_id=...",
        }
    )
    expires_at = UTCDateTime(metadata={"description": "Approve and come back before this time."})


class AuthorizationCompleteSchema(Schema):
    state = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The `state` the network sent the person back with."},
    )
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "The `code` the network sent the person back with."},
    )


class CallbackQuerySchema(Schema):
    """The network's redirect: a code and the state, or an error and the state (RFC 6749, 4.1.2)."""

    code = fields.String(load_default=None)
    state = fields.String(load_default=None)
    error = fields.String(load_default=None, metadata={"example": "access_denied"})
    error_description = fields.String(
        load_default=None, metadata={"description": "Read, but not shown: anyone can make a link with one."}
    )
