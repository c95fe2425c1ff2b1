"""What every reading of engagement shares: what to count, over which period, and the gains observed in it.

Series and totals count what was *observed* in each bucket: a post's gains between two readings belong to
the hour of the later reading. So a past bucket never changes, the buckets add up to the totals, and a
count read twice is counted once. Workspace-, network- and channel-wide figures come from the hourly
rollups; a post's or a label's from the samples (labels can change after publishing, so a rollup by label
would keep the old ones). Days and weeks are sums of whole UTC hours in the asked timezone, which is exact
for every zone whose offset is whole hours, and off by the fraction for the few that are not (India's
+05:30: a day starts at the hour nearest its midnight).

The readings themselves: shared.metrics.series (engagement over time), shared.metrics.summary (a period's
totals and its posts ranked by publication), shared.metrics.best_times.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Select, cast, func, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.channels.services import get_channel
from shared.db import table_of
from shared.deliveries.models import Delivery
from shared.errors import InvalidInput, Problem
from shared.metrics.models import COUNTS, INTERACTIONS, EngagementHour, MetricSample
from shared.posts.models import Post, PostLabel
from shared.posts.services import get_post

Counts = dict[str, int | None]


@dataclass(frozen=True)
class Selection:
    """What to count: a workspace's deliveries, narrowed by network, channel, label or post."""

    workspace_id: uuid.UUID
    network: str | None = None
    channel_id: uuid.UUID | None = None
    label: str | None = None
    post_id: uuid.UUID | None = None

    @property
    def from_samples(self) -> bool:
        """Whether the figures come from the samples rather than the rollups (see the module's docstring)."""
        return self.label is not None or self.post_id is not None


@dataclass(frozen=True)
class Period:
    """From `start` up to `end` (UTC instants), shown in `zone`."""

    start: datetime
    end: datetime
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput([Problem("/to", "`to` must be after `from`.")])


def interactions_of(counts: Mapping[str, int | None]) -> int | None:
    known = [counts[name] for name in INTERACTIONS if counts.get(name) is not None]
    return sum(value for value in known if value is not None) if known else None


def hourly_gains(
    session: Session, selection: Selection, start: datetime, end: datetime
) -> dict[datetime, Counts]:
    """The gains observed in each hour from start up to end."""
    if selection.from_samples:
        return _gains_from_samples(session, selection, start, end, by_channel=False)
    return _rollup_sums(session, selection, start, end, EngagementHour.hour)


def gains_by_channel(
    session: Session, selection: Selection, start: datetime, end: datetime
) -> dict[uuid.UUID, Counts]:
    """What each selected channel gained from start up to end."""
    by_channel: dict[uuid.UUID, Counts] = defaultdict(lambda: dict.fromkeys(COUNTS))
    if selection.from_samples:
        for (_, channel_id), counts in _gains_from_samples(
            session, selection, start, end, by_channel=True
        ).items():
            add_counts(by_channel[channel_id], counts)
        return dict(by_channel)
    return _rollup_sums(session, selection, start, end, EngagementHour.channel_id)


def _rollup_sums(
    session: Session, selection: Selection, start: datetime, end: datetime, key: Any
) -> dict[Any, Counts]:
    """The rollups' gains from start up to end, added up by `key`: the hour, or the channel."""
    table = table_of(EngagementHour)
    # Cast in SQL: PostgreSQL adds bigints up as numeric, which would reach Python as Decimals.
    sums = [cast(func.sum(table.c[name]), BigInteger) for name in COUNTS]
    query = (
        select(key, *sums)
        .where(
            EngagementHour.workspace_id == selection.workspace_id,
            EngagementHour.hour >= start,
            EngagementHour.hour < end,
        )
        .group_by(key)
    )
    if selection.network is not None:
        query = query.where(EngagementHour.network == selection.network)
    if selection.channel_id is not None:
        query = query.where(EngagementHour.channel_id == selection.channel_id)
    return {row[0]: dict(zip(COUNTS, row[1:], strict=True)) for row in session.execute(query)}


def _gains_from_samples(
    session: Session, selection: Selection, start: datetime, end: datetime, *, by_channel: bool
) -> dict[Any, Counts]:
    """Gains computed from the raw samples of the selected deliveries, as the rollups compute them."""
    query = (
        select(MetricSample, Delivery.channel_id)
        .join(Delivery, Delivery.id == MetricSample.delivery_id)
        .where(MetricSample.delivery_id.in_(_delivery_ids(selection)), MetricSample.collected_at < end)
        .order_by(MetricSample.delivery_id, MetricSample.collected_at, MetricSample.id)
    )
    gains: dict[Any, Counts] = defaultdict(lambda: dict.fromkeys(COUNTS))
    last: dict[str, int] = {}
    current: uuid.UUID | None = None
    for sample, channel_id in session.execute(query):
        if sample.delivery_id != current:
            current, last = sample.delivery_id, {}
        observed = {name: getattr(sample, name) for name in COUNTS}
        if sample.collected_at >= start:
            hour = sample.collected_at.replace(minute=0, second=0, microsecond=0)
            gained = {
                name: value - last.get(name, 0) for name, value in observed.items() if value is not None
            }
            add_counts(gains[(hour, channel_id) if by_channel else hour], gained)
        last.update({name: value for name, value in observed.items() if value is not None})
    return dict(gains)


def _delivery_ids(selection: Selection) -> Select[uuid.UUID]:
    query = (
        select(Delivery.id)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.workspace_id == selection.workspace_id)
    )
    if selection.post_id is not None:
        query = query.where(Delivery.post_id == selection.post_id)
    if selection.label is not None:
        query = query.join(PostLabel, PostLabel.post_id == Post.id).where(PostLabel.name == selection.label)
    if selection.channel_id is not None:
        query = query.where(Delivery.channel_id == selection.channel_id)
    if selection.network is not None:
        query = query.join(Channel, Channel.id == Delivery.channel_id).where(
            Channel.network == selection.network
        )
    return query


def add_counts(total: Counts, gained: Mapping[str, int | None]) -> None:
    for name, value in gained.items():
        if value is not None:
            total[name] = (total.get(name) or 0) + value


def check_selection(session: Session, selection: Selection) -> None:
    """404 for a channel or post of another workspace, as for one that does not exist."""
    if selection.channel_id is not None:
        get_channel(session, selection.workspace_id, selection.channel_id)
    if selection.post_id is not None:
        get_post(session, selection.workspace_id, selection.post_id)
