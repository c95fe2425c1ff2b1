from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.deliveries.changing import apply_due_changes
from shared.deliveries.publishing import publish_deliveries, reconcile_unknown
from shared.task_names import APPLY_DUE_CHANGES, PUBLISH_DELIVERIES, RECONCILE_UNKNOWN


@shared_task(name=PUBLISH_DELIVERIES, base=CrierTask, bind=True)
def publish_batch(self: CrierTask, claims: list[list[Any]], **_: Any) -> dict[str, str | None]:
    """Publish claimed deliveries, each [delivery id, claim number]; stale claims do nothing."""
    outcomes = publish_deliveries(
        self.services, [(uuid.UUID(str(id_)), int(attempt)) for id_, attempt in claims]
    )
    return {str(delivery_id): state.value if state else None for delivery_id, state in outcomes.items()}


@shared_task(name=RECONCILE_UNKNOWN, base=CrierTask, bind=True)
def reconcile(self: CrierTask, **_: Any) -> int:
    """Check every delivery whose outcome is unknown with its network; returns how many were settled."""
    return sum(1 for state in reconcile_unknown(self.services).values() if state is not None)


@shared_task(name=APPLY_DUE_CHANGES, base=CrierTask, bind=True)
def apply_changes(self: CrierTask, **_: Any) -> int:
    """Apply the deletes and edits of published posts that are due; returns how many moved on."""
    return sum(1 for state in apply_due_changes(self.services).values() if state is not None)
