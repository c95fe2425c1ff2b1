"""When a channel's posts did best: a weekday by hour grid on its clock, and the slots to post in next.

Each post counts in the hour it went out, with its interactions to date (by *publication*, unlike series).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.channels.services import get_channel
from shared.channels.slots import WEEKDAY_KEYS, PostingSchedule, next_free_slots
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.models import DeliveryMetrics
from shared.timezones import check_timezone, to_local

# Best times read posts at least this old: a younger one has not had its engagement yet.
BEST_TIME_MIN_AGE = timedelta(days=7)
# A weekday and hour is suggested only with at least this many posts behind it.
BEST_TIME_MIN_POSTS = 3


@dataclass(frozen=True)
class BestTimeCell:
    weekday: int  # 0 is Monday
    hour: int
    posts: int
    mean_interactions: float
    engagement_rate: float | None  # over views, where the network reports them


@dataclass(frozen=True)
class Suggestion:
    cell: BestTimeCell
    next_at: datetime  # UTC


@dataclass(frozen=True)
class BestTimes:
    channel_id: uuid.UUID
    timezone: str
    since: datetime
    until: datetime
    posts: int
    cells: list[BestTimeCell]
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def posting_schedule(self) -> dict[str, list[str]]:
        """The suggestions as a channel's posting schedule, to PATCH into it for the queue to use."""
        times: list[list[time]] = [[] for _ in WEEKDAY_KEYS]
        for suggestion in self.suggestions:
            times[suggestion.cell.weekday].append(time(suggestion.cell.hour))
        return PostingSchedule(tuple(tuple(sorted(day)) for day in times)).to_document()


def best_times(
    session: Session,
    workspace_id: uuid.UUID,
    channel_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 90,
    suggestions: int = 3,
) -> BestTimes:
    """A weekday by hour grid of the channel's own posts (on its clock), and the best slots to post in next.

    Each post counts in the hour it went out, with its interactions to date; posts younger than a week are
    left out, their engagement still to come. A slot is suggested only with enough posts behind it.
    """
    channel = get_channel(session, workspace_id, channel_id)
    zone = check_timezone(channel.timezone)
    since, until = now - timedelta(days=days), now - BEST_TIME_MIN_AGE
    rows = session.execute(
        select(DeliveryMetrics.published_at, DeliveryMetrics.interactions, DeliveryMetrics.views).where(
            DeliveryMetrics.channel_id == channel.id,
            DeliveryMetrics.published_at >= since,
            DeliveryMetrics.published_at < until,
        )
    ).all()
    per_cell: dict[tuple[int, int], list[tuple[int, int | None]]] = defaultdict(list)
    for published_at, interactions, views in rows:
        local = to_local(published_at, zone)
        per_cell[(local.weekday(), local.hour)].append((interactions, views))
    cells = [_cell(weekday, hour, readings) for (weekday, hour), readings in sorted(per_cell.items())]
    ranked = sorted(
        (cell for cell in cells if cell.posts >= BEST_TIME_MIN_POSTS),
        key=lambda cell: (-cell.mean_interactions, -cell.posts, cell.weekday, cell.hour),
    )[:suggestions]
    taken = _taken_slots(session, channel.id, now)
    chosen = [
        Suggestion(cell, slots[0])
        for cell in ranked
        if (slots := next_free_slots(_single_slot(cell), zone, after=now, taken=taken, count=1))
    ]
    return BestTimes(channel.id, channel.timezone, since, until, len(rows), cells, chosen)


def _cell(weekday: int, hour: int, readings: Iterable[tuple[int, int | None]]) -> BestTimeCell:
    listed = list(readings)
    interactions = [count for count, _ in listed]
    with_views = [(count, views) for count, views in listed if views]
    viewed = sum(views for _, views in with_views if views)
    rate = sum(count for count, _ in with_views) / viewed if viewed else None
    return BestTimeCell(weekday, hour, len(listed), sum(interactions) / len(listed), rate)


def _single_slot(cell: BestTimeCell) -> PostingSchedule:
    times: list[tuple[time, ...]] = [()] * 7
    times[cell.weekday] = (time(cell.hour),)
    return PostingSchedule(tuple(times))


def _taken_slots(session: Session, channel_id: uuid.UUID, now: datetime) -> list[datetime]:
    return list(
        session.scalars(
            select(Delivery.scheduled_at).where(
                Delivery.channel_id == channel_id,
                Delivery.state.in_(DeliveryState.waiting()),
                Delivery.scheduled_at > now,
            )
        )
    )
