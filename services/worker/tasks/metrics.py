from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.metrics.collecting import collect_metrics, prune_metric_samples, take_snapshots
from shared.task_names import (
    COLLECT_DUE_METRICS,
    COLLECT_POST_METRICS,
    PRUNE_METRIC_SAMPLES,
    SNAPSHOT_CHANNELS,
)


@shared_task(name=COLLECT_DUE_METRICS, base=CrierTask, bind=True)
def collect_due(self: CrierTask, **_: Any) -> int:
    """Collect metrics for every published delivery whose next collection is due."""
    return collect_metrics(self.services)


@shared_task(name=COLLECT_POST_METRICS, base=CrierTask, bind=True)
def collect_for_post(self: CrierTask, post_id: str, **_: Any) -> int:
    """Collect fresh metrics for one post's deliveries, now (a person asked)."""
    return collect_metrics(self.services, uuid.UUID(post_id))


@shared_task(name=SNAPSHOT_CHANNELS, base=CrierTask, bind=True)
def snapshot_channels(self: CrierTask, **_: Any) -> int:
    """Read today's followers, follows and posts of each channel that has none yet."""
    return take_snapshots(self.services)


@shared_task(name=PRUNE_METRIC_SAMPLES, base=CrierTask, bind=True)
def prune_samples(self: CrierTask, **_: Any) -> int:
    """Delete raw metric samples older than the retention setting."""
    return prune_metric_samples(self.services)
