"""A period's summary (totals, engagement rate, posts published) and its posts ranked by interactions.

Totals count what was observed in the period (see shared.metrics.analytics); ranked and top posts go by
*publication*: the posts published in the period, with their totals to date.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from shared.db import table_of
from shared.metrics.analytics import (
    Counts,
    Period,
    Selection,
    add_counts,
    check_selection,
    gains_by_channel,
    interactions_of,
)
from shared.metrics.models import COUNTS, ChannelSnapshot, DeliveryMetrics
from shared.posts.models import Post, PostLabel
from shared.timezones import as_utc


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


def engagement_summary(session: Session, selection: Selection, period: Period, *, top: int = 5) -> Summary:
    """The period's totals, engagement rate and posts published, and its top posts."""
    check_selection(session, selection)
    start, end = as_utc(period.start), as_utc(period.end)
    by_channel = gains_by_channel(session, selection, start, end)
    top_posts, published = _ranked(session, selection, start, end, limit=max(top, 1))
    totals: Counts = dict.fromkeys(COUNTS)
    for counts in by_channel.values():
        add_counts(totals, counts)
    return Summary(
        period=period,
        totals=totals,
        posts_published=published,
        engagement_rate=_engagement_rate(session, by_channel, end),
        top_posts=top_posts[:top],
    )


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


def ranked_posts(
    session: Session,
    selection: Selection,
    period: Period,
    *,
    limit: int,
    after: tuple[int, uuid.UUID] | None = None,
) -> list[RankedPost]:
    """Posts published in the period, most interactions first (then by id), after a page's last one."""
    check_selection(session, selection)
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


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
