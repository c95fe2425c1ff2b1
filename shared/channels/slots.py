"""A channel's queue: the times it posts at on each weekday, on its own clock, and which are still free."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.errors import InvalidInput, Problem
from shared.timezones import as_utc, to_local, to_utc_in_order

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A queue spaces out a few posts a day; a channel that wants more than one an hour wants a feed, and its
# network's rate limits would stop it anyway.
MAX_SLOTS_PER_DAY = 24
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _pointer_token(key: str) -> str:
    """Escape a key for use in a JSON pointer (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _read_day(listed: object, day_name: str, day_pointer: str) -> tuple[tuple[time, ...], list[Problem]]:
    """Read one weekday's list of "HH:MM" times: the times in order, and what is wrong with the list."""
    if not isinstance(listed, list | tuple):
        return (), [Problem(day_pointer, 'Give a list of times of day as HH:MM, such as ["09:00"].')]
    problems: list[Problem] = []
    if len(listed) > MAX_SLOTS_PER_DAY:
        detail = f"{day_name} has {len(listed)} times; a queue takes at most {MAX_SLOTS_PER_DAY} a day."
        problems.append(Problem(day_pointer, detail))
    times: set[time] = set()
    for index, text in enumerate(listed):
        matched = _TIME_OF_DAY.fullmatch(text) if isinstance(text, str) else None
        if matched is None:
            shown = f"'{text}'" if isinstance(text, str) else repr(text)
            problems.append(Problem(f"{day_pointer}/{index}", f"{shown} is not a time of day as HH:MM."))
            continue
        slot = time(int(matched[1]), int(matched[2]))
        if slot in times:
            problems.append(Problem(f"{day_pointer}/{index}", f"'{text}' is listed twice."))
        times.add(slot)
    return tuple(sorted(times)), problems


@dataclass(frozen=True)
class PostingSchedule:
    """The wall-clock times a channel's queue posts at, for each weekday (index 0 is Monday)."""

    times_by_weekday: tuple[tuple[time, ...], ...] = ((),) * 7

    def __post_init__(self) -> None:
        if len(self.times_by_weekday) != 7:
            raise ValueError(f"a week has 7 days, not {len(self.times_by_weekday)}")
        for times in self.times_by_weekday:
            if list(times) != sorted(set(times)) or len(times) > MAX_SLOTS_PER_DAY:
                raise ValueError(f"{times!r} must be distinct, in order, and at most {MAX_SLOTS_PER_DAY}")

    @classmethod
    def from_document(
        cls, document: Mapping[str, object], *, pointer: str = "/posting_schedule"
    ) -> PostingSchedule:
        """Read {"mon": ["09:00", "12:30"], ...} (a missing day has none), refusing it with every problem."""
        problems: list[Problem] = []
        times_by_weekday: list[tuple[time, ...]] = [()] * 7
        for key, listed in document.items():
            day_pointer = f"{pointer}/{_pointer_token(key)}"
            if key in WEEKDAY_KEYS:
                weekday = WEEKDAY_KEYS.index(key)
                times_by_weekday[weekday], day_problems = _read_day(
                    listed, WEEKDAY_NAMES[weekday], day_pointer
                )
                problems += day_problems
            else:
                weekdays = ", ".join(WEEKDAY_KEYS[:-1]) + f" or {WEEKDAY_KEYS[-1]}"
                problems.append(Problem(day_pointer, f"'{key}' is not a weekday; use {weekdays}."))
        if problems:
            raise InvalidInput(problems)
        return cls(tuple(times_by_weekday))

    def to_document(self) -> dict[str, list[str]]:
        """Return the canonical document: every weekday, Monday first, each with its times in order."""
        # Every day is present, an empty list when the queue does not post that day, so a client can show the
        # whole week without filling gaps, and two equal schedules give equal documents.
        return {
            key: [f"{slot:%H:%M}" for slot in times]
            for key, times in zip(WEEKDAY_KEYS, self.times_by_weekday, strict=True)
        }

    def times_on(self, weekday: int) -> tuple[time, ...]:
        """Return the times of day the queue posts at on a weekday (0 is Monday)."""
        return self.times_by_weekday[weekday]

    @property
    def is_empty(self) -> bool:
        """Whether the queue posts on no day at all."""
        return not any(self.times_by_weekday)


def _wall_times(schedule: PostingSchedule, first_day: date, last_day: date) -> Iterator[datetime]:
    """Yield every slot from first_day through last_day as a wall-clock time, in order."""
    day = first_day
    while day <= last_day:
        for slot in schedule.times_on(day.weekday()):
            yield datetime.combine(day, slot)
        day += timedelta(days=1)


def _slot_instants(
    schedule: PostingSchedule, zone: ZoneInfo, first_day: date, last_day: date
) -> Iterator[datetime]:
    """Yield the UTC instants of the slots on those local days, in order, each once."""
    # A day early too: a slot late in the evening before can fall in a gap that carries it past midnight.
    return to_utc_in_order(_wall_times(schedule, first_day - timedelta(days=1), last_day), zone)


def next_free_slots(
    schedule: PostingSchedule,
    zone: ZoneInfo,
    *,
    after: datetime,
    taken: Collection[datetime],
    count: int = 1,
    horizon_days: int = 366,
) -> list[datetime]:
    """Return up to count free slots (UTC) after `after`, earliest first, within horizon_days days."""
    # Each slot is its wall time converted on its own day, so 09:00 stays 09:00 on the channel's clock across
    # DST; to_utc moves a slot in a gap forward, and a slot in a fall-back hour is one instant, not two. Fewer
    # than count come back when the schedule is empty or the horizon is full: the caller says which.
    after = as_utc(after)
    taken_instants = {as_utc(moment) for moment in taken}
    first_day = to_local(after, zone).date()
    free: list[datetime] = []
    if count < 1 or schedule.is_empty:
        return free
    for instant in _slot_instants(schedule, zone, first_day, first_day + timedelta(days=horizon_days)):
        if instant > after and instant not in taken_instants:
            free.append(instant)
            if len(free) == count:
                break
    return free


def slots_between(
    schedule: PostingSchedule, zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """Return every slot (UTC) from start up to but not including end, in order, whether taken or not."""
    start, end = as_utc(start), as_utc(end)
    between: list[datetime] = []
    for instant in _slot_instants(schedule, zone, to_local(start, zone).date(), to_local(end, zone).date()):
        if instant >= end:
            break
        if instant >= start:
            between.append(instant)
    return between
