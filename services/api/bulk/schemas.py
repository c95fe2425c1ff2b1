"""What an import looks like on the wire, and what the exports can be asked for."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from services.api.fields import EXAMPLE_TIME, UTCDateTime
from shared.bulk.reading import MAX_ROWS
from shared.posts.models import PostState

CSV_EXAMPLE = (
    "text,channels,time,timezone,labels,text:mastodon\n"
    f"Our spring meetup is on!,Mastodon|Bluesky,{EXAMPLE_TIME[:16]},Europe/Paris,spring,"
    "Our spring meetup is on! #meetup\n"
    "Tickets are going fast,Mastodon,queue,,spring,\n"
)

_LIST_OF_TEXTS: dict[str, Any] = {
    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}
IMPORT_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["text", "channels"],
    "properties": {
        "text": {"type": "string"},
        "channels": {
            **_LIST_OF_TEXTS,
            "description": "Channel names or ids; in a text, separated by | or ;.",
        },
        "time": {
            "type": "string",
            "description": (
                "ISO 8601 with an offset (that instant), without one (the wall time in `timezone`), `now`, "
                "or `queue` (each channel's next free slot). Empty only for a draft."
            ),
        },
        "timezone": {"type": "string", "description": "IANA name; default UTC."},
        "labels": {**_LIST_OF_TEXTS, "description": "In a text, separated by | or ;."},
        "thread": {**_LIST_OF_TEXTS, "description": "Replies; in a text, separated by a blank line."},
        "recurrence": {"type": "string", "description": "An RRULE with COUNT or UNTIL, from `time`."},
        "draft": {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
    },
    "additionalProperties": {
        "type": "string",
        "description": "`text:<network>` (text:mastodon): the text for every channel of that network.",
    },
}
IMPORT_REQUEST_BODY = {
    "required": True,
    "description": (
        f"Up to {MAX_ROWS:,} posts. Every row is checked first; one problem anywhere and nothing is stored, "
        "and the 422 lists every problem at `/rows/<row>/<column>`: in CSV the spreadsheet's row (the header "
        "is row 1, the first post row 2), in JSON the post's place in the list from 1."
    ),
    "content": {
        "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": IMPORT_ROW},
                    {"type": "object", "properties": {"posts": {"type": "array", "items": IMPORT_ROW}}},
                ]
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "A .csv or .json file."}
                },
            }
        },
    },
}


class ImportSchema(Schema):
    id = fields.UUID()
    posts = fields.Integer(attribute="row_count", metadata={"description": "How many posts were made."})
    post_ids = fields.List(fields.UUID(), metadata={"description": "The new posts, in the file's order."})
    created_at = UTCDateTime()


class PostExportQuerySchema(Schema):
    state = fields.Enum(PostState, by_value=True)
    channel_id = fields.UUID()
    label = fields.String()
    scheduled_from = UTCDateTime(metadata={"description": "Only posts scheduled at or after this time."})
    scheduled_to = UTCDateTime(metadata={"description": "Only posts scheduled before this time."})
