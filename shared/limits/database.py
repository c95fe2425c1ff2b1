"""Token buckets in the database: the embedded mode's limiter, for when there is no Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.db import insert_on_conflict
from shared.limits.models import RateBucket
from shared.limits.ports import Rate

MAX_KEY_LENGTH = 200


class DatabaseRateLimiter:
    """Token buckets kept as rows of `rate_buckets`, one short transaction per token."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time) -> None:
        self._sessions = sessions
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> DatabaseRateLimiter:
        """The limiter on the process's database (CRIER_RATE_LIMITER=database)."""
        return cls(sessions)

    def try_acquire(self, key: str, rate: Rate) -> float:
        # PostgreSQL would refuse a longer key and SQLite would quietly keep it; both refuse it here alike.
        if len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"a rate bucket's key may be {MAX_KEY_LENGTH} characters at most: {key!r}")
        with self._sessions.begin() as session:
            session.execute(
                insert_on_conflict(session, RateBucket)
                .values(key=key, tokens=float(rate.burst), updated_at=self._clock())
                .on_conflict_do_nothing()
            )
            # FOR UPDATE makes concurrent takers queue on PostgreSQL. SQLite drops it, but there every
            # transaction began with BEGIN IMMEDIATE (shared.db), which already lets one writer in at a time.
            bucket = session.scalars(select(RateBucket).where(RateBucket.key == key).with_for_update()).one()
            # The clock is read once the row is ours, so a taker that waited for the lock sees the time it
            # actually takes at, not the time it started waiting.
            return bucket.take(rate, now=self._clock())
