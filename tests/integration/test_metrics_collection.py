"""Collecting engagement: the decaying schedule, batches per channel, failures, and what is stored where.

Time passes by moving every delivery's publication and next collection back (`travel`): the collector
compares them with the real clock, as it does in production.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.links.models import ShortLink
from shared.links.services import record_click
from shared.metrics.collecting import collect_metrics, prune_metric_samples, take_snapshots
from shared.metrics.models import (
    COUNTS,
    ChannelCollection,
    ChannelSnapshot,
    DeliveryMetrics,
    EngagementHour,
    MetricSample,
)
from shared.metrics.schedule import CollectionSchedule
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.store import sandbox_posts
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id
from tests.integration.engagement_networks import bootstrap_with_readable_networks, reads_of
from tests.integration.fake_networks import script

STEPS = CollectionSchedule(Settings(_env_file=None).metrics_steps).steps  # 15m, 1h, 6h, 24h, 3d, 7d, 30d
MINUTE = timedelta(minutes=1)


@pytest.fixture
def readable(services: Services, settings: Settings, task_queue: MemoryTaskQueue) -> Iterator[Services]:
    """Services with the sandbox and the test networks of engagement_networks; `services` cleans up."""
    built = bootstrap_with_readable_networks(settings, task_queue, engine=services.engine)
    yield built
    built.close()


def travel(services: Services, by: timedelta) -> None:
    """As if `by` had passed: every delivery's publication and next collection move that far back."""
    with services.sessions.begin() as session:
        for delivery in session.scalars(select(Delivery).where(Delivery.published_at.is_not(None))):
            assert delivery.published_at is not None
            delivery.published_at -= by
            if delivery.metrics_due_at is not None:
                delivery.metrics_due_at -= by


def travel_to(services: Services, age: timedelta) -> None:
    """Move every delivery back so that it was published `age` ago, its schedule moved with it."""
    with services.sessions() as session:
        published_at = session.scalar(select(func.max(Delivery.published_at)))
    assert published_at is not None
    travel(services, age - (utcnow() - published_at))


def delivery(services: Services, delivery_id: uuid.UUID) -> Delivery:
    with services.sessions() as session:
        return session.get_one(Delivery, delivery_id)


def samples(services: Services, delivery_id: uuid.UUID | None = None) -> list[MetricSample]:
    query = select(MetricSample).order_by(MetricSample.id)
    if delivery_id is not None:
        query = query.where(MetricSample.delivery_id == delivery_id)
    with services.sessions() as session:
        return list(session.scalars(query))


def latest(services: Services, delivery_id: uuid.UUID) -> DeliveryMetrics:
    with services.sessions() as session:
        return session.get_one(DeliveryMetrics, delivery_id)


def rolled_up(services: Services, channel_id: uuid.UUID) -> dict[str, int | None]:
    """The channel's hourly rollups added up, each metric null if no hour has it."""
    columns = [func.sum(getattr(EngagementHour, name)) for name in COUNTS]
    with services.sessions() as session:
        row = session.execute(select(*columns).where(EngagementHour.channel_id == channel_id)).one()
    return {name: None if value is None else int(value) for name, value in zip(COUNTS, row, strict=True)}


def readable_channel(services: Services, workspace: Workspace, name: str, **answers: Any) -> Channel:
    return make_channel(services, workspace, name, network=answers.pop("network", "readable"), **answers)


def published(
    services: Services, workspace: Workspace, channels: list[Channel], count: int = 1
) -> list[uuid.UUID]:
    """`count` posts to the channels, published now; their deliveries' ids."""
    posts = [make_post(services, workspace, channels, text=f"Post {n}") for n in range(count)]
    assert set(publish_what_is_due(services).values()) == {DeliveryState.PUBLISHED}
    return [d.id for post in posts for d in post.deliveries]


# -- The decaying schedule -----------------------------------------------------------------------------


