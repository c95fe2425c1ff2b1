"""Collecting engagement for published deliveries: what is due, what is stored, and what a failure skips."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.publishing import publish_delivery
from shared.deliveries.services import claim_due
from shared.metrics.collecting import collect_metrics
from shared.metrics.models import MetricSample
from shared.networks.sandbox import SandboxNetwork, sandbox_posts
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id
from tests.integration.fake_networks import SCRIPTED_METRICS

COUNTS = ("likes", "reposts", "replies", "quotes", "views")


def publish_everything_due(services: Services) -> dict[uuid.UUID, str | None]:
    """Claim and publish every due delivery; the external id of each, by delivery id."""
    with services.sessions.begin() as session:
        claims = claim_due(
            session, now=utcnow(), lookahead=timedelta(0), batch_size=100, lease=timedelta(seconds=60)
        )
    for claim in claims:
        assert publish_delivery(services, claim.delivery_id, claim.attempt) is DeliveryState.PUBLISHED
    with services.sessions() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.external_id).where(Delivery.id.in_([c.delivery_id for c in claims]))
        )
        return {delivery_id: external_id for delivery_id, external_id in rows}


def samples(services: Services) -> list[MetricSample]:
    with services.sessions() as session:
        return list(session.scalars(select(MetricSample).order_by(MetricSample.id)))


def sampled_deliveries(services: Services) -> list[uuid.UUID]:
    return sorted(sample.delivery_id for sample in samples(services))


def add_channel(services: Services, workspace: Workspace, channel_id: uuid.UUID, **answers: Any) -> Channel:
    """A scripted channel with a chosen id: collection visits channels in id order."""
    with services.sessions.begin() as session:
        channel = Channel(
            id=channel_id,
            workspace_id=workspace.id,
            network="scripted",
            name=f"Scripted {channel_id}",
            handle="scripted",
            settings=answers,
        )
        session.add(channel)
    return channel


def test_collecting_stores_one_sample_per_published_delivery(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channels = [make_channel(services, workspace, "North"), make_channel(services, workspace, "South")]
    make_post(services, workspace, channels)
    make_post(services, workspace, channels[:1], text="North only")
    make_post(services, workspace, channels[1:], text="Not yet", scheduled_at=utcnow() + timedelta(days=1))
    published = publish_everything_due(services)
    assert len(published) == 3

    before = utcnow()
    stored = collect_metrics(services)
    after = utcnow()

    assert stored == 3
    taken = samples(services)
    assert sorted(sample.delivery_id for sample in taken) == sorted(published)
    for sample in taken:
        assert before <= sample.collected_at <= after
        assert all(getattr(sample, count) is not None for count in COUNTS)
        assert sample.clicks is None  # the sandbox does not report clicks: unknown, not zero
        assert sample.raw["id"] == published[sample.delivery_id]


def test_a_second_collection_within_the_interval_stores_nothing_unless_a_post_is_asked_for(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    post = make_post(services, workspace, [channel])
    other = make_post(services, workspace, [channel], text="Another one")
    publish_everything_due(services)
    assert collect_metrics(services) == 2

    assert collect_metrics(services) == 0
    assert collect_metrics(services, post.id) == 1
    assert collect_metrics(services, post.id) == 1
    assert sampled_deliveries(services).count(only_delivery_id(post)) == 3
    assert sampled_deliveries(services).count(only_delivery_id(other)) == 1

    # Once the interval has passed since the last samples, the delivery is due again.
    interval = timedelta(seconds=services.settings.metrics_interval_seconds)
    with services.sessions.begin() as session:
        session.execute(update(MetricSample).values(collected_at=utcnow() - interval - timedelta(seconds=1)))
    assert collect_metrics(services) == 2


def test_a_post_gone_from_the_network_is_sampled_with_empty_counts(services: Services) -> None:
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)])
    [external_id] = publish_everything_due(services).values()
    sandbox = services.networks.get("sandbox")
    assert isinstance(sandbox, SandboxNetwork)
    with sandbox.store.engine.begin() as connection:  # a moderator deletes it
        connection.execute(delete(sandbox_posts).where(sandbox_posts.c.id == external_id))

    assert collect_metrics(services) == 1

    [sample] = samples(services)
    assert sample.delivery_id == only_delivery_id(post)
    assert [getattr(sample, count) for count in (*COUNTS, "clicks")] == [None] * 6
    assert sample.raw == {"gone": f"sandbox: no post {external_id}"}


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param("transient", id="network error"),
        pytest.param("crash", id="adapter bug"),
    ],
)
def test_a_channel_whose_network_fails_does_not_keep_other_channels_from_being_sampled(
    scripted: Services, failure: str
) -> None:
    workspace, _ = make_workspace(scripted)
    sandbox = make_channel(scripted, workspace)
    # Collection visits channels in id order; failing channels sort both before and after the sandbox's.
    first = add_channel(scripted, workspace, uuid.UUID(int=0), engagement=failure)
    last = add_channel(scripted, workspace, uuid.UUID(int=2**128 - 1), engagement=failure)
    healthy = add_channel(scripted, workspace, uuid.uuid4())
    post = make_post(scripted, workspace, [first, sandbox, healthy, last])
    publish_everything_due(scripted)
    expected = {d.id for d in post.deliveries if d.channel_id in {sandbox.id, healthy.id}}

    assert collect_metrics(scripted) == 2

    assert set(sampled_deliveries(scripted)) == expected
    [from_healthy] = [s for s in samples(scripted) if s.raw == SCRIPTED_METRICS]
    assert from_healthy.likes == SCRIPTED_METRICS["likes"]


def test_a_channel_whose_network_is_not_installed_here_does_not_keep_others_from_being_sampled(
    services: Services, scripted: Services
) -> None:
    workspace, _ = make_workspace(scripted)
    sandbox = make_channel(scripted, workspace)
    elsewhere = add_channel(scripted, workspace, uuid.UUID(int=0))
    post = make_post(scripted, workspace, [elsewhere, sandbox])
    publish_everything_due(scripted)

    assert collect_metrics(services) == 1  # this worker has only the sandbox installed

    [sample] = samples(services)
    assert sample.delivery_id == next(d.id for d in post.deliveries if d.channel_id == sandbox.id)


def test_deliveries_published_before_the_metrics_window_are_not_collected(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    old = make_post(services, workspace, [channel], text="Last season")
    recent = make_post(services, workspace, [channel], text="This week")
    publish_everything_due(services)
    window = timedelta(days=services.settings.metrics_window_days)
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == only_delivery_id(old))
            .values(published_at=utcnow() - window - timedelta(minutes=1))
        )

    assert collect_metrics(services) == 1
    assert sampled_deliveries(services) == [only_delivery_id(recent)]

    # A person asking for one post's numbers gets them, however old the post.
    assert collect_metrics(services, old.id) == 1
    assert only_delivery_id(old) in sampled_deliveries(services)
