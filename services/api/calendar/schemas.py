"""The calendar on the wire: every time in the zone the caller asked for."""

from __future__ import annotations

from marshmallow import Schema, fields

from services.api.fields import within_calendar_years


class CalendarQuerySchema(Schema):
    # `from` is a Python keyword: the field is named `start` and reads the `from` parameter.
    start = fields.DateTime(
        required=True,
        data_key="from",
        validate=within_calendar_years,
        metadata={"example": "2026-05-01T00:00:00"},
    )
    end = fields.DateTime(
        required=True,
        data_key="to",
        validate=within_calendar_years,
        metadata={"example": "2026-06-01T00:00:00"},
    )
    tz = fields.String(
        load_default="UTC",
        metadata={
            "description": "IANA timezone to read `from`/`to` in and show times in.",
            "example": "Europe/Paris",
        },
    )


class CalendarEntrySchema(Schema):
    post_id = fields.UUID()
    channel_id = fields.UUID()
    delivery_id = fields.UUID(
        allow_none=True, metadata={"description": "Null: not scheduled yet, or an occurrence still to come."}
    )
    at = fields.DateTime(metadata={"description": "In the asked timezone, with its offset."})
    state = fields.String(metadata={"example": "scheduled"})
    text = fields.String()
    labels = fields.List(fields.String())


class FreeSlotSchema(Schema):
    channel_id = fields.UUID()
    at = fields.DateTime(metadata={"description": "In the asked timezone, with its offset."})


class CalendarSchema(Schema):
    timezone = fields.String()
    entries = fields.List(fields.Nested(CalendarEntrySchema))
    free_slots = fields.List(fields.Nested(FreeSlotSchema))
