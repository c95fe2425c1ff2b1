"""A wall-clock time becomes one UTC instant: a time DST skips moves forward, a doubled one is the first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidInput, Problem
from shared.timezones import LONGEST_GAP, as_utc, check_timezone, to_local, to_utc, to_utc_in_order

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
# Zones whose clocks move in unusual steps: half an hour (Lord Howe), two hours (Troll), a whole day (Apia).
ZONES = [PARIS, NEW_YORK, SYDNEY] + [
    ZoneInfo(name) for name in ("Australia/Lord_Howe", "Antarctica/Troll", "Pacific/Apia", "Asia/Kathmandu")
]


def wall(text: str) -> datetime:
    """A wall-clock time, as a clock on the wall shows it: no zone."""
    return datetime.fromisoformat(text)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_known_zone_is_returned() -> None:
    assert check_timezone("Europe/Paris") == PARIS
    assert check_timezone("UTC") == ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        (
            "Europe/Pariss",
            "'Europe/Pariss' is not an IANA time zone name such as 'Europe/Paris'; did you mean "
            "'Europe/Paris'?",
        ),
        (
            "europe/paris",
            "'europe/paris' is not an IANA time zone name such as 'Europe/Paris'; did you mean "
            "'Europe/Paris'?",
        ),
        (
            "Sydney",
            "'Sydney' is not an IANA time zone name such as 'Europe/Paris'; did you mean 'Australia/Sydney'?",
        ),
        ("Mars/Olympus_Mons", "'Mars/Olympus_Mons' is not an IANA time zone name such as 'Europe/Paris'."),
    ],
)
def test_an_unknown_zone_is_refused_with_the_closest_real_one(name: str, detail: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_timezone(name)

    assert refused.value.problems == [Problem("/timezone", detail)]


@pytest.mark.parametrize("name", ["", "Europe", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "localtime"])
def test_paths_directories_and_the_servers_own_zone_are_no_zone_names(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_timezone(name)

    assert [problem.pointer for problem in refused.value.problems] == ["/timezone"]


def test_the_refusal_points_at_the_field_the_caller_names() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_timezone("Nowhere", pointer="/channels/0/timezone")

    assert [problem.pointer for problem in refused.value.problems] == ["/channels/0/timezone"]


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        (PARIS, "2026-01-15T09:00", "2026-01-15T08:00Z"),
        (PARIS, "2026-07-15T09:00", "2026-07-15T07:00Z"),
        (NEW_YORK, "2026-01-15T09:00", "2026-01-15T14:00Z"),
        (NEW_YORK, "2026-07-15T09:00", "2026-07-15T13:00Z"),
        (SYDNEY, "2026-01-15T09:00", "2026-01-14T22:00Z"),
        (SYDNEY, "2026-07-15T09:00", "2026-07-14T23:00Z"),
    ],
)
def test_an_ordinary_wall_time_is_read_with_the_offset_in_force_that_day(
    zone: ZoneInfo, local: str, expected: str
) -> None:
    assert to_utc(wall(local), zone) == instant(expected)


@pytest.mark.parametrize(
    ("zone", "local", "expected", "shown_afterwards"),
    [
        (PARIS, "2026-03-29T02:30", "2026-03-29T01:30Z", "2026-03-29T03:30"),
        (PARIS, "2026-03-29T02:00", "2026-03-29T01:00Z", "2026-03-29T03:00"),
        (NEW_YORK, "2026-03-08T02:30", "2026-03-08T07:30Z", "2026-03-08T03:30"),
        (SYDNEY, "2026-10-04T02:30", "2026-10-03T16:30Z", "2026-10-04T03:30"),
    ],
)
def test_a_wall_time_that_spring_forward_skips_moves_forward_by_the_gap(
    zone: ZoneInfo, local: str, expected: str, shown_afterwards: str
) -> None:
    assert to_utc(wall(local), zone) == instant(expected)
    assert to_local(instant(expected), zone) == wall(shown_afterwards)


@pytest.mark.parametrize(
    ("zone", "local", "first", "second"),
    [
        (PARIS, "2026-10-25T02:30", "2026-10-25T00:30Z", "2026-10-25T01:30Z"),
        (NEW_YORK, "2026-11-01T01:30", "2026-11-01T05:30Z", "2026-11-01T06:30Z"),
        (SYDNEY, "2026-04-05T02:30", "2026-04-04T15:30Z", "2026-04-04T16:30Z"),
    ],
)
def test_a_wall_time_that_fall_back_shows_twice_is_its_first_showing(
    zone: ZoneInfo, local: str, first: str, second: str
) -> None:
    assert to_utc(wall(local), zone) == instant(first)
    assert to_local(instant(first), zone) == to_local(instant(second), zone) == wall(local)


def test_to_utc_refuses_an_instant_and_to_local_refuses_a_wall_time() -> None:
    with pytest.raises(ValueError, match="already an instant"):
        to_utc(instant("2026-01-15T09:00Z"), PARIS)
    with pytest.raises(ValueError, match="has no zone"):
        to_local(wall("2026-01-15T09:00"), PARIS)


def test_as_utc_keeps_the_instant_and_refuses_a_naive_datetime() -> None:
    assert as_utc(datetime.fromisoformat("2026-03-29T03:30+02:00")) == instant("2026-03-29T01:30Z")
    assert as_utc(datetime.fromisoformat("2026-03-29T03:30+02:00")).tzinfo is UTC
    with pytest.raises(ValueError, match="has no zone"):
        as_utc(wall("2026-03-29T03:30"))


def test_wall_times_around_a_gap_come_out_in_order_and_each_instant_once() -> None:
    wall_times = [
        wall(f"2026-03-29T{clock}") for clock in ("01:30", "02:00", "02:30", "02:45", "03:00", "03:30")
    ]

    assert list(to_utc_in_order(wall_times, PARIS)) == [
        instant("2026-03-29T00:30Z"),
        instant("2026-03-29T01:00Z"),  # 02:00 and 03:00 are both 03:00 CEST
        instant("2026-03-29T01:30Z"),  # 02:30 and 03:30 are both 03:30 CEST
        instant("2026-03-29T01:45Z"),
    ]


def test_the_doubled_hour_of_fall_back_gives_one_instant_per_wall_time() -> None:
    wall_times = [wall(f"2026-10-25T{clock}") for clock in ("01:30", "02:00", "02:30", "03:00")]

    assert list(to_utc_in_order(wall_times, PARIS)) == [
        instant("2026-10-24T23:30Z"),
        instant("2026-10-25T00:00Z"),
        instant("2026-10-25T00:30Z"),
        instant("2026-10-25T02:00Z"),  # 03:00 CET: the second 02:00-03:00 hour has no wall time of its own
    ]


@cache
def clock_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """The wall-clock times at which zone's clocks change in a year, as the clock shows them just before."""
    changes: list[datetime] = []
    hours = [datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=hour) for hour in range(366 * 24)]
    for earlier, later in pairwise(hours):
        offset_before = earlier.astimezone(zone).utcoffset()
        if later.astimezone(zone).utcoffset() != offset_before:
            change = next(
                moment
                for moment in (earlier + timedelta(minutes=minute) for minute in range(61))
                if moment.astimezone(zone).utcoffset() != offset_before
            )
            changes.append(to_local(earlier, zone) + (change - earlier))
    return changes


