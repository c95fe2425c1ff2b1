"""What a post looks like on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.api.deliveries.schemas import DeliverySchema
from services.api.fields import EXAMPLE_TIME, UTCDateTime, within_calendar_years
from services.api.paging import Cursor
from shared.posts.lengths import MAX_TEXT_CHARACTERS
from shared.posts.models import Post, PostState, Timing
from shared.posts.requests import PostRequest, TargetRequest
from shared.timezones import stored_zone, to_utc
from shared.workflow.states import post_state

MAX_CHANNELS_PER_POST = 50
MAX_THREAD_ITEMS = 25
# More than any network takes (each says how many in GET /v1/networks); only a bound on the request's size.
MAX_MEDIA_ITEMS = 20
TEXT_EXAMPLE = "Our spring meetup is on! Tickets at example.org/meetup"
# Each network's own limit is checked as it counts; this is Crier's, for the networks without one.
LONGEST_TEXT = validate.Length(
    max=MAX_TEXT_CHARACTERS,
    error=f"The text is too long: Crier takes at most {MAX_TEXT_CHARACTERS:,} characters.",
)
TEXT_LENGTH = [validate.Length(min=1, error="The text is empty."), LONGEST_TEXT]
REPLY_LENGTH = [validate.Length(min=1), LONGEST_TEXT]


class TargetSchema(Schema):
    """A channel to publish on and, optionally, its variant of the post."""

    channel_id = fields.UUID(required=True)
    text = fields.String(
        load_default=None,
        validate=TEXT_LENGTH,
        metadata={"description": "This channel's own text; omitted or null: the post's."},
    )
    thread = fields.List(
        fields.String(validate=REPLY_LENGTH),
        load_default=None,
        validate=validate.Length(max=MAX_THREAD_ITEMS),
        metadata={"description": "This channel's own replies (a thread, a first comment); null: the post's."},
    )
    options = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Network options: a content warning, visibility, language…"},
    )
    media = fields.List(
        fields.UUID(),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_MEDIA_ITEMS),
        metadata={"description": "This channel's own media ids, in order; [] for none; null: the post's."},
    )


class RecurrenceSchema(Schema):
    rule = fields.String(
        required=True,
        metadata={
            "description": "An RFC 5545 RRULE with COUNT or UNTIL, from `scheduled_at` in `timezone`.",
            "example": "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12",
        },
    )
    next_occurrence_at = UTCDateTime(dump_only=True, allow_none=True)


class PostWriteSchema(Schema):
    """A post to create, or (in a PATCH) the fields to change."""

    text = fields.String(
        required=True,
        validate=TEXT_LENGTH,
        metadata={"example": TEXT_EXAMPLE},
    )
    thread = fields.List(
        fields.String(validate=REPLY_LENGTH),
        load_default=list,
        validate=validate.Length(max=MAX_THREAD_ITEMS),
        metadata={"description": "Replies that follow the text as a thread, or a first comment."},
    )
    media = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=MAX_MEDIA_ITEMS),
        metadata={"description": "Ids from /v1/media to attach, in the order they are shown."},
    )
    channels = fields.List(
        fields.Nested(TargetSchema),
        validate=validate.Length(min=1, max=MAX_CHANNELS_PER_POST),
        metadata={"description": "The channels with their variants. Give this or `channel_ids`."},
    )
    channel_ids = fields.List(
        fields.UUID(),
        validate=validate.Length(min=1, max=MAX_CHANNELS_PER_POST),
        metadata={"description": "Distinct channels to publish on.", "example": [str(uuid.UUID(int=1))]},
    )
    labels = fields.List(fields.String(), load_default=list, metadata={"example": ["spring-campaign"]})
    timezone = fields.String(
        metadata={
            "description": "IANA timezone the post's time is in (default UTC).",
            "example": "Europe/Paris",
        },
    )
    scheduled_at = fields.DateTime(
        load_default=None,
        allow_none=True,
        validate=within_calendar_years,
        metadata={
            "description": (
                "When to publish (a recurrence: its first time). With an offset, that instant; without, "
                "the wall-clock time in `timezone`, which stays put across daylight-saving changes. "
                "Omitted or null: now."
            ),
            "example": EXAMPLE_TIME,
        },
    )
    queue = fields.String(
        load_default=None,
        validate=validate.OneOf(["last", "next"]),
        metadata={
            "description": (
                "Instead of a time: each channel's next free posting slot (`last`), or its first slot with "
                "the rest of the queue moved down (`next`, share next)."
            )
        },
    )
    recurrence = fields.Nested(RecurrenceSchema, load_default=None)
    draft = fields.Boolean(
        load_default=False, metadata={"description": "Keep it as a draft; submit it later to schedule it."}
    )

    @validates_schema
    def one_way_to_name_channels(self, data: dict[str, Any], **_: Any) -> None:
        if self.partial:
            return
        if ("channels" in data) == ("channel_ids" in data):
            raise ValidationError("Give the channels either as `channels` or as `channel_ids`.", "channels")

    @validates_schema
    def a_wall_clock_time_needs_its_zone(self, data: dict[str, Any], **_: Any) -> None:
        moment = data.get("scheduled_at")
        if moment is not None and moment.tzinfo is None and not data.get("timezone"):
            raise ValidationError(
                "Give the time with a UTC offset (…+02:00 or …Z), or a `timezone` to read it in.",
                "scheduled_at",
            )

    @validates_schema
    def one_way_to_choose_a_time(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("queue") and data.get("recurrence"):
            raise ValidationError("A post is queued or repeats, not both.", "queue")


class PostChangeSchema(PostWriteSchema):
    """The fields of a post to change; the others keep their values."""


def post_request(data: dict[str, Any]) -> PostRequest:
    """The service's request from a loaded PostWriteSchema."""
    targets = data.get("channels") or [{"channel_id": channel_id} for channel_id in data["channel_ids"]]
    timing = Timing.AT
    if data.get("queue"):
        timing = Timing.QUEUE
    elif data.get("recurrence"):
        timing = Timing.RECURRENCE
    return PostRequest(
        text=data["text"],
        thread=data["thread"],
        media=data["media"],
        targets=[TargetRequest(**target) for target in targets],
        labels=data["labels"],
        timezone=data.get("timezone") or "UTC",
        timing=timing,
        scheduled_at=_instant(data.get("scheduled_at"), data.get("timezone") or "UTC"),
        recurrence_rule=(data.get("recurrence") or {}).get("rule"),
        share_next=data.get("queue") == "next",
        draft=data["draft"],
        channels_pointer="/channels" if data.get("channels") else "/channel_ids",
    )