def test_a_published_delivery_is_collected_at_each_step_of_its_schedule_then_never_again(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    [delivery_id] = published(
        readable, workspace, [readable_channel(readable, workspace, "A", counts={"likes": 1})]
    )
    assert delivery(readable, delivery_id).metrics_due_at == delivery(readable, delivery_id).published_at

    # Just published: its first step (15 minutes) is to come, and the collector says so.
    assert collect_metrics(readable) == 0
    published_at = delivery(readable, delivery_id).published_at
    assert published_at is not None
    assert delivery(readable, delivery_id).metrics_due_at == published_at + STEPS[0]

    for number, step in enumerate(STEPS, start=1):
        travel_to(readable, step - MINUTE)
        assert collect_metrics(readable) == 0, f"collected a minute before the step {step}"
        travel_to(readable, step + MINUTE)
        assert collect_metrics(readable) == 1, f"not collected just after the step {step}"
        assert collect_metrics(readable) == 0, "collected twice for one step"
        assert delivery(readable, delivery_id).metrics_collections == number

    done = delivery(readable, delivery_id)
    assert done.metrics_due_at is None, "the schedule is over: the delivery leaves the index"
    assert done.metrics_collections == len(STEPS)
    travel(readable, timedelta(days=365))
    assert collect_metrics(readable) == 0
    assert len(samples(readable, delivery_id)) == len(STEPS)


def test_steps_missed_while_the_collector_was_down_are_collected_once_then_the_schedule_goes_on(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    [delivery_id] = published(
        readable, workspace, [readable_channel(readable, workspace, "A", counts={"likes": 1})]
    )
    collect_metrics(readable)  # schedules the first step
    travel_to(readable, timedelta(hours=30))  # past 15 min, 1 h, 6 h and 24 h

    assert collect_metrics(readable) == 1
    assert collect_metrics(readable) == 0

    after = delivery(readable, delivery_id)
    assert after.published_at is not None
    assert after.metrics_due_at is not None
    assert after.metrics_due_at - after.published_at == timedelta(days=3)


def test_a_delivery_published_long_before_the_schedule_was_set_is_left_alone(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    [delivery_id] = published(readable, workspace, [readable_channel(readable, workspace, "A")])
    travel(readable, STEPS[-1] + timedelta(days=2))  # its whole schedule, and the grace after it, went by

    assert collect_metrics(readable) == 0

    assert delivery(readable, delivery_id).metrics_due_at is None
    assert reads_of("readable") == []


def test_a_delivery_not_yet_published_is_not_collected(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "A")
    post = make_post(readable, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=1))

    assert collect_metrics(readable) == 0
    assert delivery(readable, only_delivery_id(post)).metrics_due_at is None


def test_a_run_does_not_collect_what_another_run_has_claimed(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    published(readable, workspace, [readable_channel(readable, workspace, "A")])
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)
    with readable.sessions.begin() as session:
        # What a run that claimed it, and is still reading, leaves behind: the delivery held for a while.
        session.execute(update(Delivery).values(metrics_due_at=utcnow() + timedelta(minutes=10)))

    assert collect_metrics(readable) == 0


# -- Batches, limits and failures ----------------------------------------------------------------------


def test_each_request_reads_one_channels_deliveries_no_more_than_the_networks_batch_size(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    north = readable_channel(readable, workspace, "North", counts={"likes": 2})
    south = readable_channel(readable, workspace, "South", counts={"likes": 5})
    published(readable, workspace, [north], count=7)
    published(readable, workspace, [south], count=2)
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)

    assert collect_metrics(readable) == 9

    batches = reads_of("readable")
    assert sorted(len(ids) for channel, ids in batches if channel == str(north.id)) == [1, 3, 3]
    assert [len(ids) for channel, ids in batches if channel == str(south.id)] == [2]
    with readable.sessions() as session:
        channel_of = dict(session.execute(select(Delivery.external_id, Delivery.channel_id)).all())
    assert all({str(channel_of[external_id]) for external_id in ids} == {channel} for channel, ids in batches)


@pytest.mark.parametrize("failure", ["transient", "crash", "rate_limited"])
def test_a_channel_whose_reads_fail_is_tried_again_later_and_keeps_no_other_channel_from_being_collected(
    readable: Services, failure: str
) -> None:
    workspace, _ = make_workspace(readable)
    failing = readable_channel(readable, workspace, "Failing", engagement=failure)
    healthy = readable_channel(readable, workspace, "Healthy", counts={"likes": 4})
    sandbox = make_channel(readable, workspace, "Sandbox")
    post = make_post(readable, workspace, [failing, healthy, sandbox])
    assert set(publish_what_is_due(readable).values()) == {DeliveryState.PUBLISHED}
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)
    before = utcnow()

    assert collect_metrics(readable) == 2

    by_channel = {d.channel_id: d.id for d in post.deliveries}
    assert {s.delivery_id for s in samples(readable)} == {by_channel[healthy.id], by_channel[sandbox.id]}
    retry_at = delivery(readable, by_channel[failing.id]).metrics_due_at
    assert retry_at is not None
    # A rate limit is waited out (the network said 20 minutes); anything else is tried again in 10.
    wait = timedelta(minutes=20 if failure == "rate_limited" else 10)
    assert before + wait - MINUTE < retry_at < utcnow() + wait + MINUTE

    script(readable, failing, counts={"likes": 1})
    travel(readable, wait + MINUTE)
    assert collect_metrics(readable) == 1
    assert latest(readable, by_channel[failing.id]).likes == 1


def collection_of(services: Services, channel: Channel) -> ChannelCollection | None:
    with services.sessions() as session:
        return session.get(ChannelCollection, channel.id)


def test_a_failing_collection_is_kept_with_the_network_s_words_until_a_read_works_again(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    failing = readable_channel(readable, workspace, "Failing", engagement="transient")
    healthy = readable_channel(readable, workspace, "Healthy", counts={"likes": 4})
    make_post(readable, workspace, [failing, healthy])
    assert set(publish_what_is_due(readable).values()) == {DeliveryState.PUBLISHED}
    travel_to(readable, STEPS[0] + MINUTE)
    first_failure = utcnow()
    collect_metrics(readable)

    broken = collection_of(readable, failing)
    assert broken is not None
    assert broken.last_error == "Engagement: readable: 502 Bad Gateway from the metrics endpoint"
    assert broken.last_success_at is None
    assert broken.failing_since is not None
    assert broken.failing_since >= first_failure
    working = collection_of(readable, healthy)
    assert working is not None
    assert (working.last_error, working.failing_since) == (None, None)
    assert working.last_success_at is not None

    travel(readable, timedelta(minutes=11))
    collect_metrics(readable)
    still_broken = collection_of(readable, failing)
    assert still_broken is not None
    assert still_broken.failing_since == broken.failing_since, "failing since the first failure"
    assert still_broken.last_error_at is not None
    assert broken.last_error_at is not None
    assert still_broken.last_error_at > broken.last_error_at

    script(readable, failing, counts={"likes": 1})
    travel(readable, timedelta(minutes=11))
    collect_metrics(readable)
    mended = collection_of(readable, failing)
    assert mended is not None
    assert mended.failing_since is None
    assert mended.last_success_at is not None
    assert mended.last_error == broken.last_error, "the last error stays on record, with its time"


def test_a_rate_limit_is_a_pause_not_a_collection_error(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    limited = readable_channel(readable, workspace, "Limited", engagement="rate_limited")
    make_post(readable, workspace, [limited])
    assert set(publish_what_is_due(readable).values()) == {DeliveryState.PUBLISHED}
    travel_to(readable, STEPS[0] + MINUTE)
    assert collect_metrics(readable) == 0
    assert reads_of("readable"), "it was asked, and said to wait"
    assert collection_of(readable, limited) is None


def test_a_failed_snapshot_is_a_collection_error_too(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "Flaky", network="audience", audience="transient")
    take_snapshots(readable)
    broken = collection_of(readable, channel)
    assert broken is not None
    assert broken.last_error == "Followers: audience: 503 Service Unavailable"


def test_reads_beyond_crier_s_own_read_limit_wait_for_the_bucket_to_refill(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "Throttled", network="throttled", counts={"likes": 1})
    delivery_ids = published(readable, workspace, [channel], count=5)  # two requests of 3 and 2
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)

    stored = collect_metrics(readable)

    # One read allowed now: one of the two requests (3 and 2 deliveries, read side by side) goes through.
    assert stored in {2, 3}
    waiting = [delivery(readable, d) for d in delivery_ids if not samples(readable, d)]
    assert len(waiting) == 5 - stored
    for held in waiting:
        assert held.metrics_due_at is not None
        assert held.metrics_due_at > utcnow() + timedelta(seconds=90), "the bucket refills in 100 s"


def test_a_channel_to_reconnect_is_not_read_and_waits(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "Expired")
    [delivery_id] = published(readable, workspace, [channel])
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)
    with readable.sessions.begin() as session:
        session.execute(update(Channel).values(state=ChannelState.NEEDS_REAUTH))

    assert collect_metrics(readable) == 0

    assert reads_of("readable") == []
    due = delivery(readable, delivery_id).metrics_due_at
    assert due is not None
    assert due > utcnow()


def test_a_channel_whose_network_is_not_installed_here_does_not_keep_others_from_being_collected(
    readable: Services, services: Services
) -> None:
    workspace, _ = make_workspace(readable)
    elsewhere = readable_channel(readable, workspace, "Elsewhere")
    sandbox = make_channel(readable, workspace, "Sandbox")
    post = make_post(readable, workspace, [elsewhere, sandbox])
    assert set(publish_what_is_due(readable).values()) == {DeliveryState.PUBLISHED}
    collect_metrics(services)
    travel_to(readable, STEPS[0] + MINUTE)

    assert collect_metrics(services) == 1  # this worker has only the sandbox installed

    [sample] = samples(services)
    assert sample.delivery_id == next(d.id for d in post.deliveries if d.channel_id == sandbox.id)


# -- What is stored --------------------------------------------------------------------------------------


def test_a_post_gone_from_the_network_is_recorded_as_deleted_not_as_zeros_and_is_not_read_again(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)])
    delivery_id = only_delivery_id(post)
    assert publish_what_is_due(services) == {delivery_id: DeliveryState.PUBLISHED}
    external_id = delivery(services, delivery_id).external_id
    assert collect_metrics(services, post.id) == 1
    counts_before = latest(services, delivery_id)
    sandbox = services.networks.get("sandbox")
    assert isinstance(sandbox, SandboxNetwork)
    with sandbox.store.engine.begin() as connection:  # a moderator deletes it
        connection.execute(delete(sandbox_posts).where(sandbox_posts.c.id == external_id))
    collect_metrics(services)
    travel_to(services, STEPS[0] + MINUTE)
    rollup_before = rolled_up(services, post.deliveries[0].channel_id)

    assert collect_metrics(services) == 1

    gone = samples(services, delivery_id)[-1]
    assert [getattr(gone, name) for name in COUNTS] == [None] * len(COUNTS)
    assert gone.raw == {"gone": f"sandbox: no post {external_id}"}
    after = latest(services, delivery_id)
    assert after.deleted_at is not None
    assert (after.likes, after.views) == (counts_before.likes, counts_before.views), "gone is not zero"
    assert rolled_up(services, post.deliveries[0].channel_id) == rollup_before, "nothing lost, nothing gained"
    assert delivery(services, delivery_id).metrics_due_at is None
    travel_to(services, STEPS[1] + MINUTE)
    assert collect_metrics(services) == 0


