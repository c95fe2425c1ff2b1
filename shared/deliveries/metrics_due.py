"""When the metrics collector next reads each published delivery, and how many times it has read it.

These columns of deliveries follow shared.metrics' schedule (shared.metrics.schedule); they are written
here, as every column of deliveries is.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from shared.db import UTCDateTime
from shared.deliveries.models import Delivery


def reschedule_metrics(session: Session, due: Mapping[uuid.UUID, datetime | None]) -> None:
    """Set when each delivery's metrics are next due; None takes it off the schedule."""
    if due:
        session.execute(
            update(Delivery), [{"id": delivery_id, "metrics_due_at": at} for delivery_id, at in due.items()]
        )


# Built once: collections write them for every delivery read.
_COUNT_COLLECTION = (
    update(Delivery)
    .where(Delivery.id == bindparam("b_id"))
    .values(metrics_collections=Delivery.metrics_collections + 1)
)
_SET_DUE = (
    update(Delivery)
    .where(Delivery.id == bindparam("b_id"))
    .values(metrics_due_at=bindparam("b_due", type_=UTCDateTime()))
)


def note_collections(
    session: Session, collected: Collection[uuid.UUID], next_due: Mapping[uuid.UUID, datetime | None]
) -> None:
    """Count each delivery's collection and set when its next one is due."""
    connection = session.connection()
    if collected:
        connection.execute(_COUNT_COLLECTION, [{"b_id": delivery_id} for delivery_id in collected])
    if next_due:
        connection.execute(_SET_DUE, [{"b_id": key, "b_due": due} for key, due in next_due.items()])
