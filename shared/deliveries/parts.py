"""The parts a delivery made on its network (the post, each reply of its thread), kept as each is confirmed.

Whatever happens next, a later attempt or check goes on from the last part recorded, and a delivery with
parts out there is never called failed: a person reviews it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from shared.db import insert_on_conflict
from shared.deliveries.models import Delivery, DeliveryPart
from shared.networks.ports import NetworkError, PublishedPart, PublishedPost


def parts_of(delivery: Delivery) -> tuple[PublishedPart, ...]:
    """The parts of a delivery the network confirmed, in order, as the adapters take them."""
    return tuple(PublishedPart(part.external_id, part.url, part.published_at) for part in delivery.parts)


def record_parts(
    session: Session, delivery_id: uuid.UUID, parts: Sequence[PublishedPart], now: datetime
) -> None:
    """Keep each confirmed part; a part recorded before (by another attempt or a check) is kept as it was."""
    if not parts:
        return
    session.execute(
        insert_on_conflict(session, DeliveryPart)
        .values(
            [
                {
                    "delivery_id": delivery_id,
                    "position": position,
                    "external_id": part.external_id,
                    "url": part.url,
                    "published_at": part.created_at,
                    "recorded_at": now,
                }
                for position, part in enumerate(parts)
            ]
        )
        .on_conflict_do_nothing(index_elements=["delivery_id", "position"])
    )


def confirmed_parts(result: PublishedPost | NetworkError | None) -> tuple[PublishedPart, ...]:
    """The parts an answer confirms are on the network: all of a post, or those made before a failure."""
    if isinstance(result, PublishedPost):
        return result.parts
    return result.published if result is not None else ()
