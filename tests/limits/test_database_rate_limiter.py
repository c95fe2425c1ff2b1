"""The embedded limiter keeps its buckets in the database, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from shared.bootstrap import Services
from shared.limits.database import DatabaseRateLimiter
from shared.limits.models import RateBucket
from shared.limits.ports import Rate
from tests.limits.racing import grants_when_racing


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(services: Services, clock: FakeClock) -> DatabaseRateLimiter:
    return DatabaseRateLimiter(services.sessions, clock=clock)


def test_a_fresh_bucket_grants_its_burst_then_refuses_with_the_exact_wait(
    limiter: DatabaseRateLimiter,
) -> None:
    rate = Rate(burst=3, per_second=2)

    assert [limiter.try_acquire("bluesky", rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("bluesky", rate) == 0.5
    # A refusal takes nothing: the wait is the same, not longer.
    assert limiter.try_acquire("bluesky", rate) == 0.5


def test_a_bucket_refills_at_its_rate(limiter: DatabaseRateLimiter, clock: FakeClock) -> None:
    rate = Rate(burst=2, per_second=4)
    limiter.try_acquire("mastodon", rate)
    limiter.try_acquire("mastodon", rate)

    clock.advance(0.125)
    assert limiter.try_acquire("mastodon", rate) == 0.125
    clock.advance(0.125)
    assert limiter.try_acquire("mastodon", rate) == 0.0
    assert limiter.try_acquire("mastodon", rate) == 0.25


def test_a_bucket_refills_no_further_than_its_burst(limiter: DatabaseRateLimiter, clock: FakeClock) -> None:
    rate = Rate(burst=2, per_second=4)
    limiter.try_acquire("mastodon", rate)
    limiter.try_acquire("mastodon", rate)

    clock.advance(3600)

    assert [limiter.try_acquire("mastodon", rate) for _ in range(3)] == [0.0, 0.0, 0.25]


def test_keys_are_independent(limiter: DatabaseRateLimiter) -> None:
    rate = Rate(burst=1, per_second=1)
    assert limiter.try_acquire("bluesky:@ada", rate) == 0.0
    assert limiter.try_acquire("bluesky:@ada", rate) == 1.0

    assert limiter.try_acquire("bluesky:@grace", rate) == 0.0
    assert limiter.try_acquire("mastodon:@ada", rate) == 0.0


def test_a_host_whose_clock_is_behind_gets_no_refill_and_does_not_rewind_the_bucket(
    services: Services, clock: FakeClock
) -> None:
    ahead = DatabaseRateLimiter(services.sessions, clock=clock)
    behind = DatabaseRateLimiter(services.sessions, clock=lambda: clock.now - 10)
    rate = Rate(burst=1, per_second=1)
    assert ahead.try_acquire("linkedin", rate) == 0.0

    assert behind.try_acquire("linkedin", rate) == 1.0
    clock.advance(0.5)
    # Had the late host written its own time back, the bucket would now look ten seconds fuller.
    assert ahead.try_acquire("linkedin", rate) == 0.5


def test_the_bucket_is_a_row_holding_what_is_left_and_when(
    limiter: DatabaseRateLimiter, services: Services, clock: FakeClock
) -> None:
    limiter.try_acquire("threads", Rate(burst=5, per_second=1))

    with services.sessions() as session:
        bucket = session.scalars(select(RateBucket)).one()
    assert (bucket.key, bucket.tokens, bucket.updated_at) == ("threads", 4.0, clock.now)


def test_a_key_longer_than_the_column_is_refused_on_both_backends(limiter: DatabaseRateLimiter) -> None:
    with pytest.raises(ValueError, match="200 characters at most"):
        limiter.try_acquire("x" * 201, Rate(burst=1, per_second=1))


def test_racing_threads_take_exactly_the_burst_between_them(services: Services) -> None:
    key = f"race:{uuid.uuid4().hex}"
    granted = grants_when_racing(
        lambda: DatabaseRateLimiter(services.sessions, clock=time.time),
        key,
        Rate(burst=5, per_second=1e-6),
        threads=8,
        attempts_each=3,
    )
    assert granted == 5
