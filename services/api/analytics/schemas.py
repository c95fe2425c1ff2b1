"""Analytics on the wire: series times in the asked timezone, with their offset; unknown counts are null."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from marshmallow import Schema, fields, pre_dump, validate

from services.api.fields import UTCDateTime, within_calendar_years
from services.api.paging import decode_cursor
from shared.channels.slots import WEEKDAY_KEYS
from shared.metrics.best_times import BestTimeCell, Suggestion
from shared.metrics.series import Bucket, Point
from shared.metrics.summary import RankedPost

UNKNOWN_IS_NULL = "Null: no selected channel reports it (not zero)."


class PeriodQuerySchema(Schema):
    # `from` is a Python keyword: the field is named `start` and reads the `from` parameter.
    start = fields.DateTime(
        data_key="from",
        validate=within_calendar_years,
        metadata={
            "description": "Without an offset, read in `tz`. Default: 30 days before `to`.",
            "example": "2026-03-01T00:00:00",
        },
    )
    end = fields.DateTime(
        data_key="to",
        validate=within_calendar_years,
        metadata={
            "description": "Exclusive. Without an offset, read in `tz`. Default: now.",
            "example": "2026-04-01T00:00:00",
        },
    )
    tz = fields.String(
        load_default="UTC",
        metadata={
            "description": "IANA timezone for `from`, `to` and the buckets.",
            "example": "Europe/Paris",
        },
    )


class SelectionQuerySchema(PeriodQuerySchema):
    network = fields.String(metadata={"description": "Only this network's channels.", "example": "mastodon"})
    label = fields.String(
        metadata={"description": "Only posts with this label.", "example": "spring-campaign"}
    )


class SeriesQuerySchema(SelectionQuerySchema):
    bucket = fields.Enum(Bucket, by_value=True, load_default=Bucket.DAY)


class ScopedSeriesQuerySchema(PeriodQuerySchema):
    bucket = fields.Enum(Bucket, by_value=True, load_default=Bucket.DAY)


class SummaryQuerySchema(SelectionQuerySchema):
    channel_id = fields.UUID(metadata={"description": "Only this channel."})
    top = fields.Integer(load_default=5, validate=validate.Range(min=0, max=50))


class RankCursor(fields.Field[tuple[int, uuid.UUID]]):
    """The previous page's next_cursor, read back into (interactions, post id); else a 422 on `cursor`."""

    default_error_messages = {"invalid_cursor": "Not a cursor this API gave out; pass next_cursor as is."}

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "description": "The previous page's next_cursor; omit for the first."}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[int, uuid.UUID]:
        try:
            rank, post_id = decode_cursor(value)
            if not isinstance(rank, int) or isinstance(rank, bool) or abs(rank) >= 2**62:
                raise TypeError(f"{rank!r} is no rank")
            return rank, uuid.UUID(post_id)
        except (ValueError, TypeError) as error:
            raise self.make_error("invalid_cursor") from error


