"""Every periodic job, by task name. Schedules are data: a test checks each name is a worker task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.config import Settings
from shared.task_names import (
    APPLY_DUE_CHANGES,
    COLLECT_DUE_METRICS,
    PRUNE_METRIC_SAMPLES,
    PURGE_EXPIRED_IDEMPOTENCY_KEYS,
    RECONCILE_UNKNOWN,
    SEND_DUE_WEBHOOKS,
    SNAPSHOT_CHANNELS,
)

# A snapshot is taken once a day per channel; looking every hour retries a failed one the same day.
SNAPSHOT_EVERY = timedelta(hours=1)
PRUNE_EVERY = timedelta(hours=6)
# Keys live a day (shared/idempotency): an hour past that is soon enough to let their rows go.
PURGE_KEYS_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class PeriodicJob:
    task_name: str
    every: timedelta


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    return [
        PeriodicJob(RECONCILE_UNKNOWN, timedelta(seconds=settings.reconcile_interval_seconds)),
        PeriodicJob(COLLECT_DUE_METRICS, timedelta(seconds=settings.metrics_interval_seconds)),
        PeriodicJob(SNAPSHOT_CHANNELS, SNAPSHOT_EVERY),
        PeriodicJob(PRUNE_METRIC_SAMPLES, PRUNE_EVERY),
        PeriodicJob(SEND_DUE_WEBHOOKS, timedelta(seconds=settings.webhook_interval_seconds)),
        PeriodicJob(APPLY_DUE_CHANGES, timedelta(seconds=settings.changes_interval_seconds)),
        PeriodicJob(PURGE_EXPIRED_IDEMPOTENCY_KEYS, PURGE_KEYS_EVERY),
    ]
