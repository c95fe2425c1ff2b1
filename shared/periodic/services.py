"""Taking turns at periodic jobs across scheduler replicas, through the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.db import affected_rows, insert_on_conflict
from shared.periodic.models import PeriodicRun


def take_due_run(session: Session, task_name: str, *, every: timedelta, now: datetime) -> bool:
    """True if this caller won the job's current run; the next run is then `every` from now.

    The first replica to move next_run_at forward wins; the others' UPDATE matches no row.
    """
    session.execute(
        insert_on_conflict(session, PeriodicRun)
        .values(task_name=task_name, next_run_at=now)
        .on_conflict_do_nothing()
    )
    taken = session.execute(
        update(PeriodicRun)
        .where(PeriodicRun.task_name == task_name, PeriodicRun.next_run_at <= now)
        .values(next_run_at=now + every)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(taken) == 1
