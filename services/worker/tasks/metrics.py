from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.metrics.collecting import collect_metrics
from shared.task_names import COLLECT_DUE_METRICS, COLLECT_POST_METRICS


@shared_task(name=COLLECT_DUE_METRICS, base=CrierTask, bind=True)
def collect_due(self: CrierTask, **_: Any) -> int:
    """Collect metrics for every published delivery whose next sample is due."""
    return collect_metrics(self.services)


@shared_task(name=COLLECT_POST_METRICS, base=CrierTask, bind=True)
def collect_for_post(self: CrierTask, post_id: str, **_: Any) -> int:
    """Collect fresh metrics for one post's deliveries, now (a person asked)."""
    return collect_metrics(self.services, uuid.UUID(post_id))
