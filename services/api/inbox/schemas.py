"""What the inbox looks like on the wire."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.api.fields import UTCDateTime
from services.api.paging import Cursor
from services.api.posts.schemas import MAX_THREAD_ITEMS, REPLY_LENGTH, TEXT_LENGTH, PostSchema
from shared.inbox.models import ActionKind, ActionState, ItemState
from shared.inbox.streams import NAME_WIDTH, QUERY_WIDTH
from shared.inbox.working import NOBODY, NOTE_LIMIT
from shared.networks.ports import InboxKind

VERSION_DESCRIPTION = "Bumped by every change; the ETag (send it as If-Match to PATCH)."


class Assignee(fields.Field[uuid.UUID | str]):
    """A member's id, or `none` for the items given to nobody."""

    default_error_messages = {"invalid_assignee": f"Give a member's id, or {NOBODY!r} for the unassigned."}

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "description": f"A member's id, or `{NOBODY}` for items assigned to nobody.",
            "example": NOBODY,
        }
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> uuid.UUID | str:
        if value == NOBODY:
            return NOBODY
        try:
            return uuid.UUID(str(value))
        except ValueError as error:
            raise self.make_error("invalid_assignee") from error


class AuthorSchema(Schema):
    """Who wrote the item, as their network shows them."""

    handle = fields.String(attribute="author_handle", metadata={"example": "ada@example.social"})
    display_name = fields.String(attribute="author_name", allow_none=True, metadata={"example": "Ada"})
    avatar_url = fields.String(attribute="author_avatar_url", allow_none=True)
    url = fields.String(attribute="author_url", allow_none=True)


class InboxItemSchema(Schema):
    """A reply, mention, quote, message or (in a stream) found post."""

    id = fields.UUID()
    channel_id = fields.UUID()
    network = fields.String(metadata={"example": "mastodon"})
    kind = fields.Enum(InboxKind, by_value=True)
    external_id = fields.String(metadata={"description": "The network's id of it."})
    url = fields.String(allow_none=True)
    author = fields.Nested(AuthorSchema)
    text = fields.String(metadata={"description": "As the network sent it (HTML on Mastodon)."})
    plain_text = fields.String()
    created_at = UTCDateTime(metadata={"description": "When its network says it was written."})
    received_at = UTCDateTime(metadata={"description": "When Crier read it."})
    in_reply_to = fields.String(allow_none=True, metadata={"description": "The network id it answers."})
    quotes = fields.String(allow_none=True, metadata={"description": "The network id it quotes."})
    thread_root = fields.String(allow_none=True, metadata={"description": "Its conversation's first post."})
    post_id = fields.UUID(allow_none=True, metadata={"description": "The Crier post it answers or quotes."})
    delivery_id = fields.UUID(allow_none=True, metadata={"description": "That post's delivery."})
    state = fields.Enum(ItemState, by_value=True)
    unread = fields.Boolean()
    assignee_id = fields.UUID(allow_none=True)
    labels = fields.List(fields.String(), attribute="label_names", metadata={"example": ["question"]})
    version = fields.Integer(metadata={"description": VERSION_DESCRIPTION})

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # The author's fields are columns of the item: the nested schema reads them from it.
        if attr == "author":
            return obj
        return super().get_attribute(obj, attr, default)


class InboxListSchema(Schema):
    items = fields.List(fields.Nested(InboxItemSchema))
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last."}
    )


class InboxQuerySchema(Schema):
    channel_id = fields.UUID()
    network = fields.String(metadata={"example": "mastodon"})
    kind = fields.Enum(InboxKind, by_value=True)
    state = fields.Enum(ItemState, by_value=True)
    assignee_id = Assignee()
    label = fields.String()
    post_id = fields.UUID(metadata={"description": "Only items answering or quoting this post."})
    stream_id = fields.UUID(
        metadata={"description": "A stream's items; without it, the channels' inboxes only."}
    )
    unread = fields.Boolean()
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Words in the text or the author's handle or name, whatever their case."},
    )
    cursor = Cursor()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ChannelUnreadSchema(Schema):
    channel_id = fields.UUID()
    unread = fields.Integer()


class UnreadSchema(Schema):
    """Open, unread items of each channel's inbox (streams' items are not counted)."""

    total = fields.Integer()
    channels = fields.List(fields.Nested(ChannelUnreadSchema))


class NoteSchema(Schema):
    id = fields.UUID()
    author_id = fields.UUID(allow_none=True)
    text = fields.String()
    created_at = UTCDateTime()


class NoteWriteSchema(Schema):
    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=NOTE_LIMIT),
        metadata={"description": "For the team: never sent to the network.", "example": "Ask Sam"},
    )