def test_a_metric_the_network_stops_reporting_leaves_the_others_and_keeps_its_last_value(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "A", counts={"likes": 3, "views": 100, "bookmarks": 1})
    [delivery_id] = published(readable, workspace, [channel])
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)
    collect_metrics(readable)
    script(readable, channel, counts={"likes": 5, "bookmarks": 2})  # views retired by the network
    travel_to(readable, STEPS[1] + MINUTE)

    assert collect_metrics(readable) == 1

    last = samples(readable, delivery_id)[-1]
    assert (last.likes, last.bookmarks, last.views) == (5, 2, None)
    kept = latest(readable, delivery_id)
    assert (kept.likes, kept.bookmarks, kept.views) == (5, 2, 100)
    assert rolled_up(readable, channel.id) == {
        "likes": 5,
        "reposts": None,
        "replies": None,
        "quotes": None,
        "bookmarks": 2,
        "views": 100,
        "clicks": None,
    }


def test_latest_values_and_rollups_agree_after_many_collections_and_count_nothing_twice(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "A", counts={"likes": 2, "reposts": 1, "views": 50})
    delivery_ids = published(readable, workspace, [channel], count=4)
    post_of = {d: delivery(readable, d).post_id for d in delivery_ids}
    collect_metrics(readable)
    readings = [
        {"likes": 2, "reposts": 1, "views": 50},
        {"likes": 9, "reposts": 1, "views": 400},
        {"likes": 8, "reposts": 3, "views": 900},  # one like taken back
        {"likes": 20, "reposts": 3, "views": 1500},
    ]
    for step, counts in zip(STEPS, readings, strict=False):
        script(readable, channel, counts=counts)
        travel_to(readable, step + MINUTE)
        assert collect_metrics(readable) == 4
        # A person asks for fresh numbers of one post twice: the same counts, read again, add nothing.
        assert collect_metrics(readable, post_of[delivery_ids[0]]) == 1
        assert collect_metrics(readable, post_of[delivery_ids[0]]) == 1

    for delivery_id in delivery_ids:
        kept = latest(readable, delivery_id)
        assert (kept.likes, kept.reposts, kept.views) == (20, 3, 1500)
        assert kept.interactions == 23
    assert rolled_up(readable, channel.id) == {
        "likes": 80,
        "reposts": 12,
        "replies": None,
        "quotes": None,
        "bookmarks": None,
        "views": 6000,
        "clicks": None,
    }


