"""What a network looks like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.networks.ports import InboxKind


class RateSchema(Schema):
    """A token bucket: up to `burst` posts at once, refilled at `per_second`."""

    burst = fields.Integer(metadata={"example": 2})
    per_second = fields.Float(metadata={"example": 0.0333})


class MediaRuleSchema(Schema):
    content_types = fields.List(fields.String(), metadata={"example": ["image/jpeg", "image/png"]})
    max_bytes = fields.Integer(metadata={"example": 16_777_216})
    max_items = fields.Integer(metadata={"example": 4})
    min_items = fields.Integer(
        metadata={
            "description": "How many a post must have: 1 where the network takes no post without.",
            "example": 0,
        }
    )
    alt_text_limit = fields.Integer(allow_none=True, metadata={"example": 1500})


class InboxAbilitiesSchema(Schema):
    """What Crier reads of an account's engagement there, and what it can do about an item."""

    kinds = fields.List(
        fields.Enum(InboxKind, by_value=True),
        metadata={
            "description": "Which items Crier reads into the inbox; empty: no inbox on this network.",
            "example": ["reply", "mention"],
        },
    )
    can_search = fields.Boolean(metadata={"description": "Whether a stream (saved search) can search it."})
    can_reply = fields.Boolean(metadata={"description": "Whether Crier can reply to an item there."})
    can_like = fields.Boolean(metadata={"description": "Whether Crier can like (favourite) an item there."})
    can_hide = fields.Boolean(
        metadata={"description": "Whether Crier can hide a reply under the account's post there."}
    )


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
    supports_first_comment = fields.Boolean(
        metadata={
            "description": "Whether a variant's options may give a first_comment, posted under the post."
        }
    )
    media = fields.Nested(MediaRuleSchema, allow_none=True, metadata={"description": "null: no media."})
    credential_keys = fields.List(
        fields.String(),
        metadata={"description": "The secrets a channel must give.", "example": ["access_token"]},
    )
    optional_credential_keys = fields.List(
        fields.String(),
        metadata={
            "description": "Credentials a channel may also give (a refresh token, the account's id).",
            "example": ["refresh_token"],
        },
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
    inbox = fields.Nested(InboxAbilitiesSchema)


class NetworkListSchema(Schema):
    items = fields.List(fields.Nested(NetworkSchema))