class ActionSchema(Schema):
    """A like or a hide, performed once on the network by a worker."""

    id = fields.UUID()
    kind = fields.Enum(ActionKind, by_value=True)
    state = fields.Enum(
        ActionState,
        by_value=True,
        metadata={"description": "`pending` until done; `failed` when refused or out of attempts."},
    )
    requested_by = fields.UUID(allow_none=True)
    requested_at = UTCDateTime()
    attempts = fields.Integer()
    done_at = UTCDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class InboxItemDetailSchema(InboxItemSchema):
    """An item with what the team did about it, and its conversation as Crier stored it."""

    notes = fields.List(fields.Nested(NoteSchema))
    actions = fields.List(fields.Nested(ActionSchema))
    replies = fields.List(
        fields.Nested(PostSchema),
        metadata={"description": "Replies made from Crier: posts, with their state and deliveries."},
    )
    thread = fields.List(
        fields.Nested(InboxItemSchema),
        metadata={
            "description": "The channel's stored items of its conversation, oldest first, it included."
        },
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr in {"replies", "thread"}:
            return getattr(obj, attr)
        return super().get_attribute(obj.item, attr, default)


class EntryAuthorSchema(Schema):
    handle = fields.String(metadata={"example": "ada@example.social"})
    display_name = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    url = fields.String(allow_none=True)


class ThreadEntrySchema(Schema):
    """One post of a conversation."""

    item_id = fields.UUID(
        allow_none=True, metadata={"description": "The inbox item it is stored as, if Crier read it."}
    )
    external_id = fields.String()
    kind = fields.Enum(InboxKind, by_value=True)
    author = fields.Nested(EntryAuthorSchema)
    text = fields.String()
    plain_text = fields.String()
    url = fields.String(allow_none=True)
    created_at = UTCDateTime()
    in_reply_to = fields.String(allow_none=True)
    quotes = fields.String(allow_none=True)
    thread_root = fields.String(allow_none=True)


class ThreadSchema(Schema):
    item_id = fields.UUID()
    live = fields.Boolean(metadata={"description": "Read from the network now, rather than as stored."})
    entries = fields.List(fields.Nested(ThreadEntrySchema), metadata={"description": "Oldest first."})


class ThreadQuerySchema(Schema):
    live = fields.Boolean(
        load_default=False,
        metadata={"description": "Ask the network now; without it, the thread as Crier stored it."},
    )


class ItemChangeSchema(Schema):
    """What to change of an item; fields left out keep their values."""

    state = fields.Enum(ItemState, by_value=True)
    assignee_id = fields.UUID(
        allow_none=True, metadata={"description": "The member to answer it; null to give it to nobody."}
    )
    labels = fields.List(
        fields.String(),
        metadata={"description": "The item's labels, all of them.", "example": ["question"]},
    )
    unread = fields.Boolean()


class ReplyWriteSchema(Schema):
    text = fields.String(
        required=True, validate=TEXT_LENGTH, metadata={"example": "It opens at 10, see you there!"}
    )
    thread = fields.List(
        fields.String(validate=REPLY_LENGTH),
        load_default=list,
        validate=validate.Length(max=MAX_THREAD_ITEMS),
        metadata={"description": "More posts under the reply, as a thread."},
    )


class StreamSchema(Schema):
    """A saved search on a channel's network, read like an inbox; its items: GET /v1/inbox?stream_id=."""

    id = fields.UUID()
    channel_id = fields.UUID()
    name = fields.String(metadata={"example": "Book fair"})
    query = fields.String(metadata={"example": "#bookfair"})
    created_by = fields.UUID(allow_none=True)
    created_at = UTCDateTime()
    last_read_at = UTCDateTime(allow_none=True)
    next_read_at = UTCDateTime()
    last_error = fields.String(allow_none=True, metadata={"description": "Why its last read failed."})


class StreamWriteSchema(Schema):
    channel_id = fields.UUID(required=True, metadata={"description": "Whose network is searched."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_WIDTH))
    query = fields.String(
        required=True,
        validate=validate.Length(min=1, max=QUERY_WIDTH),
        metadata={"description": "A #hashtag, or words.", "example": "#bookfair"},
    )


class StreamListSchema(Schema):
    items = fields.List(fields.Nested(StreamSchema))


class RefreshSchema(Schema):
    channel_id = fields.UUID(metadata={"description": "Read this channel's inbox now."})
    stream_id = fields.UUID(metadata={"description": "Read this stream now."})

    @validates_schema
    def one_source_at_most(self, data: dict[str, Any], **_: Any) -> None:
        if "channel_id" in data and "stream_id" in data:
            raise ValidationError("Give a channel or a stream, or neither for every source due.", "stream_id")


class InboxRefreshQueuedSchema(Schema):
    source_id = fields.UUID(
        allow_none=True, metadata={"description": "The inbox or stream to be read; null: all that are due."}
    )
    queued = fields.Boolean()
