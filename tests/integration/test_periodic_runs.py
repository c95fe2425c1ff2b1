"""Periodic jobs across scheduler replicas: each run is taken by exactly one of them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from shared.bootstrap import Services
from shared.db import utcnow
from shared.periodic.models import PeriodicRun
from shared.periodic.services import take_due_run
from shared.task_names import COLLECT_DUE_METRICS

EVERY = timedelta(minutes=5)


def take(services: Services, now: datetime, task_name: str = COLLECT_DUE_METRICS) -> bool:
    with services.sessions.begin() as session:
        return take_due_run(session, task_name, every=EVERY, now=now)


def next_run_at(services: Services, task_name: str = COLLECT_DUE_METRICS) -> datetime:
    with services.sessions() as session:
        return session.get_one(PeriodicRun, task_name).next_run_at


def test_a_run_is_taken_once_and_is_due_again_after_its_interval(services: Services) -> None:
    t0 = utcnow()

    assert take(services, t0) is True
    assert next_run_at(services) == t0 + EVERY
    assert take(services, t0) is False
    assert take(services, t0 + EVERY - timedelta(microseconds=1)) is False
    assert take(services, t0 + EVERY) is True
    assert next_run_at(services) == t0 + 2 * EVERY


def test_each_periodic_job_keeps_its_own_schedule(services: Services) -> None:
    t0 = utcnow()

    assert take(services, t0, "crier.a") is True
    assert take(services, t0, "crier.b") is True
    assert take(services, t0, "crier.a") is False


def race(services: Services, now: datetime, replicas: int = 8) -> list[bool]:
    start = threading.Barrier(replicas)

    def replica() -> bool:
        start.wait()
        return take(services, now)

    with ThreadPoolExecutor(replicas) as pool:
        return [future.result(timeout=30) for future in [pool.submit(replica) for _ in range(replicas)]]


def test_replicas_racing_for_a_job_never_run_before_exactly_one_wins(services: Services) -> None:
    assert sorted(race(services, utcnow())) == [False] * 7 + [True]


def test_replicas_racing_for_a_due_run_at_the_same_moment_exactly_one_wins(services: Services) -> None:
    t0 = utcnow()
    assert take(services, t0) is True

    for round_ in range(1, 4):
        results = race(services, t0 + round_ * EVERY)
        assert sorted(results) == [False] * 7 + [True], f"round {round_}"
    assert next_run_at(services) == t0 + 4 * EVERY
