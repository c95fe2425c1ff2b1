"""Every task's stable name and queue. The API and the scheduler send tasks by these names only.

Names are part of the wire format between processes that may be deployed at different versions:
never rename one, add a new name instead.
"""

PUBLISH_DELIVERIES = "crier.deliveries.publish_batch"
RECONCILE_UNKNOWN = "crier.deliveries.reconcile_unknown"
COLLECT_DUE_METRICS = "crier.metrics.collect_due"
COLLECT_POST_METRICS = "crier.metrics.collect_for_post"
SNAPSHOT_CHANNELS = "crier.metrics.snapshot_channels"
PRUNE_METRIC_SAMPLES = "crier.metrics.prune_samples"
SEND_DUE_WEBHOOKS = "crier.notifications.send_due"
APPLY_DUE_CHANGES = "crier.deliveries.apply_due_changes"
PURGE_EXPIRED_IDEMPOTENCY_KEYS = "crier.idempotency.purge_expired"

PUBLISH_QUEUE = "publish"
METRICS_QUEUE = "metrics"
HOUSEKEEPING_QUEUE = "housekeeping"

QUEUE_OF_TASK = {
    PUBLISH_DELIVERIES: PUBLISH_QUEUE,
    RECONCILE_UNKNOWN: HOUSEKEEPING_QUEUE,
    COLLECT_DUE_METRICS: METRICS_QUEUE,
    COLLECT_POST_METRICS: METRICS_QUEUE,
    SNAPSHOT_CHANNELS: METRICS_QUEUE,
    PRUNE_METRIC_SAMPLES: HOUSEKEEPING_QUEUE,
    SEND_DUE_WEBHOOKS: HOUSEKEEPING_QUEUE,
    # On the publish queue: a person waits to see a post deleted or changed, as to see one go out.
    APPLY_DUE_CHANGES: PUBLISH_QUEUE,
    PURGE_EXPIRED_IDEMPOTENCY_KEYS: HOUSEKEEPING_QUEUE,
}

QUEUES = frozenset(QUEUE_OF_TASK.values())