def test_clicks_on_crier_s_short_links_are_collected_with_the_network_s_counts(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "A", counts={"likes": 1})
    [delivery_id] = published(readable, workspace, [channel])
    code = add_short_link(readable, workspace, delivery_id)
    click(readable, code, times=3)
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)

    collect_metrics(readable)
    assert samples(readable, delivery_id)[-1].clicks == 3
    click(readable, code, times=2)
    travel_to(readable, STEPS[1] + MINUTE)
    collect_metrics(readable)

    assert latest(readable, delivery_id).clicks == 5
    assert latest(readable, delivery_id).interactions == 6
    assert rolled_up(readable, channel.id)["clicks"] == 5


def test_a_network_crier_cannot_read_back_still_gets_the_clicks_on_its_links_without_a_call(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "Webhook", network="mute")
    with_clicks, without = published(readable, workspace, [channel], count=2)
    click(readable, add_short_link(readable, workspace, with_clicks), times=2)
    collect_metrics(readable)
    travel_to(readable, STEPS[0] + MINUTE)

    assert collect_metrics(readable) == 1

    [sample] = samples(readable)
    assert sample.delivery_id == with_clicks
    assert (sample.clicks, sample.likes, sample.views) == (2, None, None)
    assert delivery(readable, without).metrics_collections == 0
    assert delivery(readable, without).metrics_due_at is not None, "its schedule goes on: clicks may come"


