"""What a network looks like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields


class RateSchema(Schema):
    """A token bucket: up to `burst` posts at once, refilled at `per_second`."""

    burst = fields.Integer(metadata={"example": 2})
    per_second = fields.Float(metadata={"example": 0.0333})


class MediaRuleSchema(Schema):
    content_types = fields.List(fields.String(), metadata={"example": ["image/jpeg", "image/png"]})
    max_bytes = fields.Integer(metadata={"example": 16_777_216})
    max_items = fields.Integer(metadata={"example": 4})
    alt_text_limit = fields.Integer(allow_none=True, metadata={"example": 1500})


class NetworkSchema(Schema):
    name = fields.String(metadata={"example": "sandbox"})
    display_name = fields.String(metadata={"example": "Sandbox"})
    text_limit = fields.Integer(
        allow_none=True,
        metadata={
            "description": "The default; a server may announce its own (see /v1/preview).",
            "example": 500,
        },
    )
    text_unit = fields.String(metadata={"description": "How the limit counts.", "example": "graphemes"})
    supports_threads = fields.Boolean()
    media = fields.Nested(MediaRuleSchema, allow_none=True, metadata={"description": "null: no media."})
    credential_keys = fields.List(
        fields.String(),
        metadata={"description": "The secrets a channel must give.", "example": ["access_token"]},
    )
    metrics = fields.List(fields.String(), metadata={"example": ["likes", "reposts", "views"]})
    can_find_published = fields.Boolean(
        metadata={
            "description": "Whether Crier can ask the network if an uncertain attempt made the post. "
            "If not, a person settles each uncertain delivery."
        }
    )
    can_delete = fields.Boolean(
        metadata={"description": "Whether Crier can delete a published post there (POST …/delete-published)."}
    )
    can_edit = fields.Boolean(
        metadata={
            "description": "Whether Crier can change a published post's text there (POST …/edit-published)."
        }
    )
    account_rate = fields.Nested(
        RateSchema,
        allow_none=True,
        metadata={"description": "The posting limit Crier keeps to per channel; null: none of its own."},
    )
    network_rate = fields.Nested(
        RateSchema,
        allow_none=True,
        metadata={
            "description": "The posting limit Crier keeps to across all channels; null: none of its own."
        },
    )


class NetworkListSchema(Schema):
    items = fields.List(fields.Nested(NetworkSchema))
