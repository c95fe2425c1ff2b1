"""What each section of the dashboard shows, read through the service functions the JSON API calls.

Each reader mirrors one API route (named in its docstring) and asks it the same question, so a number on
the page is one that route also returns for the same parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy.orm import Session

from services.api.dashboard.charts import engagement_chart
from shared.channels.models import Channel
from shared.channels.slots import WEEKDAY_KEYS, WEEKDAY_NAMES
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.overview import count_by_state, latest_troubled
from shared.metrics.analytics import Period, Selection, interactions_of
from shared.metrics.best_times import BestTimeCell, Suggestion, best_times
from shared.metrics.models import COUNTS
from shared.metrics.series import Bucket, Point, engagement_series
from shared.timezones import check_timezone, to_local, to_utc
from shared.workflow.calendar import CalendarEntry, FreeSlot, calendar

UPCOMING_DAYS = 14
TROUBLED_SHOWN = 10
ENGAGEMENT_DAYS = 30
BEST_TIME_DAYS = 90  # the API's default window
# The engagement table's columns: the interactions, then each count they add up, then views.
METRICS = ("interactions", "likes", "reposts", "replies", "quotes", "bookmarks", "clicks", "views")


@dataclass(frozen=True)
class CalendarDay:
    """One day of the calendar in the viewer's timezone: what goes out, and the queue slots still free."""

    day: date
    entries: list[CalendarEntry]
    free_slots: list[FreeSlot]


@dataclass(frozen=True)
class Upcoming:
    start: datetime
    end: datetime
    days: list[CalendarDay]
    entry_count: int
    free_slot_count: int


@dataclass(frozen=True)
class DeliveryStates:
    counts: dict[DeliveryState, int]
    troubled: list[Delivery]


@dataclass(frozen=True)
class EngagementLine:
    """One channel's (or the whole workspace's) engagement over the period, and its totals."""

    name: str
    channel_id: uuid.UUID | None  # None: every channel together
    points: list[Point]
    totals: dict[str, int | None]


@dataclass(frozen=True)
class Engagement:
    start: datetime
    end: datetime
    days: list[date]
    lines: list[EngagementLine]
    workspace: EngagementLine
    chart: Markup


@dataclass(frozen=True)
class WeekdayRow:
    key: str  # "mon", as the API names it
    name: str
    cells: list[BestTimeCell | None]  # by hour


@dataclass(frozen=True)
class BestTimeGrid:
    """A channel's grid of weekdays by hours on its own clock; a cell without posts is None."""

    channel: Channel
    zone: ZoneInfo
    posts: int
    rows: list[WeekdayRow]
    best_mean: float
    suggestions: list[Suggestion]

    def heat(self, cell: BestTimeCell) -> float:
        """How the cell compares with the best one, from 0 to 1: its shade in the grid."""
        return round(cell.mean_interactions / self.best_mean, 3) if self.best_mean else 0.0

    @staticmethod
    def mean_shown(cell: BestTimeCell) -> str:
        """A cell's mean interactions as the API gives them (to two decimals), without trailing zeros."""
        return f"{round(cell.mean_interactions, 2):.2f}".rstrip("0").rstrip(".")


def read_upcoming(session: Session, workspace_id: uuid.UUID, zone: ZoneInfo, now: datetime) -> Upcoming:
    """GET /v1/calendar from the start of today for 14 days, in the viewer's timezone."""
    today = to_local(now, zone).date()
    start = to_utc(datetime.combine(today, time()), zone)
    end = to_utc(datetime.combine(today + timedelta(days=UPCOMING_DAYS), time()), zone)
    found = calendar(session, workspace_id, start, end)
    entries = [replace(entry, at=entry.at.astimezone(zone)) for entry in found.entries]
    free_slots = [replace(slot, at=slot.at.astimezone(zone)) for slot in found.free_slots]
    days = [
        CalendarDay(
            day,
            [entry for entry in entries if entry.at.date() == day],
            [slot for slot in free_slots if slot.at.date() == day],
        )
        for day in (today + timedelta(days=offset) for offset in range(UPCOMING_DAYS))
    ]
    return Upcoming(start.astimezone(zone), end.astimezone(zone), days, len(entries), len(free_slots))


def read_delivery_states(session: Session, workspace_id: uuid.UUID) -> DeliveryStates:
    """GET /v1/deliveries?state=… for each state, counted; the latest troubled ones with their errors."""
    return DeliveryStates(
        count_by_state(session, workspace_id),
        latest_troubled(session, workspace_id, limit=TROUBLED_SHOWN),
    )


def read_engagement(
    session: Session, workspace_id: uuid.UUID, channels: Sequence[Channel], zone: ZoneInfo, now: datetime
) -> Engagement:
    """GET /v1/analytics/series and …/channels/{id}/series by day: the last 30 days in the viewer's zone."""
    today = to_local(now, zone).date()
    first_day = today - timedelta(days=ENGAGEMENT_DAYS - 1)
    period = Period(
        to_utc(datetime.combine(first_day, time()), zone),
        to_utc(datetime.combine(today + timedelta(days=1), time()), zone),
        zone,
    )
    lines = [
        _line(session, Selection(workspace_id, channel_id=channel.id), period, channel.name, channel.id)
        for channel in channels
    ]
    workspace = _line(session, Selection(workspace_id), period, "All channels", None)
    days = [point.start.date() for point in workspace.points]
    chart = engagement_chart(
        days, {line.name: [point.interactions for point in line.points] for line in lines}
    )
    return Engagement(
        period.start.astimezone(zone), period.end.astimezone(zone), days, lines, workspace, chart
    )


def _line(
    session: Session, selection: Selection, period: Period, name: str, channel_id: uuid.UUID | None
) -> EngagementLine:
    """The series by day, and its totals added up as GET /v1/analytics/series adds them."""
    points = engagement_series(session, selection, period, Bucket.DAY)
    totals: dict[str, int | None] = dict.fromkeys(COUNTS)
    for point in points:
        for metric, value in point.counts.items():
            if value is not None:
                totals[metric] = (totals[metric] or 0) + value
    return EngagementLine(name, channel_id, points, {**totals, "interactions": interactions_of(totals)})


def read_best_times(
    session: Session, workspace_id: uuid.UUID, channel: Channel, now: datetime
) -> BestTimeGrid:
    """GET /v1/analytics/channels/{id}/best-times: the last 90 days, on the channel's clock."""
    found = best_times(session, workspace_id, channel.id, now=now, days=BEST_TIME_DAYS)
    by_slot = {(cell.weekday, cell.hour): cell for cell in found.cells}
    rows = [
        WeekdayRow(key, WEEKDAY_NAMES[weekday][:3], [by_slot.get((weekday, hour)) for hour in range(24)])
        for weekday, key in enumerate(WEEKDAY_KEYS)
    ]
    best_mean = max((cell.mean_interactions for cell in found.cells), default=0.0)
    zone = check_timezone(found.timezone)
    return BestTimeGrid(channel, zone, found.posts, rows, best_mean, found.suggestions)
