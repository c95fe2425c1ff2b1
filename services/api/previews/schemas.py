"""A draft in, per channel the exact texts out."""

from __future__ import annotations

import uuid

from marshmallow import Schema, fields, validate

from services.api.posts.schemas import MAX_CHANNELS_PER_POST, MAX_THREAD_ITEMS, REPLY_LENGTH, TEXT_LENGTH


class PreviewRequestSchema(Schema):
    text = fields.String(required=True, validate=TEXT_LENGTH, metadata={"example": "Hello 👋"})
    thread = fields.List(
        fields.String(validate=REPLY_LENGTH),
        load_default=list,
        validate=validate.Length(max=MAX_THREAD_ITEMS),
        metadata={"description": "Replies that follow the post, on networks with threads."},
    )
    options = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Network options such as content_warning.", "example": {}},
    )
    channel_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHANNELS_PER_POST),
        metadata={"example": [str(uuid.UUID(int=1))]},
    )


class TextPreviewSchema(Schema):
    text = fields.String(metadata={"description": "Exactly what would be sent."})
    length = fields.Integer(metadata={"description": "As the network counts it."})
    limit = fields.Integer(allow_none=True, metadata={"description": "null: no limit."})
    problems = fields.List(fields.String())


class ChannelPreviewSchema(Schema):
    channel_id = fields.UUID()
    network = fields.String(metadata={"example": "sandbox"})
    sendable = fields.Boolean(metadata={"description": "No problem with the channel or any text."})
    texts = fields.List(fields.Nested(TextPreviewSchema))
    problems = fields.List(fields.String())


class PreviewSchema(Schema):
    channels = fields.List(fields.Nested(ChannelPreviewSchema))
