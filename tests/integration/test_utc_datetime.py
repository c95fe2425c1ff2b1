"""Timestamps are instants: whatever zone they are written in, both backends read back the same UTC time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from shared.bootstrap import Services
from shared.periodic.models import PeriodicRun


def read_back(services: Services, task_name: str) -> datetime:
    with services.sessions() as session:
        return session.get_one(PeriodicRun, task_name).next_run_at


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        (
            datetime(2026, 3, 29, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata")),
            datetime(2026, 3, 29, 3, 30, tzinfo=UTC),
        ),
        (
            datetime(2026, 7, 1, 1, 30, 15, 123456, tzinfo=ZoneInfo("America/St_Johns")),
            datetime(2026, 7, 1, 4, 0, 15, 123456, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 1, 0, 0, tzinfo=ZoneInfo("Pacific/Kiritimati")),
            datetime(2025, 12, 31, 10, 0, tzinfo=UTC),
        ),
    ],
    ids=["+05:30", "-02:30 in summer time", "+14:00 across the date line"],
)
def test_an_aware_time_in_another_zone_reads_back_as_the_same_instant_in_utc(
    services: Services, written: datetime, instant: datetime
) -> None:
    with services.sessions.begin() as session:
        session.add(PeriodicRun(task_name="crier.test", next_run_at=written))

    read = read_back(services, "crier.test")

    assert read == instant
    assert read.tzinfo is UTC
    assert read.utcoffset() == timedelta(0)


def test_instants_written_in_different_zones_compare_as_instants_in_queries(services: Services) -> None:
    # By wall clock "early" (05:00) comes before "late" (10:00); as instants it is the other way round.
    late_wall_clock_early_instant = datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata"))  # 04:30Z
    early_wall_clock_late_instant = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)
    with services.sessions.begin() as session:
        session.add_all(
            [
                PeriodicRun(task_name="crier.kolkata", next_run_at=late_wall_clock_early_instant),
                PeriodicRun(task_name="crier.utc", next_run_at=early_wall_clock_late_instant),
            ]
        )
    bound = datetime(2026, 6, 1, 0, 45, tzinfo=ZoneInfo("America/New_York"))  # 04:45Z

    with services.sessions() as session:
        in_order = session.scalars(select(PeriodicRun.task_name).order_by(PeriodicRun.next_run_at)).all()
        due = session.scalars(select(PeriodicRun.task_name).where(PeriodicRun.next_run_at <= bound)).all()

    assert in_order == ["crier.kolkata", "crier.utc"]
    assert due == ["crier.kolkata"]


def test_a_naive_datetime_is_refused_rather_than_guessed(services: Services) -> None:
    with (
        pytest.raises(StatementError, match=r"naive datetime .* would be ambiguous") as refused,
        services.sessions.begin() as session,
    ):
        session.add(PeriodicRun(task_name="crier.test", next_run_at=datetime(2026, 3, 29, 9, 0)))  # noqa: DTZ001
    assert isinstance(refused.value.orig, ValueError)

    with services.sessions() as session:
        assert session.scalars(select(PeriodicRun)).all() == []
        with pytest.raises(StatementError, match="naive datetime"):
            session.scalars(
                select(PeriodicRun).where(PeriodicRun.next_run_at <= datetime(2026, 3, 29, 9, 0))  # noqa: DTZ001
            ).all()
