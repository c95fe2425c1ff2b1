"""Collecting engagement from the networks and reading it back."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.channels.services import account_of
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.models import MetricSample
from shared.networks.ports import Account, Engagement, PostGone
from shared.posts.services import get_post


@dataclass(frozen=True)
class CollectionBatch:
    """Published deliveries on one channel, read from its network in one call."""

    network: str
    account: Account
    delivery_by_external_id: Mapping[str, uuid.UUID]
    sealed_credentials: bytes | None = field(default=None, repr=False)


def batches_to_collect(
    session: Session,
    *,
    now: datetime,
    window: timedelta,
    min_interval: timedelta,
    post_id: uuid.UUID | None = None,
) -> list[CollectionBatch]:
    """Deliveries whose metrics are due: published within `window`, not sampled within `min_interval`.

    For one post (a person asked for fresh numbers) every published delivery is due.
    """
    query = (
        select(Delivery.id, Delivery.external_id, Channel)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.state == DeliveryState.PUBLISHED, Delivery.external_id.is_not(None))
        .order_by(Delivery.channel_id)
    )
    if post_id is not None:
        query = query.where(Delivery.post_id == post_id)
    else:
        recently_sampled = exists().where(
            MetricSample.delivery_id == Delivery.id, MetricSample.collected_at > now - min_interval
        )
        query = query.where(Delivery.published_at >= now - window, ~recently_sampled)

    batches: dict[uuid.UUID, tuple[Channel, dict[str, uuid.UUID]]] = {}
    for delivery_id, external_id, channel in session.execute(query):
        assert external_id is not None  # the query excludes deliveries without one
        batches.setdefault(channel.id, (channel, {}))[1][external_id] = delivery_id
    return [
        CollectionBatch(
            network=channel.network,
            account=account_of(channel),
            delivery_by_external_id=ids,
            sealed_credentials=channel.sealed_credentials,
        )
        for channel, ids in batches.values()
    ]


def record_engagement(
    session: Session,
    batch: CollectionBatch,
    readings: Mapping[str, Engagement | PostGone],
    *,
    now: datetime,
) -> int:
    """Append one sample per delivery the network answered for. Returns how many were stored."""
    samples = []
    for external_id, reading in readings.items():
        delivery_id = batch.delivery_by_external_id.get(external_id)
        if delivery_id is None:
            continue
        if isinstance(reading, PostGone):
            # Gone is not zero: the counts stay empty and the sample says why.
            samples.append(
                MetricSample(delivery_id=delivery_id, collected_at=now, raw={"gone": str(reading)})
            )
            continue
        samples.append(
            MetricSample(
                delivery_id=delivery_id,
                collected_at=now,
                likes=reading.likes,
                reposts=reading.reposts,
                replies=reading.replies,
                quotes=reading.quotes,
                views=reading.views,
                raw=dict(reading.raw),
            )
        )
    session.add_all(samples)
    return len(samples)


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
