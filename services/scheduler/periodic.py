"""Every periodic job, by task name. Schedules are data: a test checks each name is a worker task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.config import Settings
from shared.task_names import (
    APPLY_DUE_CHANGES,
    COLLECT_DUE_METRICS,
    PERFORM_INBOX_ACTIONS,
    PRUNE_METRIC_SAMPLES,
    PURGE_EXPIRED_IDEMPOTENCY_KEYS,
    READ_INBOXES,
    RECONCILE_UNKNOWN,
    RENEW_EXPIRING_CREDENTIALS,
    SEND_DUE_WEBHOOKS,
    SNAPSHOT_CHANNELS,
)

# A snapshot is taken once a day per channel; looking every hour retries a failed one the same day.
SNAPSHOT_EVERY = timedelta(hours=1)
PRUNE_EVERY = timedelta(hours=6)
# Keys live a day (shared/idempotency): an hour past that is soon enough to let their rows go.
PURGE_KEYS_EVERY = timedelta(hours=1)
# Well inside the shortest refresh-ahead a network needs (X's tokens live two hours).
RENEW_CREDENTIALS_EVERY = timedelta(minutes=1)


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
        PeriodicJob(RENEW_EXPIRING_CREDENTIALS, RENEW_CREDENTIALS_EVERY),
        # Each source keeps its own interval; the sweep looks four times as often as the shortest, so an
        # item waits at most a quarter interval more than its source's.
        PeriodicJob(READ_INBOXES, timedelta(seconds=max(1.0, settings.inbox_read_min_seconds / 4))),
        PeriodicJob(PERFORM_INBOX_ACTIONS, timedelta(seconds=settings.changes_interval_seconds)),
    ]
