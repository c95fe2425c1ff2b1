from __future__ import annotations

from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.channels.refreshing import renew_expiring_credentials
from shared.task_names import RENEW_EXPIRING_CREDENTIALS


@shared_task(name=RENEW_EXPIRING_CREDENTIALS, base=CrierTask, bind=True)
def renew_expiring(self: CrierTask, **_: Any) -> dict[str, int]:
    """Renew the access tokens that expire soon (shared.channels.refreshing); how many went each way."""
    return {str(outcome): count for outcome, count in renew_expiring_credentials(self.services).items()}
