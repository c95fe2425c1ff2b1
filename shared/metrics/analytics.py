"""Reading engagement for people and dashboards: series, a period's summary, ranked posts, best times.

Series and totals count what was *observed* in each bucket: a post's gains between two readings belong to
the hour of the later reading. So a past bucket never changes, the buckets add up to the totals, and a
count read twice is counted once. Workspace-, network- and channel-wide figures come from the hourly
rollups; a post's or a label's from the samples (labels can change after publishing, so a rollup by label
would keep the old ones). Days and weeks are sums of whole UTC hours in the asked timezone, which is exact
for every zone whose offset is whole hours, and off by the fraction for the few that are not (India's
+05:30: a day starts at the hour nearest its midnight).

Ranked posts, top posts and best times go by *publication*: a post's totals to date, by when it went out.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Select, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.channels.services import get_channel
from shared.channels.slots import WEEKDAY_KEYS, PostingSchedule, next_free_slots
from shared.db import table_of
from shared.deliveries.models import Delivery, DeliveryState
from shared.errors import InvalidInput, Problem
from shared.metrics.models import (
    COUNTS,
    INTERACTIONS,
    ChannelSnapshot,
    DeliveryMetrics,
    EngagementHour,
    MetricSample,
)
from shared.posts.models import Post, PostLabel
from shared.posts.services import get_post
from shared.timezones import as_utc, check_timezone, to_local, to_utc

# A series of more points than this is refused: ask for a coarser bucket or a shorter period.
MAX_POINTS = 2000
# Best times read posts at least this old: a younger one has not had its engagement yet.
BEST_TIME_MIN_AGE = timedelta(days=7)
# A weekday and hour is suggested only with at least this many posts behind it.
BEST_TIME_MIN_POSTS = 3


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


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


@dataclass(frozen=True)
class Point:
    """One bucket of a series: from `start` up to `end`, as wall-clock times of the zone with their offset."""

    start: datetime
    end: datetime
    counts: Counts

    @property
    def interactions(self) -> int | None:
        return interactions_of(self.counts)


@dataclass(frozen=True)
class EngagementRate:
    """Interactions over views where the channels report views, else over their followers at the time."""

    value: float | None
    basis: str | None  # "views", "followers", or None when neither is known
    interactions: int = 0
    denominator: int = 0
    channels: int = 0

    @property
    def definition(self) -> str:
        if self.basis == "views":
            return "interactions ÷ views, over the channels that report views"
        if self.basis == "followers":
            return "interactions ÷ followers in each channel's latest snapshot by the end of the period"
        return "no views and no follower counts are known for these channels: no rate"


@dataclass(frozen=True)
class RankedPost:
    """A post with its deliveries' latest totals added up."""

    post_id: uuid.UUID
    text: str
    published_at: datetime
    deliveries: int
    counts: Counts
    interactions: int
    deleted: bool


@dataclass(frozen=True)
class Summary:
    period: Period
    totals: Counts
    posts_published: int
    engagement_rate: EngagementRate
    top_posts: list[RankedPost]

    @property
    def interactions(self) -> int | None:
        return interactions_of(self.totals)


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


def interactions_of(counts: Mapping[str, int | None]) -> int | None:
    known = [counts[name] for name in INTERACTIONS if counts.get(name) is not None]
    return sum(value for value in known if value is not None) if known else None


# -- Series --------------------------------------------------------------------------------------------


def engagement_series(session: Session, selection: Selection, period: Period, bucket: Bucket) -> list[Point]:
    """What was gained in each bucket of the period, in the period's zone."""
    _check_selection(session, selection)
    bounds = bucket_bounds(period, bucket)
    hourly = _hourly_gains(session, selection, bounds[0], bounds[-1])
    reported = {name for counts in hourly.values() for name, value in counts.items() if value is not None}
    sums: list[Counts] = [{name: 0 if name in reported else None for name in COUNTS} for _ in bounds[:-1]]
    for hour, counts in hourly.items():
        index = bisect.bisect_right(bounds, hour) - 1
        _add_counts(sums[index], counts)
    return [
        Point(bounds[i].astimezone(period.zone), bounds[i + 1].astimezone(period.zone), sums[i])
        for i in range(len(sums))
    ]


