"""What a network looks like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields


class NetworkSchema(Schema):
    name = fields.String(metadata={"example": "sandbox"})
    display_name = fields.String(metadata={"example": "Sandbox"})
    text_limit = fields.Integer(metadata={"description": "In graphemes.", "example": 500})
    metrics = fields.List(fields.String(), metadata={"example": ["likes", "reposts", "views"]})


class NetworkListSchema(Schema):
    items = fields.List(fields.Nested(NetworkSchema))
