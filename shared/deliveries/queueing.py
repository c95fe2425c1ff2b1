"""A channel's queue: which of its posting slots are free, and taking them.

A slot is taken by a delivery waiting for it (scheduled, after now), whatever its post's timing. Those
deliveries are locked until the transaction ends, so two posts or imports queued at once take different
slots. The slots themselves are the channel's posting schedule, on its own clock (shared.channels.slots).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.channels.slots import PostingSchedule, next_free_slots
from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, Timing
from shared.timezones import check_timezone


def free_queue_slots(
    session: Session,
    channel: Channel,
    *,
    now: datetime,
    count: int = 1,
    also_taken: Collection[datetime] = (),
) -> list[datetime]:
    """The channel's next `count` free slots after now, earliest first; fewer when its coming year is full.

    `also_taken` are times not yet stored that hold a slot too (an import's posts at an exact time).
    """
    waiting = session.scalars(
        select(Delivery.scheduled_at).where(*_holding_a_slot(channel, now)).with_for_update()
    ).all()
    return next_free_slots(
        PostingSchedule.from_document(channel.posting_schedule),
        check_timezone(channel.timezone),
        after=now,
        taken=[*waiting, *also_taken],
        count=count,
    )


def share_next_slot(
    session: Session, channel: Channel, *, now: datetime
) -> tuple[datetime | None, set[uuid.UUID]]:
    """The channel's first free slot, for a post that goes ahead of its queue, and the posts moved for it.

    Each queued post's delivery moves down to the following free slot; posts at an exact time stay where
    they are. None, and nothing moved, when the coming year has no room for them all.
    """
    waiting = session.execute(
        select(Delivery, Post.timing)
        .join(Post, Post.id == Delivery.post_id)
        .where(*_holding_a_slot(channel, now))
        .order_by(Delivery.scheduled_at)
        .with_for_update(of=Delivery)
    ).all()
    queued = [delivery for delivery, timing in waiting if timing is Timing.QUEUE]
    fixed = [delivery.scheduled_at for delivery, timing in waiting if timing is not Timing.QUEUE]
    slots = next_free_slots(
        PostingSchedule.from_document(channel.posting_schedule),
        check_timezone(channel.timezone),
        after=now,
        taken=fixed,
        count=len(queued) + 1,
    )
    if len(slots) < len(queued) + 1:
        return None, set()
    for delivery, slot in zip(queued, slots[1:], strict=True):
        delivery.scheduled_at = delivery.due_at = slot
    session.flush()
    return slots[0], {delivery.post_id for delivery in queued}


def _holding_a_slot(channel: Channel, now: datetime) -> list[ColumnElement[Any]]:
    return [
        Delivery.channel_id == channel.id,
        Delivery.state == DeliveryState.SCHEDULED,
        Delivery.scheduled_at > now,
    ]
