"""Members, their roles, and their API tokens on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.api.fields import UTCDateTime
from shared.workspaces.access import Permission, Role, Scope


class MemberSchema(Schema):
    id = fields.UUID()
    name = fields.String(metadata={"example": "Ana Lima"})
    email = fields.String(metadata={"example": "ana@example.org"})
    role = fields.Enum(Role, by_value=True)
    timezone = fields.String(
        allow_none=True,
        metadata={
            "example": "Europe/Paris",
            "description": "The IANA time zone the dashboard shows this member's times in; null: not "
            "chosen, and times show in UTC.",
        },
    )
    created_at = UTCDateTime()


class MeSchema(MemberSchema):
    permissions = fields.List(
        fields.Enum(Permission, by_value=True),
        metadata={"description": "What this request's token may do: its member's role within its scope."},
    )


class MemberCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=320))
    role = fields.Enum(Role, by_value=True, required=True)


class MemberChangeSchema(Schema):
    role = fields.Enum(Role, by_value=True, required=True)


class MeChangeSchema(Schema):
    timezone = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "example": "Europe/Paris",
            "description": "An IANA time zone name (as in the tz database: 'Europe/Paris', 'America/New_York'"
            ", 'UTC'), or null to go back to not chosen (UTC).",
        },
    )


class MemberListSchema(Schema):
    items = fields.List(fields.Nested(MemberSchema))


class TokenSchema(Schema):
    id = fields.UUID()
    name = fields.String(metadata={"example": "deploy bot"})
    scope = fields.Enum(Scope, by_value=True)
    prefix = fields.String(metadata={"description": "The token's first characters, to tell tokens apart."})
    created_at = UTCDateTime()
    expires_at = UTCDateTime(allow_none=True)
    revoked_at = UTCDateTime(allow_none=True)
    last_used_at = UTCDateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(
        metadata={"description": "The bearer token. Shown this once: only its hash is kept."}
    )


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scope = fields.Enum(Scope, by_value=True, load_default=Scope.WRITE)
    expires_in_days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=3650),
        metadata={"description": "Omitted: it never expires."},
    )


class TokenListSchema(Schema):
    items = fields.List(fields.Nested(TokenSchema))