def test_a_person_s_refresh_collects_now_and_leaves_the_schedule_alone(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "A", counts={"likes": 1})
    [delivery_id] = published(readable, workspace, [channel])
    collect_metrics(readable)
    due = delivery(readable, delivery_id).metrics_due_at

    assert collect_metrics(readable, delivery(readable, delivery_id).post_id) == 1

    assert delivery(readable, delivery_id).metrics_due_at == due
    assert delivery(readable, delivery_id).metrics_collections == 1


# -- Snapshots and retention ---------------------------------------------------------------------------


def test_each_channel_is_snapshotted_once_a_day_however_often_the_job_runs(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    first = readable_channel(readable, workspace, "First", network="audience", audience={"followers": 1200})
    second = readable_channel(readable, workspace, "Second", network="audience")
    without = readable_channel(readable, workspace, "No followers here")  # `readable` reports none

    assert take_snapshots(readable) == 2
    assert take_snapshots(readable) == 0

    with readable.sessions() as session:
        kept = {s.channel_id: s for s in session.scalars(select(ChannelSnapshot))}
    assert set(kept) == {first.id, second.id}
    assert (kept[first.id].followers, kept[first.id].following) == (1200, None)
    assert (kept[second.id].followers, kept[second.id].posts) == (1000, 5)
    assert kept[first.id].day == utcnow().date()
    assert len(reads_of("audience")) == 2, "the second run did not ask again"
    assert without.id not in kept


def test_a_snapshot_that_failed_is_taken_at_the_next_run(readable: Services) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "Flaky", network="audience", audience="transient")

    assert take_snapshots(readable) == 0
    script(readable, channel, audience={"followers": 10})
    assert take_snapshots(readable) == 1


