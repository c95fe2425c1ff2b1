"""The audit log on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.api.fields import UTCDateTime
from services.api.paging import Cursor


class AuditEntrySchema(Schema):
    id = fields.UUID()
    at = UTCDateTime()
    member_id = fields.UUID(
        allow_none=True, metadata={"description": "Null: Crier itself, or a removed member."}
    )
    actor = fields.String(metadata={"example": "Ana Lima"})
    action = fields.String(metadata={"example": "post.approved"})
    subject_type = fields.String(metadata={"example": "post"})
    subject_id = fields.UUID()
    detail = fields.Dict()


class AuditListSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)


class AuditQuerySchema(Schema):
    subject_id = fields.UUID(metadata={"description": "Only what was done to this post, channel, member…"})
    cursor = Cursor()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
