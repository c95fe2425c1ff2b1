"""The Redis limiter shares its buckets between processes, on Redis's clock, and lets idle ones expire."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from shared.limits.ports import Rate
from shared.limits.redis import RedisRateLimiter
from tests.limits.racing import grants_when_racing


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards, as the Redis is shared."""
    prefix = f"crier-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def limiter(client: redis.Redis, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(client, prefix=prefix)


def test_a_fresh_bucket_grants_its_burst_then_refuses_with_the_exact_wait(limiter: RedisRateLimiter) -> None:
    rate = Rate(burst=3, per_second=0.001)

    assert [limiter.try_acquire("bluesky", rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    # 1000 s for a token, less the few milliseconds that have passed since the first was taken.
    assert limiter.try_acquire("bluesky", rate) == pytest.approx(1000, abs=0.5)
    assert limiter.try_acquire("bluesky", rate) == pytest.approx(1000, abs=0.5)


def test_a_bucket_refills_at_its_rate(limiter: RedisRateLimiter) -> None:
    rate = Rate(burst=1, per_second=20)
    assert limiter.try_acquire("mastodon", rate) == 0.0
    wait = limiter.try_acquire("mastodon", rate)
    assert 0.04 < wait <= 0.05

    time.sleep(wait + 0.01)

    assert limiter.try_acquire("mastodon", rate) == 0.0


def test_a_bucket_does_not_refill_before_its_time(limiter: RedisRateLimiter) -> None:
    rate = Rate(burst=1, per_second=2)
    started = time.monotonic()
    assert limiter.try_acquire("mastodon", rate) == 0.0

    time.sleep(0.2)

    wait = limiter.try_acquire("mastodon", rate)
    # Half a second for a token, less what has gone since it was taken: at least the 0.2 s slept, at most
    # the time measured around both calls (a loaded machine oversleeps by more than a fixed margin).
    assert 0.5 - (time.monotonic() - started) <= wait <= 0.3


def test_keys_are_independent(limiter: RedisRateLimiter) -> None:
    rate = Rate(burst=1, per_second=0.001)
    assert limiter.try_acquire("bluesky:@ada", rate) == 0.0
    assert limiter.try_acquire("bluesky:@ada", rate) > 0

    assert limiter.try_acquire("bluesky:@grace", rate) == 0.0
    assert limiter.try_acquire("mastodon:@ada", rate) == 0.0


def test_a_bucket_expires_when_it_would_be_full_again(
    limiter: RedisRateLimiter, client: redis.Redis, prefix: str
) -> None:
    rate = Rate(burst=4, per_second=2)
    limiter.try_acquire("threads", rate)
    limiter.try_acquire("threads", rate)

    # Two tokens short at two a second: full, and so gone, in one second.
    assert 900 < client.pttl(f"{prefix}threads") <= 1000
    assert float(client.hget(f"{prefix}threads", "tokens") or "nan") == pytest.approx(2, abs=0.01)


def test_an_idle_bucket_is_gone_once_refilled_and_starts_full_again(
    limiter: RedisRateLimiter, client: redis.Redis, prefix: str
) -> None:
    rate = Rate(burst=1, per_second=20)
    limiter.try_acquire("threads", rate)
    assert client.exists(f"{prefix}threads") == 1

    time.sleep(0.1)

    assert client.exists(f"{prefix}threads") == 0
    assert limiter.try_acquire("threads", rate) == 0.0


def test_racing_clients_take_exactly_the_burst_between_them(redis_url: str, prefix: str) -> None:
    granted = grants_when_racing(
        lambda: RedisRateLimiter.from_url(redis_url, prefix=prefix),
        "race",
        Rate(burst=5, per_second=1e-6),
        threads=8,
        attempts_each=3,
    )
    assert granted == 5
