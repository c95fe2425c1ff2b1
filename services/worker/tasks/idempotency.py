from __future__ import annotations

from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.db import utcnow
from shared.idempotency.services import purge_expired_keys
from shared.task_names import PURGE_EXPIRED_IDEMPOTENCY_KEYS


@shared_task(name=PURGE_EXPIRED_IDEMPOTENCY_KEYS, base=CrierTask, bind=True)
def purge_expired(self: CrierTask, **_: Any) -> int:
    """Delete the Idempotency-Key rows whose day is over; a key is otherwise freed only when it is reused."""
    with self.services.sessions.begin() as session:
        return purge_expired_keys(session, utcnow())
