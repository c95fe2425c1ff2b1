"""How long an outbound call may take: a deadline for each call, from its first lookup to its answer's last
byte, and the bounds a caller may put on every call it makes (`calls_within`).

The deadline is carried in a context variable, so that every socket operation made for a call (the lookup,
the handshake, each read and write) is given at most the time left, however deep in httpcore it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

# When the calls made in this context must be over (time.monotonic()), and the caller's bounds if any.
_deadline: ContextVar[float | None] = ContextVar("crier_outbound_deadline", default=None)
_budget: ContextVar[_Budget | None] = ContextVar("crier_outbound_budget", default=None)


@dataclass
class _Budget:
    """The bounds a caller puts on every call made inside `calls_within`."""

    ends_at: float
    before_first: Callable[[], None] | None
    started: bool = False

    def admit(self) -> None:
        if not self.started and self.before_first is not None:
            self.before_first()
        self.started = True


@contextmanager
def calls_within(seconds: float, *, before_first: Callable[[], None] | None = None) -> Iterator[None]:
    """Every call made inside ends within `seconds` from now; `before_first` runs before the first of them
    (and may raise to refuse it), so a caller that makes none takes nothing."""
    token = _budget.set(_Budget(time.monotonic() + seconds, before_first))
    try:
        yield
    finally:
        _budget.reset(token)


def call_ends_at(seconds: float) -> float:
    """When a call given `seconds` must be over: sooner when it is made inside `calls_within`, whose
    `before_first` it runs if it is the first call made there."""
    ends_at = time.monotonic() + seconds
    budget = _budget.get()
    if budget is not None:
        budget.admit()
        ends_at = min(ends_at, budget.ends_at)
    return ends_at


@contextmanager
def until(ends_at: float) -> Iterator[None]:
    """Every socket operation inside ends by `ends_at` (time.monotonic())."""
    token = _deadline.set(ends_at)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """The timeout of one socket operation, cut to the time left before the call's deadline."""
    ends_at = _deadline.get()
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)
