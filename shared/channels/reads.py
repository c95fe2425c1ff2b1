"""Crier's own limits on reading from a network for a channel, apart from its posting quotas.

Metrics, follower snapshots and the engagement inbox all read; they share one bucket per channel and one
per network (NetworkInfo.account_read_rate, network_read_rate), so that together they keep inside what the
network allows, and reading never delays a post.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.limits.ports import RateLimiter
from shared.networks.ports import NetworkInfo


@dataclass(frozen=True)
class ReadWait:
    """A read held back: how long until a read is allowed, and by which bucket."""

    seconds: float
    bucket: str

    def __str__(self) -> str:
        return f"waiting {self.seconds:.1f} s for Crier's read limit ({self.bucket})"


def take_read(limits: RateLimiter, info: NetworkInfo, channel_id: str) -> ReadWait | None:
    """Take a read from the channel's and the network's buckets; how long to wait if one is empty."""
    buckets = [
        (f"reads:channel:{channel_id}", info.account_read_rate),
        (f"reads:network:{info.name}", info.network_read_rate),
    ]
    for key, rate in buckets:
        if rate is None:
            continue
        wait = limits.try_acquire(key, rate)
        if wait > 0:
            return ReadWait(wait, key)
    return None
