"""The settings choose where buckets live: Redis when there is one, otherwise the database."""

from __future__ import annotations

import uuid

import redis
from sqlalchemy import select

from shared.bootstrap import Services, create_rate_limiter
from shared.limits.database import DatabaseRateLimiter
from shared.limits.models import RateBucket
from shared.limits.ports import Rate
from shared.limits.redis import RedisRateLimiter


def test_the_buckets_live_in_redis_when_the_settings_name_one(services: Services, redis_url: str) -> None:
    settings = services.settings.model_copy(update={"redis_url": redis_url})
    key = f"crier-test-{uuid.uuid4().hex}"

    limiter = create_rate_limiter(settings, services.sessions)
    assert isinstance(limiter, RedisRateLimiter)
    assert limiter.try_acquire(key, Rate(burst=1, per_second=1)) == 0.0

    client = redis.Redis.from_url(redis_url)
    try:
        assert client.delete(f"crier:bucket:{key}") == 1
    finally:
        client.close()
    with services.sessions() as session:
        assert session.scalars(select(RateBucket)).all() == []


def test_the_buckets_live_in_the_database_when_there_is_no_redis(services: Services) -> None:
    assert services.settings.redis_url is None

    limiter = create_rate_limiter(services.settings, services.sessions)
    assert isinstance(limiter, DatabaseRateLimiter)
    assert limiter.try_acquire("bluesky", Rate(burst=1, per_second=1)) == 0.0

    with services.sessions() as session:
        assert session.scalars(select(RateBucket.key)).all() == ["bluesky"]