def _instant(moment: datetime | None, timezone: str) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")  # the service reports the unknown zone, with the request's other problems
    return to_utc(moment, zone)


class TargetOutSchema(Schema):
    channel_id = fields.UUID()
    text = fields.String(allow_none=True)
    thread = fields.List(fields.String(), allow_none=True)
    options = fields.Dict()
    media = fields.List(fields.UUID(), allow_none=True)


class ReviewSchema(Schema):
    comment = fields.String(attribute="review_comment", allow_none=True)
    reviewed_by = fields.UUID(allow_none=True)
    reviewed_at = UTCDateTime(allow_none=True)


class PostSchema(Schema):
    id = fields.UUID()
    text = fields.String(metadata={"example": TEXT_EXAMPLE})
    thread = fields.List(fields.String())
    media = fields.List(fields.UUID())
    channels = fields.List(fields.Nested(TargetOutSchema), attribute="targets")
    labels = fields.List(fields.String(), attribute="label_names")
    timezone = fields.String(metadata={"example": "Europe/Paris"})
    timing = fields.Enum(Timing, by_value=True)
    scheduled_at = UTCDateTime(allow_none=True)
    scheduled_local = fields.Method(
        "local_time",
        metadata={"type": "string", "nullable": True, "description": "scheduled_at in the post's timezone."},
    )
    recurrence = fields.Method("recurrence_of", metadata={"type": "object", "nullable": True})
    state = fields.Enum(
        PostState,
        by_value=True,
        metadata={"description": "Its workflow stage, then once scheduled, what its deliveries did."},
    )
    author_id = fields.UUID(allow_none=True)
    review = fields.Method("review_of", metadata={"type": "object", "nullable": True})
    version = fields.Integer(metadata={"description": "Bumped by every change; the ETag."})
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    deliveries = fields.List(fields.Nested(DeliverySchema))

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # Derived from the post's deliveries rather than kept on the row (shared.workflow.states).
        if attr == "state":
            return post_state(obj)
        return super().get_attribute(obj, attr, default)

    def local_time(self, post: Post) -> str | None:
        if post.scheduled_at is None:
            return None
        return post.scheduled_at.astimezone(stored_zone(post.timezone)).isoformat()

    def recurrence_of(self, post: Post) -> dict[str, Any] | None:
        return (
            RecurrenceSchema().dump(
                {"rule": post.recurrence_rule, "next_occurrence_at": post.next_occurrence_at}
            )
            if post.recurrence_rule
            else None
        )

    def review_of(self, post: Post) -> dict[str, Any] | None:
        return ReviewSchema().dump(post) if post.reviewed_at else None


class PostListSchema(Schema):
    items = fields.List(fields.Nested(PostSchema))
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last."}
    )


class PostQuerySchema(Schema):
    state = fields.Enum(PostState, by_value=True)
    channel_id = fields.UUID()
    label = fields.String()
    scheduled_from = UTCDateTime(metadata={"description": "Only posts scheduled at or after this time."})
    scheduled_to = UTCDateTime(metadata={"description": "Only posts scheduled before this time."})
    cursor = Cursor()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ReviewRequestSchema(Schema):
    comment = fields.String(load_default=None, validate=validate.Length(max=2000))


class RejectRequestSchema(Schema):
    comment = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "What the author should change."},
    )


class DeletePublishedSchema(Schema):
    channel_ids = fields.List(
        fields.UUID(),
        validate=validate.Length(min=1, max=MAX_CHANNELS_PER_POST),
        metadata={"description": "Only these channels; every channel the post is out on when left out."},
    )


class EditPublishedSchema(DeletePublishedSchema):
    text = fields.String(
        required=True,
        validate=TEXT_LENGTH,
        metadata={
            "description": "The post's new text on the networks that allow edits; checked as each counts it.",
            "example": "Our spring meetup moves to Saturday!",
        },
    )
