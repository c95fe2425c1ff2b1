from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.limits.ports import Rate


class RateBucket(Base):
    """One token bucket of the embedded rate limiter: how full it was at `updated_at` (epoch seconds)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    def take(self, rate: Rate, now: float) -> float:
        """Refill up to `now`, then take one token: 0.0 if taken, else the seconds until one will be there."""
        # The bucket's time only moves forward: a host whose clock is behind the last writer's gets no refill
        # until its clock catches up, instead of rewinding updated_at and so granting the same seconds twice.
        if now > self.updated_at:
            self.tokens += (now - self.updated_at) * rate.per_second
            self.updated_at = now
        self.tokens = min(float(rate.burst), self.tokens)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate.per_second
