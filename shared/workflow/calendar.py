"""The calendar: what goes out when, on which channel, and which queue slots are still free."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from shared.channels.models import Channel, ChannelState
from shared.channels.slots import PostingSchedule, slots_between
from shared.deliveries.models import Delivery, DeliveryState
from shared.errors import InvalidInput, Problem
from shared.posts.models import Post, PostStage
from shared.timezones import check_timezone
from shared.workflow.recurring import recurrence_of
from shared.workflow.states import post_state

log = logging.getLogger(__name__)

MAX_SPAN = timedelta(days=92)  # a quarter: what a calendar view shows at most


@dataclass(frozen=True)
class CalendarEntry:
    """A post on a channel at a time: a delivery, or a post not yet scheduled, or an occurrence to come."""

    post_id: uuid.UUID
    channel_id: uuid.UUID
    delivery_id: uuid.UUID | None
    at: datetime
    state: str
    text: str
    labels: list[str]


@dataclass(frozen=True)
class FreeSlot:
    channel_id: uuid.UUID
    at: datetime


@dataclass(frozen=True)
class Calendar:
    entries: list[CalendarEntry]
    free_slots: list[FreeSlot]


def calendar(session: Session, workspace_id: uuid.UUID, start: datetime, end: datetime) -> Calendar:
    """Everything in [start, end), in time order."""
    if not start < end <= start + MAX_SPAN:
        raise InvalidInput([Problem("/to", "`to` must be after `from`, and at most 92 days after it.")])
    entries = [
        CalendarEntry(
            delivery.post_id,
            delivery.channel_id,
            delivery.id,
            delivery.scheduled_at,
            delivery.state.value,
            delivery.post.text,
            delivery.post.label_names,
        )
        for delivery in session.scalars(
            select(Delivery)
            .join(Post, Post.id == Delivery.post_id)
            .where(
                Post.workspace_id == workspace_id, Delivery.scheduled_at >= start, Delivery.scheduled_at < end
            )
            .options(joinedload(Delivery.post))
        )
    ]
    for post in session.scalars(
        select(Post).where(
            Post.workspace_id == workspace_id,
            Post.stage.in_([PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED]),
            Post.scheduled_at >= start,
            Post.scheduled_at < end,
        )
    ):
        assert post.scheduled_at is not None
        entries += [
            CalendarEntry(
                post.id,
                t.channel_id,
                None,
                post.scheduled_at,
                post_state(post).value,
                post.text,
                post.label_names,
            )
            for t in post.targets
        ]
    entries += _occurrences_to_come(session, workspace_id, start, end)
    taken: dict[uuid.UUID, set[datetime]] = {}
    for entry in entries:
        if entry.state in {DeliveryState.SCHEDULED, "pending_approval"}:
            taken.setdefault(entry.channel_id, set()).add(entry.at)
    free = [
        FreeSlot(channel.id, slot)
        for channel in session.scalars(
            select(Channel).where(Channel.workspace_id == workspace_id, Channel.state == ChannelState.ACTIVE)
        )
        for slot in _slots_of(channel, start, end)
        if slot not in taken.get(channel.id, set())
    ]
    entries.sort(key=lambda entry: (entry.at, str(entry.post_id), str(entry.channel_id)))
    free.sort(key=lambda slot: (slot.at, str(slot.channel_id)))
    return Calendar(entries, free)


def _slots_of(channel: Channel, start: datetime, end: datetime) -> list[datetime]:
    """The channel's queue slots in [start, end); none when its stored schedule or zone no longer reads.

    Both were checked when saved, but a zone tzdata has dropped since, or a value written by hand, must
    not make the whole calendar fail: the channel's posts are still shown, only its free slots are not.
    """
    try:
        schedule = PostingSchedule.from_document(channel.posting_schedule)
        zone = check_timezone(channel.timezone)
    except (InvalidInput, AttributeError, TypeError):
        log.warning(
            "channel %s: its posting schedule or timezone does not read; no free slots shown", channel.id
        )
        return []
    return list(slots_between(schedule, zone, start, end))


def _occurrences_to_come(
    session: Session, workspace_id: uuid.UUID, start: datetime, end: datetime
) -> list[CalendarEntry]:
    """A series' occurrences beyond the ones already made: computed, not stored."""
    entries = []
    for post in session.scalars(
        select(Post).where(
            Post.workspace_id == workspace_id,
            Post.stage == PostStage.SCHEDULED,
            Post.next_occurrence_at.is_not(None),
            Post.next_occurrence_at < end,
        )
    ):
        assert post.next_occurrence_at is not None
        for at in recurrence_of(post).occurrences_between(max(start, post.next_occurrence_at), end):
            entries += [
                CalendarEntry(
                    post.id,
                    t.channel_id,
                    None,
                    at,
                    DeliveryState.SCHEDULED.value,
                    post.text,
                    post.label_names,
                )
                for t in post.targets
            ]
    return entries
