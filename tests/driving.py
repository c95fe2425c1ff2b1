"""Driving Crier from a test: the scheduler's and a worker's work, done now.

In production the scheduler claims due deliveries and a worker attempts them, each in a process of its own.
A test about something else does that work itself, in its own thread, with the functions here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due
from shared.deliveries.models import DeliveryState
from shared.deliveries.publishing import publish_delivery

LEASE = timedelta(seconds=60)


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
