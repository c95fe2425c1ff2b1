"""The rate-limiting port: per-key token buckets, so one busy network or account cannot starve the others."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rate:
    """A token bucket: up to `burst` at once, refilled at `per_second`."""

    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError(f"a rate's burst must be at least 1, not {self.burst!r}")
        # `not >` also rejects NaN; with infinity the time to refill, and so Redis's expiry, means nothing.
        if not (self.per_second > 0 and math.isfinite(self.per_second)):
            raise ValueError(
                f"a rate's per_second must be a positive, finite number, not {self.per_second!r}"
            )

    @classmethod
    def per_minute(cls, count: int, burst: int | None = None) -> Rate:
        """`count` a minute, all of them at once unless `burst` says fewer (or more)."""
        return cls._per_period(count, 60, burst)

    @classmethod
    def per_hour(cls, count: int, burst: int | None = None) -> Rate:
        """`count` an hour, all of them at once unless `burst` says fewer (or more)."""
        return cls._per_period(count, 3600, burst)

    @classmethod
    def _per_period(cls, count: int, seconds: int, burst: int | None) -> Rate:
        if count < 1:
            raise ValueError(f"a rate's count must be at least 1, not {count!r}")
        return cls(burst=count if burst is None else burst, per_second=count / seconds)


class RateLimiter(Protocol):
    def try_acquire(self, key: str, rate: Rate) -> float:
        """Take a token from bucket `key`: 0.0 if taken, else the seconds until one is there (none taken)."""
        ...