@st.composite
def wall_times_near_clock_changes(draw: st.DrawFn, zone: ZoneInfo, year: int) -> datetime:
    """A wall time within three hours of a change of zone's clocks (of midsummer, if they never change)."""
    changes = clock_changes(zone, year) or [wall(f"{year}-07-01T00:00")]
    return draw(st.sampled_from(changes)) + timedelta(minutes=draw(st.integers(-180, 180)))


@st.composite
def wall_times_in_zones(draw: st.DrawFn) -> tuple[datetime, ZoneInfo]:
    """A zone and a wall time in it, near a change of its clocks half of the time, any time otherwise."""
    zone = draw(st.sampled_from(ZONES))
    year = draw(st.integers(2000, 2039))
    near_a_change = draw(st.booleans())
    if near_a_change:
        return draw(wall_times_near_clock_changes(zone, year)), zone
    new_year = wall(f"{year}-01-01T00:00")
    return new_year + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60 - 1))), zone


@given(wall_time_in_zone=wall_times_in_zones())
def test_a_wall_time_converts_back_to_itself_unless_a_gap_carried_it_forward(
    wall_time_in_zone: tuple[datetime, ZoneInfo],
) -> None:
    local, zone = wall_time_in_zone
    shown = to_local(to_utc(local, zone), zone)

    assert local <= shown <= local + LONGEST_GAP
    if shown != local:  # a gap: read with the offset after the change instead, no instant shows it either
        assert to_local(local.replace(tzinfo=zone, fold=1), zone) != local


@given(zone=st.sampled_from(ZONES), data=st.data())
def test_converted_wall_times_are_strictly_increasing_and_none_is_lost(
    zone: ZoneInfo, data: st.DataObject
) -> None:
    wall_times = sorted(data.draw(st.lists(wall_times_near_clock_changes(zone, 2026), max_size=40)))

    instants = list(to_utc_in_order(wall_times, zone))

    assert all(earlier < later for earlier, later in pairwise(instants))
    assert set(instants) == {to_utc(local, zone) for local in wall_times}


def test_the_day_samoa_skipped_moves_forward_by_the_whole_day() -> None:
    apia = ZoneInfo("Pacific/Apia")

    assert to_utc(wall("2011-12-30T12:00"), apia) == to_utc(wall("2011-12-31T12:00"), apia)
    assert to_local(to_utc(wall("2011-12-30T12:00"), apia), apia) == wall("2011-12-30T12:00") + LONGEST_GAP
