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
RENEW_EXPIRING_CREDENTIALS = "crier.channels.renew_expiring_credentials"
READ_INBOXES = "crier.inbox.read_due"
READ_INBOX_SOURCE = "crier.inbox.read_source"
PERFORM_INBOX_ACTIONS = "crier.inbox.perform_actions"

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
    # On the publish queue: a token that ran out stops the channel's posts, not only its housekeeping.
    RENEW_EXPIRING_CREDENTIALS: PUBLISH_QUEUE,
    # Reading is the metrics' kind of work: reads from networks, never in a post's way.
    READ_INBOXES: METRICS_QUEUE,
    READ_INBOX_SOURCE: METRICS_QUEUE,
    # A like or a hide a person just asked for: on the publish queue, as a post is.
    PERFORM_INBOX_ACTIONS: PUBLISH_QUEUE,
}

QUEUES = frozenset(QUEUE_OF_TASK.values())
