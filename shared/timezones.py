"""Wall-clock time in a named zone to UTC instant: one policy for the hours DST skips or doubles."""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from shared.errors import InvalidInput, Problem

# The longest jump forward any zone's clock has made (Pacific/Apia skipped 30 December 2011 whole). A wall
# time in a gap moves forward by at most this, so converted wall times are never further than this out of
# order.
LONGEST_GAP = timedelta(days=1)


@cache
def _zone_names() -> frozenset[str]:
    # "localtime" is the server's own zone under a file name: a channel set to it would change hours with the
    # machine it runs on.
    return frozenset(available_timezones() - {"localtime"})


def _closest_zone_name(name: str) -> str | None:
    names = sorted(_zone_names())
    folded = name.casefold()
    # The same name in another case, or a city without its region ("Paris"), is almost surely the one meant.
    same_but_case = [known for known in names if known.casefold() == folded]
    same_city = [known for known in names if known.rpartition("/")[2].casefold() == folded]
    looks_alike = difflib.get_close_matches(name, names, n=1)
    return next(iter(same_but_case + same_city + looks_alike), None)


def check_timezone(name: str, *, pointer: str = "/timezone") -> ZoneInfo:
    """Return the IANA time zone called name, or refuse it, suggesting the closest real one."""
    # Looking the name up in the list first keeps out what ZoneInfo would also open: paths, directories.
    if name in _zone_names():
        return ZoneInfo(name)
    detail = f"'{name}' is not an IANA time zone name such as 'Europe/Paris'"
    closest = _closest_zone_name(name)
    detail += f"; did you mean '{closest}'?" if closest else "."
    raise InvalidInput([Problem(pointer, detail)])


def stored_zone(name: str) -> ZoneInfo:
    """A zone name read back from the database, for showing a time: UTC when it no longer names a zone.

    A name was checked when it was saved, but tzdata drops and renames zones over the years (US/Pacific-New
    went in 2020), and a listing or an export must still show the time rather than fail.
    """
    return ZoneInfo(name) if name in _zone_names() else ZoneInfo("UTC")


def as_utc(moment: datetime) -> datetime:
    """Return the same instant in UTC, refusing a naive datetime, whose zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no zone, so it is no instant; give it one (UTC, say)")
    return moment.astimezone(UTC)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of a wall-clock time: a skipped time moves on, a doubled one is the first."""
    if local.tzinfo is not None:
        raise ValueError(
            f"{local!r} is already an instant; to_utc reads a wall-clock time, given without a zone"
        )
    # fold=0 is the whole policy (PEP 495). In a spring-forward gap it reads the wall time with the offset
    # from before the change, which lands it as far past the gap's end as it was past the gap's start: 02:30
    # in Paris on 29 March 2026 becomes 03:30 CEST (01:30Z). The post still goes out, as soon after the
    # intended moment as the clock allows; RFC 5545 (section 3.3.5) reads a DTSTART in a gap the same way. In
    # a fall-back hour it takes the first of the two moments (02:30 CEST, not 02:30 CET), so the post goes out
    # once, the first time the clock shows that time.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Return the wall-clock time (without a zone) that clocks in zone show at an instant."""
    return as_utc(moment).astimezone(zone).replace(tzinfo=None)


def _sorted_within(instants: Iterable[datetime], disorder: timedelta) -> Iterator[datetime]:
    """Sort instants that arrive at most `disorder` out of order, holding only that window in memory."""
    pending: list[datetime] = []
    for instant in instants:
        heapq.heappush(pending, instant)
        while pending[0] < instant - disorder:
            yield heapq.heappop(pending)
    while pending:
        yield heapq.heappop(pending)


def to_utc_in_order(wall_times: Iterable[datetime], zone: ZoneInfo) -> Iterator[datetime]:
    """Convert increasing wall-clock times to UTC, yielding the instants in increasing order, each once."""
    # A wall time in a gap moves forward past those that follow it: on Paris's spring-forward day 02:45
    # becomes 01:45Z, after 03:00 (01:00Z), and 02:30 and 03:30 are both 01:30Z. Each is therefore sorted in,
    # and a time that two wall times reach is one post, not two.
    previous: datetime | None = None
    for instant in _sorted_within((to_utc(wall_time, zone) for wall_time in wall_times), LONGEST_GAP):
        if instant != previous:
            yield instant
        previous = instant