def test_the_sandbox_reports_followers_that_grow_day_by_day(services: Services) -> None:
    workspace, _ = make_workspace(services)
    make_channel(services, workspace)

    assert take_snapshots(services) == 1
    with services.sessions() as session:
        [snapshot] = session.scalars(select(ChannelSnapshot))
    assert snapshot.followers is not None
    assert snapshot.followers > 200


def test_retention_deletes_old_samples_but_keeps_latest_values_rollups_and_each_delivery_s_newest_sample(
    readable: Services,
) -> None:
    workspace, _ = make_workspace(readable)
    channel = readable_channel(readable, workspace, "A", counts={"likes": 3})
    delivery_ids = published(readable, workspace, [channel], count=2)
    collect_metrics(readable)
    for step in STEPS[:3]:
        travel_to(readable, step + MINUTE)
        collect_metrics(readable)
    retention = timedelta(days=readable.settings.metrics_retention_days)
    with readable.sessions.begin() as session:
        for sample in session.scalars(select(MetricSample)):
            sample.collected_at -= retention
    recent = samples(readable)
    kept_rollups = rolled_up(readable, channel.id)
    kept_latest = {d: latest(readable, d).likes for d in delivery_ids}
    travel_to(readable, STEPS[3] + MINUTE)
    collect_metrics(readable)  # one new sample each, inside the retention period

    assert prune_metric_samples(readable) == 4

    left = samples(readable)
    for delivery_id in delivery_ids:
        mine = [s for s in left if s.delivery_id == delivery_id]
        assert [s.id for s in mine[:1]] == [max(s.id for s in recent if s.delivery_id == delivery_id)]
        assert len(mine) == 2
    assert rolled_up(readable, channel.id) == kept_rollups
    assert {d: latest(readable, d).likes for d in delivery_ids} == kept_latest
    assert prune_metric_samples(readable) == 0


def add_short_link(services: Services, workspace: Workspace, delivery_id: uuid.UUID) -> str:
    code = uuid.uuid4().hex[:8]
    target = f"https://example.org/{code}"
    with services.sessions.begin() as session:
        session.add(
            ShortLink(
                code=code,
                workspace_id=workspace.id,
                delivery_id=delivery_id,
                target_url=target,
                target_digest=hashlib.sha256(target.encode()).hexdigest(),
            )
        )
    return code


def click(services: Services, code: str, *, times: int) -> None:
    for _ in range(times):
        with services.sessions.begin() as session:
            record_click(session, code, utcnow())
