"""Deliveries due for a reading of their engagement, each reading kept three ways, old samples pruned.

A reading is stored as a raw sample (append-only), as the delivery's latest values, and as its increase
since the previous reading, added to the hourly rollup of its channel. The latest values are locked while
the increase is computed, so two collections of one delivery at once cannot count the same gain twice.
`samples_for_post` reads one post's samples back.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, select
from sqlalchemy.orm import Session, aliased

from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of
from shared.db import insert_on_conflict, table_of
from shared.deliveries.metrics_due import note_collections, reschedule_metrics
from shared.deliveries.models import Delivery, DeliveryState
from shared.links.services import clicks_by_delivery
from shared.metrics.models import (
    COUNTS,
    INTERACTIONS,
    ChannelCollection,
    DeliveryMetrics,
    EngagementHour,
    MetricSample,
)
from shared.metrics.schedule import CollectionSchedule, Due
from shared.networks.ports import Account, Engagement, PostGone
from shared.posts.models import Post
from shared.posts.services import get_post

# Channels whose credentials cannot work until a person acts: their reads are not attempted.
UNREADABLE = frozenset({ChannelState.NEEDS_REAUTH, ChannelState.DISCONNECTED})


@dataclass(frozen=True)
class CollectionBatch:
    """Published deliveries on one channel, read from its network together."""

    network: str
    account: Account
    delivery_by_external_id: Mapping[str, uuid.UUID]
    sealed_credentials: bytes | None = field(default=None, repr=False)
    # False for a channel whose credentials need a person: its deliveries wait without a call.
    readable: bool = True

    @property
    def delivery_ids(self) -> list[uuid.UUID]:
        return list(self.delivery_by_external_id.values())

    def split(self, size: int) -> list[CollectionBatch]:
        """This batch in parts of at most `size` deliveries: one request each."""
        items = list(self.delivery_by_external_id.items())
        return [
            CollectionBatch(
                self.network,
                self.account,
                dict(items[start : start + size]),
                self.sealed_credentials,
                self.readable,
            )
            for start in range(0, len(items), size)
        ]


def claim_due_collections(
    session: Session, *, now: datetime, schedule: CollectionSchedule, limit: int, lease: timedelta
) -> list[CollectionBatch]:
    """Deliveries whose metrics are due now, grouped by channel, each held for `lease` while it is read.

    One range scan of the partial index over deliveries whose schedule runs. A delivery just published
    (due at its publication time) is moved on to its first step; one past its schedule leaves the index.
    Locked rows are skipped on PostgreSQL, so two collectors at once read different deliveries.
    """
    query = (
        select(Delivery.id, Delivery.published_at, Delivery.state, Delivery.external_id)
        .where(Delivery.metrics_due_at.is_not(None), Delivery.metrics_due_at <= now)
        .order_by(Delivery.metrics_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    moves: dict[uuid.UUID, datetime | None] = {}
    claimed: list[uuid.UUID] = []
    for delivery_id, published_at, state, external_id in session.execute(query):
        decision = Due.OVER
        if state is DeliveryState.PUBLISHED and external_id is not None and published_at is not None:
            decision = schedule.decide(published_at, now)
        if decision is Due.COLLECT:
            claimed.append(delivery_id)
            moves[delivery_id] = now + lease
        elif decision is Due.NOT_YET:
            assert published_at is not None
            moves[delivery_id] = schedule.first(published_at)
        else:
            moves[delivery_id] = None
    reschedule_metrics(session, moves)
    return _batches(session, claimed)


def batches_for_post(session: Session, post_id: uuid.UUID) -> list[CollectionBatch]:
    """Every published delivery of one post, whatever its schedule says: a person asked for fresh numbers."""
    query = select(Delivery.id).where(
        Delivery.post_id == post_id,
        Delivery.state == DeliveryState.PUBLISHED,
        Delivery.external_id.is_not(None),
    )
    return _batches(session, list(session.scalars(query)))


def _batches(session: Session, delivery_ids: Sequence[uuid.UUID]) -> list[CollectionBatch]:
    if not delivery_ids:
        return []
    query = (
        select(Delivery.id, Delivery.external_id, Channel)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.channel_id, Delivery.published_at)
    )
    by_channel: dict[uuid.UUID, tuple[Channel, dict[str, uuid.UUID]]] = {}
    for delivery_id, external_id, channel in session.execute(query):
        assert external_id is not None  # only published deliveries with an id are claimed
        by_channel.setdefault(channel.id, (channel, {}))[1][external_id] = delivery_id
    return [
        CollectionBatch(
            network=channel.network,
            account=account_of(channel),
            delivery_by_external_id=ids,
            sealed_credentials=channel.sealed_credentials,
            readable=channel.state not in UNREADABLE,
        )
        for channel, ids in by_channel.values()
    ]


def record_engagement(
    session: Session,
    batch: CollectionBatch,
    readings: Mapping[str, Engagement | PostGone],
    *,
    now: datetime,
    schedule: CollectionSchedule | None = None,
) -> int:
    """Store what the network said for the batch (and the clicks on Crier's links). Returns samples stored.

    With a `schedule` (a scheduled collection) each delivery's next collection is set; without one (a
    person's refresh) the schedule is left alone. A post gone from the network leaves the schedule.
    """
    details = _published_details(session, batch.delivery_ids)
    clicks = clicks_by_delivery(session, list(details))
    latest = _lock_latest(session, details)
    gained: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    samples: list[MetricSample] = []
    next_due: dict[uuid.UUID, datetime | None] = {}
    for external_id, delivery_id in batch.delivery_by_external_id.items():
        if delivery_id not in details:
            continue  # deleted with its post since it was claimed
        reading = readings.get(external_id)
        counts = _counts(reading, clicks.get(delivery_id))
        gone = isinstance(reading, PostGone)
        if reading is not None or counts["clicks"] is not None:
            samples.append(
                MetricSample(
                    delivery_id=delivery_id,
                    collected_at=now,
                    raw={"gone": str(reading)} if gone else dict(getattr(reading, "raw", {})),
                    **counts,
                )
            )
            stored = latest[delivery_id]
            _add_gains(gained[stored.channel_id], _keep_latest(stored, counts, now, gone=gone))
        published_at = details[delivery_id][0].published_at
        assert published_at is not None  # only published deliveries are collected
        if gone:
            next_due[delivery_id] = None
        elif schedule is not None:
            next_due[delivery_id] = schedule.after_collection(published_at, now)
    session.add_all(samples)
    note_collections(session, {sample.delivery_id for sample in samples}, next_due)
    _add_to_hours(session, _hour_of(now), gained, {stored.channel_id: stored for stored in latest.values()})
    return len(samples)


def note_collection(
    session: Session, channel_id: uuid.UUID, *, now: datetime, error: str | None = None
) -> None:
    """Keep how the channel's latest read went: a success, or its error and since when reads have failed."""
    table = table_of(ChannelCollection)
    insert = insert_on_conflict(session, ChannelCollection)
    changes: dict[str, Any]
    if error is None:
        statement = insert.values(channel_id=channel_id, last_success_at=now, failing_since=None)
        changes = {"last_success_at": now, "failing_since": None}
    else:
        statement = insert.values(
            channel_id=channel_id, last_error=error, last_error_at=now, failing_since=now
        )
        changes = {
            "last_error": error,
            "last_error_at": now,
            "failing_since": func.coalesce(table.c.failing_since, now),
        }
    session.execute(statement.on_conflict_do_update(index_elements=["channel_id"], set_=changes))


def postpone_collections(
    session: Session,
    batch: CollectionBatch,
    *,
    now: datetime,
    schedule: CollectionSchedule,
    wait: timedelta | None,
) -> None:
    """A read that failed: try again later (after `wait`, when a rate limit said how long), or give up."""
    rows = session.execute(
        select(Delivery.id, Delivery.published_at).where(Delivery.id.in_(batch.delivery_ids))
    ).all()
    reschedule_metrics(
        session,
        {
            delivery_id: schedule.after_failure(published_at, now, wait=wait)
            for delivery_id, published_at in rows
            if published_at is not None
        },
    )


def _published_details(
    session: Session, delivery_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[Delivery, uuid.UUID, str]]:
    """Each delivery with its post's workspace and its channel's network."""
    query = (
        select(Delivery, Post.workspace_id, Channel.network)
        .join(Post, Post.id == Delivery.post_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.id.in_(delivery_ids))
    )
    return {
        delivery.id: (delivery, workspace_id, network)
        for delivery, workspace_id, network in session.execute(query)
    }


def _lock_latest(
    session: Session, details: Mapping[uuid.UUID, tuple[Delivery, uuid.UUID, str]]
) -> dict[uuid.UUID, DeliveryMetrics]:
    """The deliveries' latest values, made if missing, locked until the transaction ends."""
    rows = [
        {
            "delivery_id": delivery.id,
            "workspace_id": workspace_id,
            "post_id": delivery.post_id,
            "channel_id": delivery.channel_id,
            "network": network,
            "published_at": delivery.published_at,
            "interactions": 0,
        }
        for delivery, workspace_id, network in details.values()
    ]
    if rows:
        session.execute(insert_on_conflict(session, DeliveryMetrics).values(rows).on_conflict_do_nothing())
    query = (
        select(DeliveryMetrics)
        .where(DeliveryMetrics.delivery_id.in_(details))
        .order_by(DeliveryMetrics.delivery_id)  # one lock order for every collector: no deadlock
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {latest.delivery_id: latest for latest in session.scalars(query)}


def _counts(reading: Engagement | PostGone | None, clicks: int | None) -> dict[str, int | None]:
    counts: dict[str, int | None] = dict.fromkeys(COUNTS)
    if isinstance(reading, Engagement):
        counts.update({name: getattr(reading, name) for name in COUNTS if name != "clicks"})
    # Clicks are Crier's own, counted by its redirects: known even for a post the network lost.
    counts["clicks"] = clicks
    return counts


def _keep_latest(
    latest: DeliveryMetrics, counts: Mapping[str, int | None], now: datetime, *, gone: bool
) -> dict[str, int]:
    """Update the latest values with a reading; each known count's increase over the last known value."""
    gains: dict[str, int] = {}
    for name, value in counts.items():
        if value is None:
            continue  # unknown is not zero: the last known value stands, and nothing was gained
        gains[name] = value - (getattr(latest, name) or 0)
        setattr(latest, name, value)
    latest.collected_at = now
    if gone and latest.deleted_at is None:
        latest.deleted_at = now
    latest.interactions = sum(getattr(latest, name) or 0 for name in INTERACTIONS)
    return gains


def _add_gains(total: dict[str, int], gains: Mapping[str, int]) -> None:
    for name, gain in gains.items():
        total[name] = total.get(name, 0) + gain


def _hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _add_to_hours(
    session: Session,
    hour: datetime,
    gained: Mapping[uuid.UUID, Mapping[str, int]],
    latest_by_channel: Mapping[uuid.UUID, DeliveryMetrics],
) -> None:
    """Add each channel's gains to its rollup of this hour, in one statement."""
    rows = [
        {
            "channel_id": channel_id,
            "hour": hour,
            "workspace_id": latest_by_channel[channel_id].workspace_id,
            "network": latest_by_channel[channel_id].network,
            **{name: gains.get(name) for name in COUNTS},
        }
        for channel_id, gains in sorted(gained.items())
        if gains
    ]
    if not rows:
        return
    table = table_of(EngagementHour)
    statement = insert_on_conflict(session, EngagementHour).values(rows)
    added = {
        # A metric not read this time leaves the hour as it was; one read for the first time starts at 0.
        name: case(
            (statement.excluded[name].is_(None), table.c[name]),
            else_=func.coalesce(table.c[name], 0) + statement.excluded[name],
        )
        for name in COUNTS
    }
    session.execute(statement.on_conflict_do_update(index_elements=["channel_id", "hour"], set_=added))


def samples_for_post(
    session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> list[tuple[Delivery, Sequence[MetricSample]]]:
    """Each delivery of the post with its samples, oldest first."""
    post = get_post(session, workspace_id, post_id)
    delivery_ids = [delivery.id for delivery in post.deliveries]
    by_delivery: dict[uuid.UUID, list[MetricSample]] = {delivery_id: [] for delivery_id in delivery_ids}
    query = (
        select(MetricSample)
        .where(MetricSample.delivery_id.in_(delivery_ids))
        .order_by(MetricSample.collected_at, MetricSample.id)
    )
    for sample in session.scalars(query):
        by_delivery[sample.delivery_id].append(sample)
    return [(delivery, by_delivery[delivery.id]) for delivery in post.deliveries]


def prune_samples(session: Session, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` samples taken before `before`. Returns how many.

    Each delivery keeps its newest sample from before then: the first later reading's increase is
    measured from it. Latest values and rollups are separate tables and are never pruned.
    """
    newer = aliased(MetricSample)
    doomed = (
        select(MetricSample.id)
        .where(
            MetricSample.collected_at < before,
            exists().where(
                newer.delivery_id == MetricSample.delivery_id,
                newer.id > MetricSample.id,
                newer.collected_at < before,
            ),
        )
        .limit(limit)
    )
    ids = list(session.scalars(doomed))
    if ids:
        session.execute(delete(MetricSample).where(MetricSample.id.in_(ids)))
    return len(ids)
