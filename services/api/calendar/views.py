"""GET /v1/calendar: posts and free queue slots between two times, in the caller's timezone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.calendar.schemas import CalendarQuerySchema, CalendarSchema
from services.api.context import get_actor, get_services
from shared.timezones import check_timezone, to_utc
from shared.workflow.calendar import calendar

blp = Blueprint("calendar", __name__, url_prefix="/v1/calendar", description="What goes out when.")


@blp.route("")
class CalendarView(MethodView):
    @blp.arguments(CalendarQuerySchema, location="query")
    @blp.response(200, CalendarSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Each post on each channel, and each free queue slot, from `from` to `to` (at most 92 days)."""
        zone = check_timezone(query["tz"], pointer="/tz")
        start, end = (
            moment if moment.tzinfo else to_utc(moment, zone) for moment in (query["start"], query["end"])
        )
        with get_services().sessions.begin() as session:
            found = calendar(session, get_actor().workspace_id, start, end)
        return {
            "timezone": query["tz"],
            "entries": [replace(entry, at=entry.at.astimezone(zone)) for entry in found.entries],
            "free_slots": [replace(slot, at=slot.at.astimezone(zone)) for slot in found.free_slots],
        }