def encode_rank_cursor(rank: int, post_id: uuid.UUID) -> str:
    raw = json.dumps([rank, str(post_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class RankedPostsQuerySchema(SelectionQuerySchema):
    channel_id = fields.UUID(metadata={"description": "Only this channel."})
    cursor = RankCursor()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class BestTimesQuerySchema(Schema):
    days = fields.Integer(
        load_default=90,
        validate=validate.Range(min=7, max=730),
        metadata={"description": "How far back the channel's posts are read."},
    )
    suggestions = fields.Integer(load_default=3, validate=validate.Range(min=0, max=24))


class SnapshotsQuerySchema(Schema):
    start = fields.Date(
        data_key="from",
        validate=within_calendar_years,
        metadata={"description": "Default: 90 days before `to`."},
    )
    end = fields.Date(
        data_key="to",
        validate=within_calendar_years,
        metadata={"description": "Inclusive. Default: today (UTC)."},
    )


class CountsSchema(Schema):
    likes = fields.Integer(allow_none=True, metadata={"description": UNKNOWN_IS_NULL})
    reposts = fields.Integer(allow_none=True, metadata={"description": UNKNOWN_IS_NULL})
    replies = fields.Integer(allow_none=True, metadata={"description": UNKNOWN_IS_NULL})
    quotes = fields.Integer(allow_none=True, metadata={"description": UNKNOWN_IS_NULL})
    bookmarks = fields.Integer(allow_none=True, metadata={"description": UNKNOWN_IS_NULL})
    views = fields.Integer(allow_none=True, metadata={"description": f"Impressions. {UNKNOWN_IS_NULL}"})
    clicks = fields.Integer(
        allow_none=True, metadata={"description": "On Crier's own short links. Null: none of them have any."}
    )
    interactions = fields.Integer(
        allow_none=True, metadata={"description": "likes + reposts + replies + quotes + bookmarks + clicks."}
    )


class PointSchema(CountsSchema):
    start = fields.DateTime(metadata={"description": "The bucket's first moment, in the asked timezone."})
    end = fields.DateTime(metadata={"description": "Exclusive."})

    @pre_dump
    def flatten(self, point: Point, **_: Any) -> dict[str, Any]:
        return {"start": point.start, "end": point.end, **point.counts, "interactions": point.interactions}


class SeriesSchema(Schema):
    timezone = fields.String(metadata={"example": "Europe/Paris"})
    bucket = fields.Enum(Bucket, by_value=True)
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    source = fields.String(
        validate=validate.OneOf(["rollups", "samples"]),
        metadata={"description": "Hourly rollups, or a post's or label's raw samples."},
    )
    points = fields.List(fields.Nested(PointSchema))
    totals = fields.Nested(CountsSchema)


class RankedPostSchema(CountsSchema):
    post_id = fields.UUID()
    text = fields.String()
    published_at = UTCDateTime(metadata={"description": "Its first delivery's."})
    deliveries = fields.Integer()
    deleted = fields.Boolean(metadata={"description": "A delivery was deleted from its network."})

    @pre_dump
    def flatten(self, post: RankedPost, **_: Any) -> dict[str, Any]:
        return {
            "post_id": post.post_id,
            "text": post.text,
            "published_at": post.published_at,
            "deliveries": post.deliveries,
            "deleted": post.deleted,
            **post.counts,
            "interactions": post.interactions,
        }


class RankedPostsSchema(Schema):
    items = fields.List(fields.Nested(RankedPostSchema))
    next_cursor = fields.String(allow_none=True)


class EngagementRateSchema(Schema):
    value = fields.Float(allow_none=True, metadata={"example": 0.034})
    basis = fields.String(
        allow_none=True, validate=validate.OneOf(["views", "followers"]), metadata={"example": "views"}
    )
    definition = fields.String()
    interactions = fields.Integer()
    denominator = fields.Integer(metadata={"description": "The views, or the followers, divided by."})
    channels = fields.Integer(metadata={"description": "How many channels the rate is over."})


class SummarySchema(Schema):
    timezone = fields.String()
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    totals = fields.Nested(CountsSchema, metadata={"description": "What was gained in the period."})
    posts_published = fields.Integer()
    engagement_rate = fields.Nested(EngagementRateSchema)
    top_posts = fields.List(
        fields.Nested(RankedPostSchema), metadata={"description": "Posts published in the period."}
    )


class BestTimeCellSchema(Schema):
    weekday = fields.String(validate=validate.OneOf(WEEKDAY_KEYS), metadata={"example": "tue"})
    hour = fields.Integer(metadata={"description": "On the channel's clock.", "example": 9})
    posts = fields.Integer(metadata={"description": "The sample size: posts published then."})
    mean_interactions = fields.Float()
    engagement_rate = fields.Float(allow_none=True, metadata={"description": "Over views; null without."})

    @pre_dump
    def name_weekday(self, cell: BestTimeCell, **_: Any) -> dict[str, Any]:
        return _cell_fields(cell)


class SuggestionSchema(BestTimeCellSchema):
    next_at = fields.DateTime(metadata={"description": "The next free such slot, on the channel's clock."})

    @pre_dump
    def name_weekday(self, suggestion: Suggestion, **_: Any) -> dict[str, Any]:
        return {**_cell_fields(suggestion.cell), "next_at": suggestion.next_at}


def _cell_fields(cell: BestTimeCell) -> dict[str, Any]:
    return {
        "weekday": WEEKDAY_KEYS[cell.weekday],
        "hour": cell.hour,
        "posts": cell.posts,
        "mean_interactions": round(cell.mean_interactions, 2),
        "engagement_rate": cell.engagement_rate,
    }


class BestTimesSchema(Schema):
    channel_id = fields.UUID()
    timezone = fields.String(metadata={"description": "The channel's: every weekday and hour is on it."})
    since = UTCDateTime()
    until = UTCDateTime(metadata={"description": "Younger posts are left out: their engagement is to come."})
    posts = fields.Integer()
    cells = fields.List(fields.Nested(BestTimeCellSchema), metadata={"description": "Only hours with posts."})
    suggestions = fields.List(fields.Nested(SuggestionSchema))
    posting_schedule = fields.Dict(
        metadata={
            "description": "The suggestions as a posting schedule: PATCH it into the channel for its queue.",
            "example": {
                "mon": [],
                "tue": ["09:00"],
                "wed": [],
                "thu": ["18:00"],
                "fri": [],
                "sat": [],
                "sun": [],
            },
        }
    )


class SnapshotSchema(Schema):
    day = fields.Date()
    followers = fields.Integer(allow_none=True)
    following = fields.Integer(allow_none=True)
    posts = fields.Integer(allow_none=True)
    taken_at = UTCDateTime()


class SnapshotsSchema(Schema):
    channel_id = fields.UUID()
    items = fields.List(fields.Nested(SnapshotSchema), metadata={"description": "Oldest first, one a day."})


class ResponsivenessSchema(Schema):
    items = fields.Integer(metadata={"description": "Replies, mentions, quotes and messages written then."})
    answered = fields.Integer(metadata={"description": "Those with a published reply made from Crier."})
    response_rate = fields.Float(allow_none=True, metadata={"description": "answered / items; null: none."})
    median_seconds = fields.Float(
        allow_none=True, metadata={"description": "From the item's writing to its first reply going out."}
    )
    mean_seconds = fields.Float(allow_none=True)


class ChannelResponsivenessSchema(ResponsivenessSchema):
    channel_id = fields.UUID(attribute="key")


class MemberResponsivenessSchema(ResponsivenessSchema):
    member_id = fields.UUID(
        attribute="key",
        allow_none=True,
        metadata={"description": "Who wrote the first reply; null: removed."},
    )


class ResponsesSchema(Schema):
    timezone = fields.String()
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    channels = fields.List(
        fields.Nested(ChannelResponsivenessSchema), metadata={"description": "Most items first."}
    )
    members = fields.List(
        fields.Nested(MemberResponsivenessSchema),
        metadata={"description": "Answered items only, by who answered first."},
    )
