"""The decaying collection schedule: which deliveries are due when, retries, and the end of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.config import Settings, parse_schedule
from shared.metrics.schedule import CollectionSchedule, Due

PUBLISHED = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
SCHEDULE = CollectionSchedule(Settings(_env_file=None).metrics_steps)
MINUTE = timedelta(minutes=1)


def test_the_default_schedule_collects_at_15_minutes_1_hour_6_hours_1_3_7_and_30_days() -> None:
    assert SCHEDULE.steps == (
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(days=3),
        timedelta(days=7),
        timedelta(days=30),
    )


@pytest.mark.parametrize(
    ("age", "decision"),
    [
        (timedelta(0), Due.NOT_YET),
        (timedelta(minutes=14), Due.NOT_YET),
        (timedelta(minutes=15), Due.COLLECT),
        (timedelta(days=30), Due.COLLECT),
        (timedelta(days=31), Due.COLLECT),  # a retry of the last step, within the grace of a day
        (timedelta(days=31, minutes=1), Due.OVER),
    ],
)
def test_a_delivery_is_collected_from_its_first_step_until_a_day_after_its_last(
    age: timedelta, decision: Due
) -> None:
    assert SCHEDULE.decide(PUBLISHED, PUBLISHED + age) is decision


def test_after_each_collection_the_next_step_is_due_and_after_the_last_none() -> None:
    moments = [PUBLISHED + step + MINUTE for step in SCHEDULE.steps]

    following = [SCHEDULE.after_collection(PUBLISHED, moment) for moment in moments]

    assert following == [PUBLISHED + step for step in SCHEDULE.steps[1:]] + [None]


def test_steps_already_past_are_skipped_not_collected_one_after_another() -> None:
    late = PUBLISHED + timedelta(days=2)  # the collector was down through 1 h, 6 h and 24 h

    assert SCHEDULE.after_collection(PUBLISHED, late) == PUBLISHED + timedelta(days=3)


def test_a_failed_read_is_tried_again_in_ten_minutes_or_at_the_next_step_if_that_is_sooner() -> None:
    assert SCHEDULE.after_failure(PUBLISHED, PUBLISHED + timedelta(hours=1)) == PUBLISHED + timedelta(
        hours=1, minutes=10
    )
    assert SCHEDULE.after_failure(PUBLISHED, PUBLISHED + timedelta(minutes=55)) == PUBLISHED + timedelta(
        hours=1
    )


def test_a_rate_limit_s_wait_is_kept_to_even_past_the_next_step() -> None:
    wait = timedelta(hours=2)

    assert SCHEDULE.after_failure(PUBLISHED, PUBLISHED + timedelta(minutes=55), wait=wait) == (
        PUBLISHED + timedelta(minutes=55) + wait
    )


def test_a_read_failing_after_the_last_step_gives_up_once_the_grace_is_over() -> None:
    last = PUBLISHED + SCHEDULE.steps[-1]

    assert SCHEDULE.after_failure(PUBLISHED, last + MINUTE) == last + MINUTE + timedelta(minutes=10)
    assert SCHEDULE.after_failure(PUBLISHED, last + timedelta(hours=23, minutes=55)) is None


def test_a_schedule_is_written_as_durations_with_their_unit() -> None:
    assert parse_schedule("30s, 2m,1h ,1d,2w") == (
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(weeks=2),
    )


@pytest.mark.parametrize("written", ["", "15", "1h,15m", "0m,1h", "1h,1h", "15 minutes", "-1h"])
def test_a_schedule_that_does_not_increase_or_lacks_units_is_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("CRIER_METRICS_SCHEDULE", written)

    with pytest.raises(ValidationError, match="metrics_schedule"):
        Settings(_env_file=None)
