"""Engagement over time: what was gained in each hour, day or week of a period, in the period's zone."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from shared.errors import InvalidInput, Problem
from shared.metrics.analytics import (
    Counts,
    Period,
    Selection,
    add_counts,
    check_selection,
    hourly_gains,
    interactions_of,
)
from shared.metrics.models import COUNTS
from shared.timezones import as_utc, to_local, to_utc

# A series of more points than this is refused: ask for a coarser bucket or a shorter period.
MAX_POINTS = 2000


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class Point:
    """One bucket of a series: from `start` up to `end`, as wall-clock times of the zone with their offset."""

    start: datetime
    end: datetime
    counts: Counts

    @property
    def interactions(self) -> int | None:
        return interactions_of(self.counts)


def engagement_series(session: Session, selection: Selection, period: Period, bucket: Bucket) -> list[Point]:
    """What was gained in each bucket of the period, in the period's zone."""
    check_selection(session, selection)
    bounds = bucket_bounds(period, bucket)
    hourly = hourly_gains(session, selection, bounds[0], bounds[-1])
    reported = {name for counts in hourly.values() for name, value in counts.items() if value is not None}
    sums: list[Counts] = [{name: 0 if name in reported else None for name in COUNTS} for _ in bounds[:-1]]
    for hour, counts in hourly.items():
        index = bisect.bisect_right(bounds, hour) - 1
        add_counts(sums[index], counts)
    return [
        Point(bounds[i].astimezone(period.zone), bounds[i + 1].astimezone(period.zone), sums[i])
        for i in range(len(sums))
    ]


def bucket_bounds(period: Period, bucket: Bucket) -> list[datetime]:
    """The instants (UTC) that start each bucket overlapping the period, and the end of the last one."""
    if bucket is Bucket.HOUR:
        first = as_utc(period.start).replace(minute=0, second=0, microsecond=0)
        count = -(-(as_utc(period.end) - first) // timedelta(hours=1))
        _check_points(count)
        return [first + timedelta(hours=n) for n in range(count + 1)]
    step = timedelta(days=1 if bucket is Bucket.DAY else 7)
    day = to_local(period.start, period.zone).date()
    if bucket is Bucket.WEEK:
        day -= timedelta(days=day.weekday())
    last_day = to_local(period.end - timedelta(microseconds=1), period.zone).date()
    _check_points((last_day - day) // step + 1)
    days: list[date] = []
    while day <= last_day:
        days.append(day)
        day += step
    days.append(day)
    return [to_utc(datetime.combine(each, time()), period.zone) for each in days]


def _check_points(count: int) -> None:
    if count > MAX_POINTS:
        raise InvalidInput(
            [
                Problem(
                    "/bucket",
                    f"That is {count} buckets; ask for at most {MAX_POINTS}: a coarser bucket or less time.",
                )
            ]
        )
