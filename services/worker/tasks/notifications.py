from __future__ import annotations

from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.db import utcnow
from shared.notifications.sending import send_due_webhooks
from shared.task_names import SEND_DUE_WEBHOOKS


@shared_task(name=SEND_DUE_WEBHOOKS, base=CrierTask, bind=True)
def send_due(self: CrierTask, **_: Any) -> int:
    """POST every webhook message that is due; returns how many were attempted."""
    return send_due_webhooks(self.services, utcnow())
