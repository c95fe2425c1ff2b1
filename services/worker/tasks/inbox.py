from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from services.worker.app import CrierTask
from shared.inbox.answering import perform_due_actions
from shared.inbox.reading import read_due_sources
from shared.task_names import PERFORM_INBOX_ACTIONS, READ_INBOX_SOURCE, READ_INBOXES


@shared_task(name=READ_INBOXES, base=CrierTask, bind=True)
def read_inboxes(self: CrierTask, **_: Any) -> int:
    """Read every inbox and saved search that is due (shared.inbox.reading); how many items were stored."""
    return read_due_sources(self.services)


@shared_task(name=READ_INBOX_SOURCE, base=CrierTask, bind=True)
def read_inbox_source(self: CrierTask, source_id: str, **_: Any) -> int:
    """Read one inbox or saved search now: a person asked to refresh it."""
    return read_due_sources(self.services, source_id=uuid.UUID(source_id))


@shared_task(name=PERFORM_INBOX_ACTIONS, base=CrierTask, bind=True)
def perform_inbox_actions(self: CrierTask, **_: Any) -> int:
    """Like or hide the items a person asked to (shared.inbox.answering); how many were done."""
    return perform_due_actions(self.services)
