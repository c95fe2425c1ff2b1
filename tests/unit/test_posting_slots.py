"""A queue's slots keep their wall time across DST; the next free ones skip the taken and the past."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.channels.slots import PostingSchedule, next_free_slots, slots_between
from shared.errors import InvalidInput, Problem
from shared.timezones import to_local, to_utc

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
WEEKDAYS = {day: ["09:00", "12:30", "17:45"] for day in ("mon", "tue", "wed", "thu", "fri")}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def schedule(document: dict[str, list[str]]) -> PostingSchedule:
    return PostingSchedule.from_document(document)


def test_a_document_is_read_with_each_days_times_in_order() -> None:
    read = schedule({"mon": ["17:45", "09:00"], "sat": ["23:59", "00:00"]})

    assert read.times_on(0) == (time(9, 0), time(17, 45))
    assert read.times_on(5) == (time(0, 0), time(23, 59))
    assert read.times_on(1) == ()


def test_the_canonical_document_lists_every_weekday_monday_first_empty_when_the_queue_rests() -> None:
    assert schedule({"sat": ["10:00"], "mon": ["17:45", "09:00"]}).to_document() == {
        "mon": ["09:00", "17:45"],
        "tue": [],
        "wed": [],
        "thu": [],
        "fri": [],
        "sat": ["10:00"],
        "sun": [],
    }


def test_a_canonical_document_reads_back_as_the_same_schedule() -> None:
    weekdays = schedule(WEEKDAYS)

    assert schedule(weekdays.to_document()) == weekdays


def test_an_empty_document_is_a_queue_that_never_posts() -> None:
    assert schedule({}).is_empty
    assert schedule({"mon": [], "sun": []}).is_empty
    assert not schedule({"sun": ["10:00"]}).is_empty


def test_every_problem_in_a_document_is_reported_at_once_with_where_it_is() -> None:
    document: dict[str, object] = {
        "mon": ["09:00", "25:00", "09:00", "9:00", 900],
        "monday": ["10:00"],
        "tue": "09:00",
        "wed": ["12:60", "24:00", "12:30:00"],
    }

    with pytest.raises(InvalidInput) as refused:
        PostingSchedule.from_document(document)

    assert refused.value.problems == [
        Problem("/posting_schedule/mon/1", "'25:00' is not a time of day as HH:MM."),
        Problem("/posting_schedule/mon/2", "'09:00' is listed twice."),
        Problem("/posting_schedule/mon/3", "'9:00' is not a time of day as HH:MM."),
        Problem("/posting_schedule/mon/4", "900 is not a time of day as HH:MM."),
        Problem(
            "/posting_schedule/monday", "'monday' is not a weekday; use mon, tue, wed, thu, fri, sat or sun."
        ),
        Problem("/posting_schedule/tue", 'Give a list of times of day as HH:MM, such as ["09:00"].'),
        Problem("/posting_schedule/wed/0", "'12:60' is not a time of day as HH:MM."),
        Problem("/posting_schedule/wed/1", "'24:00' is not a time of day as HH:MM."),
        Problem("/posting_schedule/wed/2", "'12:30:00' is not a time of day as HH:MM."),
    ]


def test_a_day_takes_24_times_and_not_25() -> None:
    every_hour = [f"{hour:02}:00" for hour in range(24)]

    assert len(schedule({"wed": every_hour}).times_on(2)) == 24
    with pytest.raises(InvalidInput) as refused:
        schedule({"wed": [*every_hour, "12:30"]})
    assert refused.value.problems == [
        Problem("/posting_schedule/wed", "Wednesday has 25 times; a queue takes at most 24 a day.")
    ]


def test_the_pointers_start_where_the_caller_says_and_escape_odd_keys() -> None:
    with pytest.raises(InvalidInput) as refused:
        PostingSchedule.from_document({"mon/tue": ["09:00"]}, pointer="/channels/2/posting_schedule")

    assert [problem.pointer for problem in refused.value.problems] == [
        "/channels/2/posting_schedule/mon~1tue"
    ]


def test_a_schedule_built_in_code_must_be_seven_days_of_ordered_distinct_times() -> None:
    with pytest.raises(ValueError, match="7 days"):
        PostingSchedule(((),) * 6)
    with pytest.raises(ValueError, match="distinct, in order"):
        PostingSchedule(((time(12), time(9)),) + ((),) * 6)


def test_after_friday_evening_comes_monday_morning_at_the_same_wall_time_though_the_clocks_moved() -> None:
    friday_evening = instant("2026-03-27T18:00+01:00")

    assert next_free_slots(schedule(WEEKDAYS), PARIS, after=friday_evening, taken=(), count=4) == [
        instant("2026-03-30T07:00Z"),  # 09:00 CEST: the clocks went forward on Sunday
        instant("2026-03-30T10:30Z"),
        instant("2026-03-30T15:45Z"),
        instant("2026-03-31T07:00Z"),
    ]
    friday_morning = instant("2026-03-27T06:00Z")
    assert next_free_slots(schedule(WEEKDAYS), PARIS, after=friday_morning, taken=()) == [
        instant("2026-03-27T08:00Z")  # 09:00 CET
    ]


def test_a_slot_at_exactly_after_is_not_free_and_the_next_one_is() -> None:
    assert next_free_slots(schedule(WEEKDAYS), PARIS, after=instant("2026-03-30T07:00Z"), taken=()) == [
        instant("2026-03-30T10:30Z")
    ]


def test_taken_slots_are_skipped_whatever_zone_they_are_given_in() -> None:
    taken = [instant("2026-03-30T07:00Z"), datetime.fromisoformat("2026-03-30T12:30+02:00")]

    assert next_free_slots(
        schedule(WEEKDAYS), PARIS, after=instant("2026-03-28T00:00Z"), taken=taken, count=2
    ) == [instant("2026-03-30T15:45Z"), instant("2026-03-31T07:00Z")]


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        (PARIS, "2026-03-28T12:00Z", ["2026-03-29T01:30Z", "2026-04-05T00:30Z"]),
        (NEW_YORK, "2026-03-07T12:00Z", ["2026-03-08T07:30Z", "2026-03-15T06:30Z"]),
        (SYDNEY, "2026-10-03T00:00Z", ["2026-10-03T16:30Z", "2026-10-10T15:30Z"]),
    ],
)
def test_a_slot_that_spring_forward_skips_moves_forward_by_the_gap(
    zone: ZoneInfo, after: str, expected: list[str]
) -> None:
    sunday_half_past_two = schedule({"sun": ["02:30"]})

    slots = next_free_slots(sunday_half_past_two, zone, after=instant(after), taken=(), count=2)

    assert slots == [instant(moment) for moment in expected]
    assert to_local(slots[0], zone).time() == time(3, 30)


def test_two_slots_that_a_gap_makes_one_instant_are_one_slot() -> None:
    half_past_two_and_three = schedule({"sun": ["02:30", "03:30"]})

    assert next_free_slots(
        half_past_two_and_three, PARIS, after=instant("2026-03-28T12:00Z"), taken=(), count=3
    ) == [instant("2026-03-29T01:30Z"), instant("2026-04-05T00:30Z"), instant("2026-04-05T01:30Z")]


def test_a_slot_a_gap_moves_past_a_later_slot_is_listed_after_it() -> None:
    quarter_to_three_and_three = schedule({"sun": ["02:45", "03:00"]})

    assert slots_between(
        quarter_to_three_and_three, PARIS, instant("2026-03-29T00:00Z"), instant("2026-03-30T00:00Z")
    ) == [instant("2026-03-29T01:00Z"), instant("2026-03-29T01:45Z")]  # 03:00 CEST, then 02:45 moved to 03:45


@pytest.mark.parametrize(
    ("zone", "slot", "after", "expected"),
    [
        (PARIS, "02:30", "2026-10-24T12:00Z", ["2026-10-25T00:30Z", "2026-11-01T01:30Z"]),
        (NEW_YORK, "01:30", "2026-10-31T12:00Z", ["2026-11-01T05:30Z", "2026-11-08T06:30Z"]),
        (SYDNEY, "02:30", "2026-04-04T00:00Z", ["2026-04-04T15:30Z", "2026-04-11T16:30Z"]),
    ],
)
def test_a_slot_in_the_hour_fall_back_repeats_occurs_once_at_its_first_showing(
    zone: ZoneInfo, slot: str, after: str, expected: list[str]
) -> None:
    sunday = schedule({"sun": [slot]})

    assert next_free_slots(sunday, zone, after=instant(after), taken=(), count=2) == [
        instant(moment) for moment in expected
    ]


def test_after_the_first_showing_of_a_doubled_hour_its_slot_is_past() -> None:
    sunday = schedule({"sun": ["02:30"]})
    between_the_two_showings = instant("2026-10-25T01:00Z")

    assert next_free_slots(sunday, PARIS, after=between_the_two_showings, taken=()) == [
        instant("2026-11-01T01:30Z")
    ]


def test_an_empty_schedule_has_no_free_slot() -> None:
    assert next_free_slots(schedule({}), PARIS, after=instant("2026-03-28T00:00Z"), taken=(), count=3) == []


def test_slots_beyond_the_horizon_are_not_offered() -> None:
    mondays = schedule({"mon": ["09:00"]})
    tuesday = instant("2026-03-31T12:00Z")

    assert next_free_slots(mondays, PARIS, after=tuesday, taken=(), horizon_days=5) == []
    assert next_free_slots(mondays, PARIS, after=tuesday, taken=(), horizon_days=6) == [
        instant("2026-04-06T07:00Z")
    ]


def test_a_full_horizon_gives_fewer_slots_than_asked() -> None:
    mondays = schedule({"mon": ["09:00"]})
    taken = [instant("2026-04-06T07:00Z")]

    slots = next_free_slots(
        mondays, PARIS, after=instant("2026-03-31T12:00Z"), taken=taken, count=3, horizon_days=14
    )

    assert slots == [instant("2026-04-13T07:00Z")]


def test_naive_times_are_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="has no zone"):
        next_free_slots(schedule(WEEKDAYS), PARIS, after=datetime.fromisoformat("2026-03-30T09:00"), taken=())
    with pytest.raises(ValueError, match="has no zone"):
        next_free_slots(
            schedule(WEEKDAYS),
            PARIS,
            after=instant("2026-03-30T06:00Z"),
            taken=[datetime.fromisoformat("2026-03-30T09:00")],
        )


def test_slots_between_lists_a_week_start_included_end_excluded() -> None:
    slots = slots_between(
        schedule(WEEKDAYS), PARIS, instant("2026-03-23T08:00Z"), instant("2026-03-30T07:00Z")
    )

    assert len(slots) == 15
    assert slots[0] == instant("2026-03-23T08:00Z")
    assert slots[-3:] == [
        instant("2026-03-27T08:00Z"),
        instant("2026-03-27T11:30Z"),
        instant("2026-03-27T16:45Z"),
    ]


@pytest.mark.parametrize(
    ("zone", "start", "end", "expected"),
    [
        (NEW_YORK, "2026-03-06T00:00Z", "2026-03-10T00:00Z", ["2026-03-06T14:00Z", "2026-03-09T13:00Z"]),
        (NEW_YORK, "2026-10-30T00:00Z", "2026-11-03T00:00Z", ["2026-10-30T13:00Z", "2026-11-02T14:00Z"]),
        (SYDNEY, "2026-04-02T00:00Z", "2026-04-06T00:00Z", ["2026-04-02T22:00Z", "2026-04-05T23:00Z"]),
        (SYDNEY, "2026-10-01T00:00Z", "2026-10-05T00:00Z", ["2026-10-01T23:00Z", "2026-10-04T22:00Z"]),
    ],
)
def test_slots_between_keep_their_wall_time_across_a_weekend_change_of_clocks(
    zone: ZoneInfo, start: str, end: str, expected: list[str]
) -> None:
    nine_on_fridays_and_mondays = schedule({"mon": ["09:00"], "fri": ["09:00"]})

    assert slots_between(nine_on_fridays_and_mondays, zone, instant(start), instant(end)) == [
        instant(moment) for moment in expected
    ]


ZONES = [PARIS, NEW_YORK, SYDNEY, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]
SLOT_TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
SCHEDULES = st.lists(
    st.lists(SLOT_TIMES, max_size=4, unique=True).map(sorted).map(tuple), min_size=7, max_size=7
).map(lambda days: PostingSchedule(tuple(days)))
CLOCK_CHANGES_2026 = [
    instant(moment)
    for moment in (
        "2026-03-08T07:00Z",  # New York forward
        "2026-03-29T01:00Z",  # Paris forward
        "2026-04-04T16:00Z",  # Sydney back
        "2026-04-04T15:00Z",  # Lord Howe back
        "2026-10-03T16:00Z",  # Sydney forward
        "2026-10-25T01:00Z",  # Paris back
        "2026-11-01T06:00Z",  # New York back
    )
]
AFTER = st.one_of(
    st.datetimes(
        min_value=datetime.fromisoformat("2026-01-01T00:00"),
        max_value=datetime.fromisoformat("2027-12-31T00:00"),
        timezones=st.just(UTC),
    ),
    st.builds(
        lambda change, minutes: change - timedelta(minutes=minutes),
        st.sampled_from(CLOCK_CHANGES_2026),
        st.integers(0, 3 * 24 * 60),
    ),
)


def free_slots_by_brute_force(
    posting_schedule: PostingSchedule, zone: ZoneInfo, after: datetime, taken: list[datetime], days: int
) -> list[datetime]:
    """Every slot of every day converted on its own, sorted, and filtered: slow and plainly right."""
    first_day = to_local(after, zone).date() - timedelta(days=1)
    every_slot = {
        to_utc(datetime.combine(day, listed), zone)
        for day in (first_day + timedelta(days=offset) for offset in range(days + 2))
        for listed in posting_schedule.times_on(day.weekday())
    }
    return sorted(slot for slot in every_slot if slot > after and slot not in taken)


@given(posting_schedule=SCHEDULES, zone=st.sampled_from(ZONES), after=AFTER, data=st.data())
def test_free_slots_are_the_schedules_instants_after_the_moment_in_order_and_never_taken(
    posting_schedule: PostingSchedule, zone: ZoneInfo, after: datetime, data: st.DataObject
) -> None:
    upcoming = free_slots_by_brute_force(posting_schedule, zone, after, [], days=60)[:8]
    taken = data.draw(st.lists(st.sampled_from(upcoming), unique=True, max_size=4)) if upcoming else []

    free = next_free_slots(posting_schedule, zone, after=after, taken=taken, count=4, horizon_days=60)

    assert free == free_slots_by_brute_force(posting_schedule, zone, after, taken, days=60)[:4]
    assert all(slot > after and slot not in taken for slot in free)
    assert all(earlier < later for earlier, later in pairwise(free))
