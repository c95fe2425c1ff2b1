"""Rate limits: per-key token buckets, so one busy network or account cannot starve the others.

`create_rate_limiter` chooses where the buckets live: in Redis when the settings name one, so every host
shares them, otherwise in the database, the embedded mode's only shared store.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.limits.database import DatabaseRateLimiter
from shared.limits.ports import Rate, RateLimiter
from shared.limits.redis import RedisRateLimiter

__all__ = ["DatabaseRateLimiter", "Rate", "RateLimiter", "RedisRateLimiter", "create_rate_limiter"]


def create_rate_limiter(settings: Settings, sessions: sessionmaker[Session]) -> RateLimiter:
    """The limiter the settings call for: Redis when `redis_url` is set, else the database."""
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url)
    return DatabaseRateLimiter(sessions)
