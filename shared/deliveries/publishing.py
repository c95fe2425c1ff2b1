"""Publishing one delivery: the one use case that must span two transactions.

The network call happens between them and never inside one: a transaction held open across a slow
network would hold locks (and, on SQLite, the whole database) for its duration, and the attempt row
must be committed before the call so that a crash mid-call leaves evidence that a post may exist.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from shared.deliveries.services import begin_attempt, finish_attempt
from shared.networks.ports import NetworkError, OutcomeUnknown, PublishedPost, Transient
from shared.networks.registry import UnknownNetwork

log = logging.getLogger(__name__)


def publish_delivery(services: Services, delivery_id: uuid.UUID, attempt: int) -> DeliveryState | None:
    """Attempt one claimed delivery. Returns its new state, or None when the message was stale."""
    settings = services.settings
    with services.sessions.begin() as session:
        job = begin_attempt(
            session,
            delivery_id,
            attempt,
            now=utcnow(),
            lease=timedelta(seconds=settings.publish_lease_seconds),
        )
    if job is None:
        log.info(
            "dropped a stale publish message", extra={"delivery_id": str(delivery_id), "attempt": attempt}
        )
        return None

    result: PublishedPost | NetworkError
    try:
        network = services.networks.get(job.network)
    except UnknownNetwork as error:
        # Nothing was sent. Another worker, deployed with the plugin, may take the retry.
        result = Transient(str(error))
    else:
        try:
            result = network.publish(job.account, job.draft, job.idempotency_key)
        except NetworkError as error:
            result = error
        except Exception as error:
            # A bug in an adapter tells us nothing about whether the request went out.
            log.exception("adapter %s raised an unexpected error", job.network)
            result = OutcomeUnknown(f"{type(error).__name__}: {error}")

    with services.sessions.begin() as session:
        state = finish_attempt(session, job, result, now=utcnow(), max_attempts=settings.max_publish_attempts)
    log.info(
        "publish attempt finished",
        extra={"delivery_id": str(delivery_id), "attempt": attempt, "state": state and state.value},
    )
    return state
