"""A recurring post keeps its wall time across DST, ends where its rule says, and never fires in bulk."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidInput, Problem
from shared.posts.recurrence import MAX_COUNT, Recurrence, check_series, parse_rule, split_overdue
from shared.timezones import to_local, to_utc

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
NOW = datetime.fromisoformat("2026-06-01T12:00Z")


def wall(text: str) -> datetime:
    """A wall-clock time, as a clock on the wall shows it: no zone."""
    return datetime.fromisoformat(text)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def recurrence(rule: str, first_local: str, zone: ZoneInfo = PARIS) -> Recurrence:
    return Recurrence(parse_rule(rule), wall(first_local), zone)


def occurrences(rule: str, first_local: str, zone: ZoneInfo = PARIS) -> list[datetime]:
    return list(recurrence(rule, first_local, zone).occurrences())


def refusal(rule: str, **pointer: str) -> list[Problem]:
    with pytest.raises(InvalidInput) as refused:
        parse_rule(rule, **pointer)
    return refused.value.problems


@pytest.mark.parametrize(
    ("rule", "normal"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6", "FREQ=WEEKLY;COUNT=6;BYDAY=MO,WE,FR"),
        ("RRULE:freq=daily;count=3;", "FREQ=DAILY;COUNT=3"),
        ("  RRULE:FREQ=DAILY;UNTIL=20260331T235959Z  ", "FREQ=DAILY;UNTIL=20260331T235959Z"),
        ("FREQ=DAILY;UNTIL=20260331T235959", "FREQ=DAILY;UNTIL=20260331T235959"),
        ("FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=2;COUNT=4", "FREQ=MONTHLY;INTERVAL=2;COUNT=4;BYDAY=-1FR"),
        ("FREQ=HOURLY;BYHOUR=9,12,18;COUNT=30", "FREQ=HOURLY;COUNT=30;BYHOUR=9,12,18"),
    ],
)
def test_a_rule_is_returned_in_one_normal_form_which_reads_back_the_same(rule: str, normal: str) -> None:
    assert parse_rule(rule) == normal
    assert parse_rule(normal) == normal


ENDLESS = "The rule has neither COUNT nor UNTIL, so the series would never end; give one of them."
UNTIL_FORMAT = (
    "is not a date-time as YYYYMMDDTHHMMSSZ (UTC, such as 20261231T235959Z) "
    "or YYYYMMDDTHHMMSS (on the post's clock)."
)


@pytest.mark.parametrize(
    ("rule", "details"),
    [
        ("FREQ=DAILY", [ENDLESS]),
        ("", ["The rule is empty; give one such as FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12."]),
        (
            "DTSTART:20260101T090000\nRRULE:FREQ=DAILY;COUNT=3",
            ["A rule cannot carry its own DTSTART: the series starts at the post's scheduled time."],
        ),
        (
            "FREQ=DAILY;COUNT=3\nEXDATE:20260102T090000",
            [
                "Give one RRULE value, such as FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12; other iCalendar lines "
                "(EXDATE, RDATE) are not taken."
            ],
        ),
        (
            "FREQ=MINUTELY;COUNT=3",
            ["FREQ=MINUTELY would post more often than hourly; the most often is FREQ=HOURLY."],
        ),
        (
            "FREQ=SECONDLY;UNTIL=20260101T000000Z",
            ["FREQ=SECONDLY would post more often than hourly; the most often is FREQ=HOURLY."],
        ),
        (
            "FREQ=HOURLY;BYMINUTE=0,30;COUNT=4",
            ["BYMINUTE lists several values, which would post more often than hourly; give one."],
        ),
        ("FREQ=DAILY;COUNT=1001", ["COUNT=1001 is more than 1000, the most posts one series makes."]),
        ("FREQ=DAILY;COUNT=0", ["COUNT must be at least 1."]),
        ("FREQ=DAILY;INTERVAL=0;COUNT=3", ["INTERVAL must be at least 1."]),
        (
            "FREQ=DAILY;COUNT=3;UNTIL=20261231T000000Z",
            ["COUNT and UNTIL cannot both end a series (RFC 5545); keep one."],
        ),
        ("FREQ=DAILY;UNTIL=20261231", [f"UNTIL=20261231 {UNTIL_FORMAT}"]),
        ("FREQ=DAILY;UNTIL=20261231T000000+0200", [f"UNTIL=20261231T000000+0200 {UNTIL_FORMAT}"]),
        ("COUNT=3", ["The rule has no FREQ; every rule needs one, such as FREQ=WEEKLY."]),
        ("FREQ=DAILY;COUNT", ["'COUNT' is not a NAME=VALUE part."]),
        ("FREQ=DAILY;COUNT=2;COUNT=3", ["COUNT is given 2 times; give it once."]),
        ("FREQ=FORTNIGHTLY;COUNT=3", ["The rule cannot be read: invalid 'FREQ': FORTNIGHTLY."]),
        ("FREQ=DAILY;COUNT=3;COLOUR=RED", ["The rule cannot be read: unknown parameter 'COLOUR'."]),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", ["The rule cannot be read: invalid 'BYDAY': XX."]),
        ("FREQ=DAILY;BYHOUR=25;COUNT=3", ["The rule cannot be read: hour must be in 0..23."]),
    ],
)
def test_a_rule_crier_does_not_take_is_refused_saying_why(rule: str, details: list[str]) -> None:
    assert refusal(rule) == [Problem("/recurrence/rule", detail) for detail in details]


def test_every_problem_a_readable_rule_has_is_reported_at_once() -> None:
    assert refusal("FREQ=MINUTELY;COUNT=5000") == [
        Problem(
            "/recurrence/rule",
            "FREQ=MINUTELY would post more often than hourly; the most often is FREQ=HOURLY.",
        ),
        Problem("/recurrence/rule", "COUNT=5000 is more than 1000, the most posts one series makes."),
    ]


def test_the_refusal_points_at_the_field_the_caller_names() -> None:
    assert refusal("FREQ=DAILY", pointer="/posts/0/recurrence") == [Problem("/posts/0/recurrence", ENDLESS)]


@pytest.mark.parametrize(
    ("first_local", "expected"),
    [
        (
            "2026-03-27T09:00",
            ["2026-03-27T08:00Z", "2026-03-28T08:00Z", "2026-03-29T07:00Z", "2026-03-30T07:00Z"],
        ),
        (
            "2026-03-28T09:00",
            ["2026-03-28T08:00Z", "2026-03-29T07:00Z", "2026-03-30T07:00Z", "2026-03-31T07:00Z"],
        ),
        (
            "2026-10-24T09:00",
            ["2026-10-24T07:00Z", "2026-10-25T08:00Z", "2026-10-26T08:00Z", "2026-10-27T08:00Z"],
        ),
    ],
)
def test_a_daily_post_at_nine_in_paris_stays_at_nine_as_the_clocks_change(
    first_local: str, expected: list[str]
) -> None:
    assert occurrences("FREQ=DAILY;COUNT=4", first_local) == [instant(moment) for moment in expected]


@pytest.mark.parametrize(
    ("zone", "first_local", "expected"),
    [
        (NEW_YORK, "2026-03-07T09:00", ["2026-03-07T14:00Z", "2026-03-08T13:00Z", "2026-03-09T13:00Z"]),
        (NEW_YORK, "2026-10-31T09:00", ["2026-10-31T13:00Z", "2026-11-01T14:00Z", "2026-11-02T14:00Z"]),
        (SYDNEY, "2026-04-04T09:00", ["2026-04-03T22:00Z", "2026-04-04T23:00Z", "2026-04-05T23:00Z"]),
        (SYDNEY, "2026-10-03T09:00", ["2026-10-02T23:00Z", "2026-10-03T22:00Z", "2026-10-04T22:00Z"]),
    ],
)
def test_a_daily_post_keeps_its_wall_time_in_new_york_and_in_the_southern_hemisphere(
    zone: ZoneInfo, first_local: str, expected: list[str]
) -> None:
    assert occurrences("FREQ=DAILY;COUNT=3", first_local, zone) == [instant(moment) for moment in expected]


@pytest.mark.parametrize(
    ("zone", "first_local", "expected"),
    [
        (PARIS, "2026-03-28T02:30", ["2026-03-28T01:30Z", "2026-03-29T01:30Z", "2026-03-30T00:30Z"]),
        (NEW_YORK, "2026-03-07T02:30", ["2026-03-07T07:30Z", "2026-03-08T07:30Z", "2026-03-09T06:30Z"]),
        (SYDNEY, "2026-10-03T02:30", ["2026-10-02T16:30Z", "2026-10-03T16:30Z", "2026-10-04T15:30Z"]),
    ],
)
def test_a_daily_post_at_half_past_two_goes_out_at_half_past_three_on_the_day_that_skips_it(
    zone: ZoneInfo, first_local: str, expected: list[str]
) -> None:
    posts = occurrences("FREQ=DAILY;COUNT=3", first_local, zone)

    assert posts == [instant(moment) for moment in expected]
    assert [to_local(post, zone).time() for post in posts] == [time(2, 30), time(3, 30), time(2, 30)]


@pytest.mark.parametrize(
    ("zone", "first_local", "expected"),
    [
        (PARIS, "2026-10-24T02:30", ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z"]),
        (NEW_YORK, "2026-10-31T01:30", ["2026-10-31T05:30Z", "2026-11-01T05:30Z", "2026-11-02T06:30Z"]),
        (SYDNEY, "2026-04-04T02:30", ["2026-04-03T15:30Z", "2026-04-04T15:30Z", "2026-04-05T16:30Z"]),
    ],
)
def test_a_daily_post_in_the_doubled_hour_of_fall_back_goes_out_once_at_its_first_showing(
    zone: ZoneInfo, first_local: str, expected: list[str]
) -> None:
    assert occurrences("FREQ=DAILY;COUNT=3", first_local, zone) == [instant(moment) for moment in expected]


def test_an_hourly_series_through_a_gap_posts_once_at_the_instant_two_of_its_wall_times_share() -> None:
    assert occurrences("FREQ=HOURLY;COUNT=4", "2026-03-29T01:30") == [
        instant("2026-03-29T00:30Z"),  # 01:30 CET
        instant("2026-03-29T01:30Z"),  # 02:30, which does not exist, and 03:30 CEST
        instant("2026-03-29T02:30Z"),  # 04:30 CEST
    ]


def test_an_hourly_series_through_a_two_hour_gap_posts_in_order_and_once_per_instant() -> None:
    troll = ZoneInfo("Antarctica/Troll")  # +00 to +02 at 01:00 UTC on 29 March 2026

    assert occurrences("FREQ=HOURLY;COUNT=4", "2026-03-29T00:30", troll) == [
        instant("2026-03-29T00:30Z"),
        instant("2026-03-29T01:30Z"),  # 01:30, moved to 03:30, and 03:30 itself
        instant("2026-03-29T02:30Z"),  # 02:30, moved to 04:30
    ]


def test_a_weekly_series_on_three_days_counts_its_posts_and_keeps_its_wall_time() -> None:
    assert occurrences("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6", "2026-03-23T12:30") == [
        instant("2026-03-23T11:30Z"),
        instant("2026-03-25T11:30Z"),
        instant("2026-03-27T11:30Z"),
        instant("2026-03-30T10:30Z"),
        instant("2026-04-01T10:30Z"),
        instant("2026-04-03T10:30Z"),
    ]


def test_a_start_the_rule_does_not_match_is_not_a_post_and_the_series_begins_at_the_next_match() -> None:
    tuesday = "2026-03-24T12:30"

    assert occurrences("FREQ=WEEKLY;BYDAY=MO;COUNT=2", tuesday) == [
        instant("2026-03-30T10:30Z"),
        instant("2026-04-06T10:30Z"),
    ]


@pytest.mark.parametrize(
    ("until", "last"),
    [
        ("20260330T070000Z", "2026-03-30T07:00Z"),  # 09:00 CEST exactly: UNTIL is inclusive
        ("20260330T065959Z", "2026-03-29T07:00Z"),
        ("20260330T080000Z", "2026-03-30T07:00Z"),  # read as a wall time, 08:00 would end before 09:00
        ("20260330T090000", "2026-03-30T07:00Z"),  # no Z: a wall time on the post's clock
        ("20260330T080000", "2026-03-29T07:00Z"),
    ],
)
def test_until_in_utc_is_an_instant_and_without_z_a_wall_time(until: str, last: str) -> None:
    posts = occurrences(f"FREQ=DAILY;UNTIL={until}", "2026-03-28T09:00")

    assert posts[0] == instant("2026-03-28T08:00Z")
    assert posts[-1] == instant(last)


def test_until_in_utc_between_the_two_showings_of_a_doubled_hour_keeps_the_first() -> None:
    # UNTIL is 01:00Z, the second showing of 02:00; the 02:30 post went out at its first showing, before that.
    assert occurrences("FREQ=DAILY;UNTIL=20261025T010000Z", "2026-10-24T02:30") == [
        instant("2026-10-24T00:30Z"),
        instant("2026-10-25T00:30Z"),
    ]


def test_occurrences_between_includes_the_start_and_excludes_the_end() -> None:
    daily = recurrence("FREQ=DAILY;COUNT=10", "2026-03-27T09:00")

    assert daily.occurrences_between(instant("2026-03-29T07:00Z"), instant("2026-03-31T07:00Z")) == [
        instant("2026-03-29T07:00Z"),
        instant("2026-03-30T07:00Z"),
    ]
    assert daily.occurrences_between(instant("2026-04-10T00:00Z"), instant("2026-05-01T00:00Z")) == []


def test_first_after_is_strictly_after_and_none_once_the_series_has_ended() -> None:
    daily = recurrence("FREQ=DAILY;COUNT=4", "2026-03-27T09:00")

    assert daily.first_after(instant("2026-03-01T00:00Z")) == instant("2026-03-27T08:00Z")
    assert daily.first_after(instant("2026-03-29T07:00Z")) == instant("2026-03-30T07:00Z")
    assert daily.first_after(instant("2026-03-30T07:00Z")) is None


def test_a_recurrence_takes_a_wall_time_and_a_rule_in_normal_form_only() -> None:
    with pytest.raises(ValueError, match="wall-clock time"):
        Recurrence("FREQ=DAILY;COUNT=3", instant("2026-03-27T08:00Z"), PARIS)
    with pytest.raises(ValueError, match="normal form"):
        Recurrence("RRULE:FREQ=DAILY;COUNT=3", wall("2026-03-27T09:00"), PARIS)
    with pytest.raises(InvalidInput):
        Recurrence("FREQ=DAILY", wall("2026-03-27T09:00"), PARIS)


def test_a_series_that_posts_within_its_bounds_passes_the_check() -> None:
    check_series(recurrence("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6", "2026-03-23T12:30"))
    check_series(recurrence("FREQ=YEARLY;COUNT=10", "2026-03-23T12:30"))
    check_series(recurrence(f"FREQ=DAILY;COUNT={MAX_COUNT}", "2026-03-23T12:30"))


@pytest.mark.parametrize(
    ("rule", "first_local", "detail"),
    [
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3",
            "2026-01-01T09:00",
            "The rule gives no date from the first post to the end of the series.",
        ),
        (
            "FREQ=DAILY;UNTIL=20260101T000000Z",
            "2026-03-01T09:00",
            "The rule gives no date from the first post to the end of the series.",
        ),
        (
            "FREQ=YEARLY;COUNT=12",
            "2026-03-01T09:00",
            "The series would not make its 12 posts within ten years of the first; give a smaller COUNT.",
        ),
        (
            "FREQ=MONTHLY;UNTIL=20400101T000000Z",
            "2026-03-01T09:00",
            "UNTIL is more than ten years after the first post; end the series sooner.",
        ),
        (
            "FREQ=HOURLY;UNTIL=20270101T000000Z",
            "2026-03-01T09:00",
            "The series would make more than 1000 posts before UNTIL; end it sooner.",
        ),
        (
            "FREQ=HOURLY;INTERVAL=2;BYHOUR=0;COUNT=3",
            "2026-03-01T09:00",
            "The rule cannot start at 2026-03-01 09:00: Invalid rrule byxxx generates an empty set.",
        ),
    ],
)
def test_a_series_that_from_its_real_start_never_posts_or_runs_too_long_is_refused(
    rule: str, first_local: str, detail: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_series(recurrence(rule, first_local))

    assert refused.value.problems == [Problem("/recurrence/rule", detail)]


def test_after_downtime_occurrences_overdue_beyond_the_grace_are_missed_and_the_rest_are_due() -> None:
    occurrences = [
        NOW - timedelta(hours=3),
        NOW - timedelta(hours=1),
        NOW - timedelta(minutes=10),
        NOW + timedelta(hours=1),
    ]

    missed, due = split_overdue(occurrences, NOW, timedelta(minutes=30))

    assert missed == [NOW - timedelta(hours=3), NOW - timedelta(hours=1)]
    assert due == [NOW - timedelta(minutes=10), NOW + timedelta(hours=1)]


def test_an_occurrence_exactly_the_grace_period_late_is_still_due() -> None:
    assert split_overdue([NOW - timedelta(minutes=30)], NOW, timedelta(minutes=30)) == (
        [],
        [NOW - timedelta(minutes=30)],
    )
    assert split_overdue([NOW - timedelta(minutes=1)], NOW, timedelta(0)) == (
        [NOW - timedelta(minutes=1)],
        [],
    )


def test_split_overdue_refuses_naive_times_and_a_negative_grace() -> None:
    with pytest.raises(ValueError, match="has no zone"):
        split_overdue([wall("2026-06-01T11:00")], NOW, timedelta(minutes=30))
    with pytest.raises(ValueError, match="negative"):
        split_overdue([NOW], NOW, timedelta(minutes=-1))


ZONES = [PARIS, NEW_YORK, SYDNEY, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]
FIRST_LOCALS = st.builds(
    datetime.combine,
    st.dates(min_value=wall("2025-01-01").date(), max_value=wall("2029-12-31").date()),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)
RULES = st.sampled_from(
    [
        "FREQ=DAILY;COUNT=400",
        "FREQ=WEEKLY;COUNT=60",
        "FREQ=WEEKLY;BYDAY=MO,TH,SU;COUNT=160",
        "FREQ=MONTHLY;COUNT=14",
    ]
)


@given(rule=RULES, first_local=FIRST_LOCALS, zone=st.sampled_from(ZONES))
def test_every_occurrence_shows_the_first_ones_wall_time_unless_that_day_skipped_it(
    rule: str, first_local: datetime, zone: ZoneInfo
) -> None:
    posts = list(Recurrence(parse_rule(rule), first_local, zone).occurrences())

    assert all(earlier < later for earlier, later in pairwise(posts))
    for post in posts:
        local = to_local(post, zone)
        if (
            local.time() != first_local.time()
        ):  # only a gap may move it, forward, and on its own day or the next
            intended = next(
                datetime.combine(day, first_local.time())
                for day in (local.date(), local.date() - timedelta(days=1))
                if to_utc(datetime.combine(day, first_local.time()), zone) == post
            )
            assert to_local(to_utc(intended, zone), zone) != intended


@given(first_local=FIRST_LOCALS, zone=st.sampled_from(ZONES), data=st.data())
def test_occurrences_between_is_the_slice_of_all_occurrences_in_the_window(
    first_local: datetime, zone: ZoneInfo, data: st.DataObject
) -> None:
    series = Recurrence(parse_rule("FREQ=DAILY;BYHOUR=1,2,3,9;COUNT=80"), first_local, zone)
    every = list(series.occurrences())
    start, end = sorted(data.draw(st.lists(st.sampled_from(every), min_size=2, max_size=2)))

    assert series.occurrences_between(start, end) == [post for post in every if start <= post < end]
    assert series.first_after(start) == next((post for post in every if post > start), None)
