"""A Rate is valid or refused at once, and a bucket's arithmetic grants no more than its rate allows."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.limits.models import RateBucket
from shared.limits.ports import Rate

START = 1_800_000_000.0


def test_per_minute_and_per_hour_spread_the_count_over_the_period_and_allow_it_all_at_once() -> None:
    assert Rate.per_minute(30) == Rate(burst=30, per_second=0.5)
    assert Rate.per_hour(7200) == Rate(burst=7200, per_second=2.0)


def test_per_minute_and_per_hour_take_a_smaller_burst_when_given_one() -> None:
    assert Rate.per_minute(30, burst=5) == Rate(burst=5, per_second=0.5)
    assert Rate.per_hour(360, burst=1) == Rate(burst=1, per_second=0.1)


@pytest.mark.parametrize("burst", [0, -1])
def test_a_burst_below_one_is_refused(burst: int) -> None:
    with pytest.raises(ValueError, match="burst must be at least 1"):
        Rate(burst=burst, per_second=1)


@pytest.mark.parametrize("per_second", [0.0, -1.0, math.nan, math.inf])
def test_a_rate_that_is_not_positive_and_finite_is_refused(per_second: float) -> None:
    with pytest.raises(ValueError, match="per_second must be a positive, finite number"):
        Rate(burst=1, per_second=per_second)


@pytest.mark.parametrize("period", [Rate.per_minute, Rate.per_hour])
def test_a_count_below_one_a_period_is_refused(period: Callable[[int], Rate]) -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        period(0)


@given(
    burst=st.integers(1, 10),
    per_second=st.floats(0.01, 100),
    steps=st.lists(st.floats(0, 5), max_size=60),
)
def test_a_bucket_never_grants_more_than_its_burst_plus_what_has_refilled(
    burst: int, per_second: float, steps: list[float]
) -> None:
    rate = Rate(burst=burst, per_second=per_second)
    bucket = RateBucket(key="k", tokens=float(burst), updated_at=START)
    now, granted = START, 0
    for step in steps:
        now += step
        granted += bucket.take(rate, now) == 0.0
    assert granted <= burst + (now - START) * per_second + 1e-6


@given(burst=st.integers(1, 10), per_second=st.floats(0.01, 100), drained=st.integers(1, 20))
def test_waiting_the_reported_time_is_enough_and_no_more(burst: int, per_second: float, drained: int) -> None:
    rate = Rate(burst=burst, per_second=per_second)
    bucket = RateBucket(key="k", tokens=float(burst), updated_at=START)
    waits = [bucket.take(rate, START) for _ in range(burst + drained)]
    wait = waits[-1]
    assert waits[:burst] == [0.0] * burst
    assert wait == 1 / per_second

    assert bucket.take(rate, START + wait * 0.99) > 0
    # Within float rounding of the clock's value (about 2e-7 s at today's epoch).
    assert bucket.take(rate, START + wait) <= 1e-6
