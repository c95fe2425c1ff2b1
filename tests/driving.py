"""Driving Crier from a test: the scheduler's and a worker's work done now; waiting on work done elsewhere.

In production the scheduler claims due deliveries and a worker attempts them, each in a process of its own.
A test about something else does that work itself, in its own thread, with the functions here. A test that
does run a thread or a process waits with `wait_for` on something it can observe (a state, a count, a log
line), never for a fixed time: a sleep is too short on a loaded machine and too long everywhere else, and
one followed by "nothing happened" passes just as well when the thing never had its chance.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due
from shared.deliveries.models import DeliveryState
from shared.deliveries.publishing import publish_delivery

LEASE = timedelta(seconds=60)

Seen = TypeVar("Seen")


def claim_what_is_due(services: Services, *, at: datetime | None = None) -> list[Claim]:
    """What the scheduler claims at `at` (now by default): every delivery due by then, none ahead of it."""
    with services.sessions.begin() as session:
        return claim_due(session, now=at or utcnow(), lookahead=timedelta(0), batch_size=100, lease=LEASE)


def publish_what_is_due(services: Services) -> dict[uuid.UUID, DeliveryState | None]:
    """What the scheduler and a worker would do now: claim every due delivery and attempt each once.

    The state each attempt left its delivery in (None for a claim gone stale), by delivery id.
    """
    return {
        claim.delivery_id: publish_delivery(services, claim.delivery_id, claim.attempt)
        for claim in claim_what_is_due(services)
    }


def wait_for(
    fetch: Callable[[], Seen],
    until: Callable[[Seen], object] = bool,
    *,
    timeout: float = 10.0,
    every: float = 0.05,
    what: str = "the condition",
    context: Callable[[], str] | None = None,
) -> Seen:
    """Call `fetch` until `until` holds for what it returns, and return that.

    If `timeout` seconds pass first, the test fails with the last value seen and, when given, `context()`
    (a log, a process's output). `fetch` may raise to fail the test at once, as when a process it waits on
    has exited.
    """
    deadline = time.monotonic() + timeout
    while True:
        seen = fetch()
        if until(seen):
            return seen
        if time.monotonic() >= deadline:
            shown = seen if isinstance(seen, str) else repr(seen)
            more = f"\n{context()}" if context is not None else ""
            raise AssertionError(f"{what}: not within {timeout:g} s; last seen: {shown}{more}")
        time.sleep(every)