def bucket_bounds(period: Period, bucket: Bucket) -> list[datetime]:
    """The instants (UTC) that start each bucket overlapping the period, and the end of the last one."""
    if bucket is Bucket.HOUR:
        first = as_utc(period.start).replace(minute=0, second=0, microsecond=0)
        count = -(-(as_utc(period.end) - first) // timedelta(hours=1))
        _check_points(count)
        return [first + timedelta(hours=n) for n in range(count + 1)]
    step = timedelta(days=1 if bucket is Bucket.DAY else 7)
    day = to_local(period.start, period.zone).date()
    if bucket is Bucket.WEEK:
        day -= timedelta(days=day.weekday())
    last_day = to_local(period.end - timedelta(microseconds=1), period.zone).date()
    _check_points((last_day - day) // step + 1)
    days: list[date] = []
    while day <= last_day:
        days.append(day)
        day += step
    days.append(day)
    return [to_utc(datetime.combine(each, time()), period.zone) for each in days]


def _check_points(count: int) -> None:
    if count > MAX_POINTS:
        raise InvalidInput(
            [
                Problem(
                    "/bucket",
                    f"That is {count} buckets; ask for at most {MAX_POINTS}: a coarser bucket or less time.",
                )
            ]
        )


def _hourly_gains(
    session: Session, selection: Selection, start: datetime, end: datetime
) -> dict[datetime, Counts]:
    """The gains observed in each hour from start up to end."""
    if selection.from_samples:
        return _gains_from_samples(session, selection, start, end, by_channel=False)
    return _rollup_sums(session, selection, start, end, EngagementHour.hour)


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
            _add_counts(gains[(hour, channel_id) if by_channel else hour], gained)
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


def _add_counts(total: Counts, gained: Mapping[str, int | None]) -> None:
    for name, value in gained.items():
        if value is not None:
            total[name] = (total.get(name) or 0) + value


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _check_selection(session: Session, selection: Selection) -> None:
    """404 for a channel or post of another workspace, as for one that does not exist."""
    if selection.channel_id is not None:
        get_channel(session, selection.workspace_id, selection.channel_id)
    if selection.post_id is not None:
        get_post(session, selection.workspace_id, selection.post_id)


# -- Summary -------------------------------------------------------------------------------------------


def engagement_summary(session: Session, selection: Selection, period: Period, *, top: int = 5) -> Summary:
    """The period's totals, engagement rate and posts published, and its top posts."""
    _check_selection(session, selection)
    start, end = as_utc(period.start), as_utc(period.end)
    by_channel = _gains_by_channel(session, selection, start, end)
    top_posts, published = _ranked(session, selection, start, end, limit=max(top, 1))
    totals: Counts = dict.fromkeys(COUNTS)
    for counts in by_channel.values():
        _add_counts(totals, counts)
    return Summary(
        period=period,
        totals=totals,
        posts_published=published,
        engagement_rate=_engagement_rate(session, by_channel, end),
        top_posts=top_posts[:top],
    )


def _gains_by_channel(
    session: Session, selection: Selection, start: datetime, end: datetime
) -> dict[uuid.UUID, Counts]:
    """What each selected channel gained from start up to end."""
    by_channel: dict[uuid.UUID, Counts] = defaultdict(lambda: dict.fromkeys(COUNTS))
    if selection.from_samples:
        for (_, channel_id), counts in _gains_from_samples(
            session, selection, start, end, by_channel=True
        ).items():
            _add_counts(by_channel[channel_id], counts)
        return dict(by_channel)
    return _rollup_sums(session, selection, start, end, EngagementHour.channel_id)


def _engagement_rate(
    session: Session, by_channel: Mapping[uuid.UUID, Counts], end: datetime
) -> EngagementRate:
    with_views = {channel: counts for channel, counts in by_channel.items() if (counts["views"] or 0) > 0}
    if with_views:
        interactions = sum(interactions_of(counts) or 0 for counts in with_views.values())
        views = sum(counts["views"] or 0 for counts in with_views.values())
        return EngagementRate(interactions / views, "views", interactions, views, len(with_views))
    followers = _followers_at(session, list(by_channel), end)
    if followers:
        interactions = sum(interactions_of(by_channel[channel]) or 0 for channel in followers)
        audience = sum(followers.values())
        return EngagementRate(interactions / audience, "followers", interactions, audience, len(followers))
    return EngagementRate(None, None)


def _followers_at(session: Session, channel_ids: Sequence[uuid.UUID], end: datetime) -> dict[uuid.UUID, int]:
    """Each channel's followers in its latest snapshot by `end` (or its first after, if none is before)."""
    if not channel_ids:
        return {}
    query = (
        select(ChannelSnapshot.channel_id, ChannelSnapshot.day, ChannelSnapshot.followers)
        .where(
            ChannelSnapshot.channel_id.in_(channel_ids),
            ChannelSnapshot.followers.is_not(None),
            ChannelSnapshot.followers > 0,
        )
        .order_by(ChannelSnapshot.channel_id, ChannelSnapshot.day)
    )
    end_day = as_utc(end).date()
    before: dict[uuid.UUID, int] = {}
    after: dict[uuid.UUID, int] = {}
    for channel_id, day, followers in session.execute(query):
        assert followers is not None  # the query leaves out snapshots without
        if day <= end_day:
            before[channel_id] = followers  # in day order: the last one by the end wins
        else:
            after.setdefault(channel_id, followers)
    return {**after, **before}


def _published_metrics(selection: Selection, start: datetime, end: datetime) -> Select[Any]:
    """The latest values of the selected deliveries published in the period."""
    query = select(DeliveryMetrics).where(
        DeliveryMetrics.workspace_id == selection.workspace_id,
        DeliveryMetrics.published_at >= start,
        DeliveryMetrics.published_at < end,
    )
    if selection.network is not None:
        query = query.where(DeliveryMetrics.network == selection.network)
    if selection.channel_id is not None:
        query = query.where(DeliveryMetrics.channel_id == selection.channel_id)
    if selection.post_id is not None:
        query = query.where(DeliveryMetrics.post_id == selection.post_id)
    if selection.label is not None:
        query = query.join(PostLabel, PostLabel.post_id == DeliveryMetrics.post_id).where(
            PostLabel.name == selection.label
        )
    return query


# -- Ranked posts --------------------------------------------------------------------------------------


def ranked_posts(
    session: Session,
    selection: Selection,
    period: Period,
    *,
    limit: int,
    after: tuple[int, uuid.UUID] | None = None,
) -> list[RankedPost]:
    """Posts published in the period, most interactions first (then by id), after a page's last one."""
    _check_selection(session, selection)
    return _ranked(session, selection, as_utc(period.start), as_utc(period.end), limit=limit, after=after)[0]


def _ranked(
    session: Session,
    selection: Selection,
    start: datetime,
    end: datetime,
    *,
    limit: int,
    after: tuple[int, uuid.UUID] | None = None,
) -> tuple[list[RankedPost], int]:
    """A page of ranked posts, and how many posts rank in all (from `after` on)."""
    # First the page's posts, from the covering index alone (the workspace's, at least), counting them all
    # on the way; then the details of the page's.
    total = func.sum(DeliveryMetrics.interactions)
    ranking = (
        _published_metrics(selection, start, end)
        .with_only_columns(
            DeliveryMetrics.post_id, total.label("interactions"), func.count().over().label("posts")
        )
        .group_by(DeliveryMetrics.post_id)
        .order_by(total.desc(), DeliveryMetrics.post_id)
        .limit(limit)
    )
    if after is not None:
        rank, post_id = after
        ranking = ranking.having(or_(total < rank, and_(total == rank, DeliveryMetrics.post_id > post_id)))
    ranked = session.execute(ranking).all()
    post_ids = [row.post_id for row in ranked]
    details = (
        _published_metrics(selection, start, end)
        .with_only_columns(
            DeliveryMetrics.post_id,
            func.min(DeliveryMetrics.published_at).label("published_at"),
            func.count().label("deliveries"),
            func.count(DeliveryMetrics.deleted_at).label("deleted"),
            *(func.sum(table_of(DeliveryMetrics).c[name]).label(name) for name in COUNTS),
        )
        .where(DeliveryMetrics.post_id.in_(post_ids))
        .group_by(DeliveryMetrics.post_id)
    )
    by_post = {row.post_id: row for row in session.execute(details)}
    texts = dict(session.execute(select(Post.id, Post.text).where(Post.id.in_(post_ids))).all())
    return [
        RankedPost(
            post_id=post_id,
            text=texts.get(post_id, ""),
            published_at=by_post[post_id].published_at,
            deliveries=by_post[post_id].deliveries,
            counts={name: _int_or_none(getattr(by_post[post_id], name)) for name in COUNTS},
            interactions=int(interactions or 0),
            deleted=by_post[post_id].deleted > 0,
        )
        for post_id, interactions, _ in ranked
    ], (ranked[0].posts if ranked else 0)


# -- Best times ----------------------------------------------------------------------------------------


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


# -- Snapshots -----------------------------------------------------------------------------------------


def channel_snapshots(
    session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID, *, first_day: date, last_day: date
) -> list[ChannelSnapshot]:
    """A channel's daily counts from first_day through last_day, oldest first."""
    get_channel(session, workspace_id, channel_id)
    query = (
        select(ChannelSnapshot)
        .where(
            ChannelSnapshot.channel_id == channel_id,
            ChannelSnapshot.day >= first_day,
            ChannelSnapshot.day <= last_day,
        )
        .order_by(ChannelSnapshot.day)
    )
    return list(session.scalars(query))
