from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.deliveries.publishing import publish_delivery
from shared.task_names import PUBLISH_DELIVERY


@shared_task(name=PUBLISH_DELIVERY, base=CrierTask, bind=True)
def publish(self: CrierTask, delivery_id: str, attempt: int, **_: Any) -> str | None:
    """Publish one claimed delivery; a message for a claim that is no longer current does nothing."""
    state = publish_delivery(self.services, uuid.UUID(delivery_id), attempt)
    return state.value if state else None
