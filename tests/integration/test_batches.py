"""Publishing a batch of claims: each delivery once, the network calls side by side, each at its time.

Timings are read from the sandbox's store (when each post was made), not from how long a test took.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due, reclaim_lost
from shared.deliveries.models import DeliveryState
from shared.deliveries.publishing import publish_deliveries, publish_delivery
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery
from tests.integration.fake_networks import sandbox_of

LEASE = timedelta(seconds=60)
LATENCY = timedelta(milliseconds=300)


@pytest.fixture
def configured(
    services: Services, settings: Settings, task_queue: MemoryTaskQueue
) -> Iterator[Callable[..., Services]]:
    """Services built from the test settings with some changed; `services` empties the tables afterwards."""
    built: list[Services] = []

    def build(**changes: Any) -> Services:
        # model_copy takes a misspelt or renamed setting without a word, and the test would prove nothing.
        assert changes.keys() <= Settings.model_fields.keys(), f"no such settings: {changes}"
        built.append(bootstrap(settings.model_copy(update=changes), tasks=task_queue, engine=services.engine))
        return built[-1]

    yield build
    for each in built:
        each.close()


def claim(
    services: Services, *, now: datetime | None = None, lookahead: timedelta = timedelta(0)
) -> list[Claim]:
    with services.sessions.begin() as session:
        return claim_due(session, now=now or utcnow(), lookahead=lookahead, batch_size=1000, lease=LEASE)


def publish(services: Services, claims: list[Claim]) -> dict[uuid.UUID, DeliveryState | None]:
    return publish_deliveries(services, [(c.delivery_id, c.attempt) for c in claims])


def made_at(services: Services, delivery_id: uuid.UUID) -> datetime:
    """When the sandbox stored the delivery's post."""
    row = sandbox_of(services).store.find_by_key(str(delivery_id))
    assert row is not None, f"the sandbox has no post for {delivery_id}"
    created_at: datetime = row["created_at"]
    return created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at


def posts(services: Services, workspace: Workspace, count: int, **options: Any) -> list[uuid.UUID]:
    channel = make_channel(services, workspace, **options)
    return [
        only_delivery_id(make_post(services, workspace, [channel], text=f"Post {n}")) for n in range(count)
    ]


def test_a_batch_publishes_each_claimed_delivery_once_and_reports_each_claim(services: Services) -> None:
    workspace, _ = make_workspace(services)
    [already_published] = posts(services, workspace, 1)
    [first] = claim(services)
    assert publish_delivery(services, first.delivery_id, first.attempt) is DeliveryState.PUBLISHED
    [reclaimed] = posts(services, workspace, 1)
    [lost] = claim(services)
    with services.sessions.begin() as session:
        [again] = reclaim_lost(session, now=utcnow() + LEASE * 2, batch_size=10, lease=LEASE)
    assert (again.delivery_id, again.attempt) == (reclaimed, 2)
    channels = [make_channel(services, workspace, f"Channel {n}") for n in range(3)]
    fresh = [d.id for _ in range(10) for d in make_post(services, workspace, channels).deliveries]
    claims = claim(services)
    assert {c.delivery_id for c in claims} == set(fresh)
    # Mixed in: a message for a claim that was re-issued, and one whose delivery is already published.
    stale = [(reclaimed, lost.attempt), (already_published, first.attempt)]

    outcomes = publish_deliveries(
        services, [*stale[:1], *((c.delivery_id, c.attempt) for c in claims), *stale[1:]]
    )

    assert outcomes == {
        **dict.fromkeys(fresh, DeliveryState.PUBLISHED),
        reclaimed: None,
        already_published: None,
    }
    assert sandbox_of(services).store.count_by_key() == {str(d): 1 for d in [*fresh, already_published]}
    for delivery_id in fresh:
        assert [a.number for a in read_delivery(services, delivery_id).attempts] == [1]
    left = read_delivery(services, reclaimed)
    assert (left.state, left.attempt, left.attempts) == (DeliveryState.ENQUEUED, 2, [])


def test_a_batchs_network_calls_run_side_by_side(configured: Callable[..., Services]) -> None:
    services = configured(network_call_threads=10)
    workspace, _ = make_workspace(services)
    delivery_ids = posts(services, workspace, 10, latency_ms=LATENCY.total_seconds() * 1000)
    sandbox_of(services).store.count_by_key()  # the store's table exists before the clock matters

    outcomes = publish(services, claim(services))

    assert outcomes == dict.fromkeys(delivery_ids, DeliveryState.PUBLISHED)
    made = sorted(made_at(services, d) for d in delivery_ids)
    # Had any call waited for another to finish, their posts would be at least one latency apart (and one
    # after another, 2.7 s in all). Side by side they are made within milliseconds of each other; the
    # margin up to a latency is for a loaded machine.
    assert made[-1] - made[0] < LATENCY


def test_a_worker_allowed_one_network_call_at_a_time_makes_them_one_after_another(
    configured: Callable[..., Services],
) -> None:
    services = configured(network_call_threads=1)
    workspace, _ = make_workspace(services)
    delivery_ids = posts(services, workspace, 4, latency_ms=LATENCY.total_seconds() * 1000)

    outcomes = publish(services, claim(services))

    assert outcomes == dict.fromkeys(delivery_ids, DeliveryState.PUBLISHED)
    made = sorted(made_at(services, d) for d in delivery_ids)
    assert all(later - earlier >= LATENCY for earlier, later in pairwise(made))


def test_a_delivery_claimed_early_is_not_published_before_its_time(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    now = utcnow()
    due_now = only_delivery_id(make_post(services, workspace, [channel], scheduled_at=now))
    due_soon = only_delivery_id(
        make_post(services, workspace, [channel], scheduled_at=now + timedelta(milliseconds=500))
    )
    claims = claim(services, now=now, lookahead=timedelta(seconds=1))
    assert [c.delivery_id for c in claims] == [due_now, due_soon]

    assert publish(services, claims) == dict.fromkeys([due_now, due_soon], DeliveryState.PUBLISHED)

    soon = read_delivery(services, due_soon)
    assert made_at(services, due_soon) >= soon.due_at
    # Each call waits for its own delivery's time, not for the batch's latest.
    assert made_at(services, due_now) < soon.due_at
    assert soon.published_at is not None
    assert soon.published_at >= soon.due_at


def test_a_delivery_claimed_far_ahead_is_held_no_longer_than_the_lookahead(
    configured: Callable[..., Services],
) -> None:
    lookahead = timedelta(seconds=0.4)
    services = configured(scheduler_lookahead_seconds=lookahead.total_seconds())
    workspace, _ = make_workspace(services)
    delivery_id = only_delivery_id(
        make_post(
            services,
            workspace,
            [make_channel(services, workspace)],
            scheduled_at=utcnow() + timedelta(hours=1),
        )
    )
    # A scheduler whose clock runs an hour fast claims it now.
    [claimed] = claim(services, now=utcnow() + timedelta(hours=1))

    assert publish(services, [claimed]) == {delivery_id: DeliveryState.PUBLISHED}

    delivery = read_delivery(services, delivery_id)
    [attempt] = delivery.attempts
    held = made_at(services, delivery_id) - attempt.started_at
    assert lookahead <= held < lookahead + timedelta(milliseconds=750)
    assert made_at(services, delivery_id) < delivery.due_at
