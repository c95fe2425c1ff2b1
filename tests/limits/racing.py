"""Many threads taking tokens from one bucket at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shared.limits.ports import Rate, RateLimiter


def grants_when_racing(
    make_limiter: Callable[[], RateLimiter], key: str, rate: Rate, *, threads: int, attempts_each: int
) -> int:
    """How many tokens `threads` threads, each with its own limiter and all starting together, take."""
    start = threading.Barrier(threads, timeout=30)

    def contend() -> int:
        limiter = make_limiter()
        start.wait()
        return sum(limiter.try_acquire(key, rate) == 0.0 for _ in range(attempts_each))

    with ThreadPoolExecutor(threads) as pool:
        # .result() re-raises, so a thread that failed (a deadlock, a busy database) fails the test.
        return sum(future.result() for future in [pool.submit(contend) for _ in range(threads)])
