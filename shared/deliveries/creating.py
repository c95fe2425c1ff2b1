"""Making a post's deliveries, one per channel: at its time, in each channel's queue, for each occurrence
of a series, or for a whole import at once.

Each is made scheduled; an occurrence whose time passed too long ago is made missed instead, and never
fired late.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.queueing import free_queue_slots, share_next_slot
from shared.errors import Conflict
from shared.posts.models import Post

MISSED_OCCURRENCE = "Crier was not running at this occurrence's time; it was not published late."


def schedule_at(post: Post, channels: Sequence[Channel], at: datetime) -> None:
    """Give the post a delivery on each channel, due at `at`.

    Each delivery's id is chosen here rather than at the flush, so that it is known before the transaction
    writes (the post's creation writes everything in one flush, at its end).
    """
    post.deliveries = [
        Delivery(id=uuid.uuid4(), channel=channel, scheduled_at=at, due_at=at, attempts=[])
        for channel in channels
    ]


def schedule_in_queue(
    session: Session, post: Post, channels: Sequence[Channel], *, now: datetime, share_next: bool
) -> set[uuid.UUID]:
    """Give the post a delivery in each channel's next free slot; with share_next, in the first slot.

    Returns the other posts whose queued deliveries share_next moved down a slot: their time changes.
    Conflict when a channel has no free slot in the coming year.
    """
    deliveries = []
    moved: set[uuid.UUID] = set()
    for channel in channels:
        if share_next:
            slot, moved_here = share_next_slot(session, channel, now=now)
            moved |= moved_here
        else:
            slot = next(iter(free_queue_slots(session, channel, now=now)), None)
        if slot is None:
            raise Conflict(f"{channel.name} has no free posting slot in the coming year.")
        deliveries.append(
            Delivery(id=uuid.uuid4(), channel=channel, scheduled_at=slot, due_at=slot, attempts=[])
        )
    post.deliveries = deliveries
    return moved


def add_occurrence(session: Session, post: Post, occurrence: int, at: datetime, *, missed: bool) -> None:
    """A delivery on each of the post's channels for one occurrence of its series (its index, its time)."""
    for target in post.targets:
        session.add(
            Delivery(
                post_id=post.id,
                channel_id=target.channel_id,
                occurrence=occurrence,
                state=DeliveryState.MISSED if missed else DeliveryState.SCHEDULED,
                scheduled_at=at,
                due_at=at,
                last_error=MISSED_OCCURRENCE if missed else None,
            )
        )


def add_imported(session: Session, due: Sequence[tuple[uuid.UUID, uuid.UUID, datetime]]) -> None:
    """The deliveries of imported posts, each (post, channel, time), in one INSERT: the rows schedule_at
    and schedule_in_queue make, without the cost of the ORM for each (shared.bulk.services)."""
    if not due:
        return
    session.execute(
        insert(Delivery),
        [
            {
                "id": uuid.uuid4(),
                "post_id": post_id,
                "channel_id": channel_id,
                "occurrence": 0,
                "state": DeliveryState.SCHEDULED,
                "scheduled_at": at,
                "due_at": at,
            }
            for post_id, channel_id, at in due
        ],
    )
