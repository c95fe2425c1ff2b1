"""Crier's own posting quotas: a batch starts what a network's quotas allow and hands the rest back, unharmed.

Every test runs with the buckets in the database (the embedded mode) and in Redis.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due
from shared.deliveries.models import AttemptOutcome, Delivery, DeliveryState
from shared.deliveries.publishing import publish_deliveries
from shared.limits.database import DatabaseRateLimiter
from shared.limits.ports import RateLimiter
from shared.limits.redis import RedisRateLimiter
from shared.posts.models import Post
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.models import Workspace
from tests.factories import make_post, make_workspace, only_delivery_id, read_delivery
from tests.integration.fake_networks import QUOTA, bootstrap_with_scripted_network, scripted_channel

LEASE = timedelta(seconds=60)
WAITING = re.compile(r"Waiting (?P<seconds>\d+\.\d) s for the posting limit on (?P<scope>.+)\.")
# An empty bucket refills one post in 1 / per_second seconds; the test may have taken a moment since.
FULL_WAIT = 1 / QUOTA.per_second
ON_THIS_CHANNEL = "this channel"
ON_THE_APP_QUOTA_NETWORK = "Scripted, with an app quota (tests) as a whole"


@pytest.fixture(params=["database", "redis"])
def limited(
    request: pytest.FixtureRequest, services: Services, settings: Settings, task_queue: MemoryTaskQueue
) -> Iterator[Services]:
    """Services with the quota networks installed, keeping their buckets in the database or in Redis."""
    limiter: RateLimiter
    client: redis.Redis | None = None
    prefix = f"crier:test:{uuid.uuid4().hex}:"
    if request.param == "database":
        limiter = DatabaseRateLimiter(services.sessions)
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        limiter = RedisRateLimiter(client, prefix)
    built = bootstrap_with_scripted_network(settings, task_queue, limits=limiter, engine=services.engine)
    yield built
    built.close()
    if client is not None:
        buckets = list(client.scan_iter(f"{prefix}*"))
        if buckets:
            client.delete(*buckets)
        client.close()


def schedule(services: Services, workspace: Workspace, channel: Channel, at: datetime) -> uuid.UUID:
    return only_delivery_id(make_post(services, workspace, [channel], scheduled_at=at))


def scheduled_with_id(
    services: Services, workspace: Workspace, channel: Channel, at: datetime, delivery_id: uuid.UUID
) -> uuid.UUID:
    """A post with one delivery, whose id the test chooses."""
    with services.sessions.begin() as session:
        post = Post(workspace_id=workspace.id, text="One of a thread", scheduled_at=at)
        post.deliveries = [
            Delivery(id=delivery_id, channel_id=channel.id, scheduled_at=at, due_at=at, attempts=[])
        ]
        session.add(post)
    return delivery_id


def claim_all(services: Services) -> list[Claim]:
    with services.sessions.begin() as session:
        return claim_due(session, now=utcnow(), lookahead=timedelta(0), batch_size=100, lease=LEASE)


def assert_handed_back(services: Services, delivery_id: uuid.UUID, scope: str, before: datetime) -> None:
    """Deferred by Crier's own quota: waiting again, due when the quota has room, and otherwise untouched."""
    delivery = read_delivery(services, delivery_id)
    assert delivery.state is DeliveryState.SCHEDULED
    assert delivery.last_error is not None
    waiting = WAITING.fullmatch(delivery.last_error)
    assert waiting is not None, delivery.last_error
    assert waiting["scope"] == scope
    wait = float(waiting["seconds"])
    assert FULL_WAIT - 5 <= wait <= FULL_WAIT
    assert before <= delivery.updated_at <= utcnow()
    assert abs((delivery.due_at - delivery.updated_at).total_seconds() - wait) <= 0.05
    # Not an attempt: no attempt row, no failure counted, and the claim number it had.
    assert (delivery.attempts, delivery.failures, delivery.attempt, delivery.lease_expires_at) == (
        [],
        1,
        1,
        None,
    )


def test_a_channel_over_its_quota_starts_what_the_quota_allows_and_hands_the_rest_back(
    limited: Services,
) -> None:
    workspace, _ = make_workspace(limited)
    busy = scripted_channel(limited, workspace, "Busy", network="scripted_account_quota")
    quiet = scripted_channel(limited, workspace, "Quiet", network="scripted_account_quota")
    t0 = utcnow() - timedelta(seconds=30)
    on_busy = [schedule(limited, workspace, busy, t0 + timedelta(seconds=n)) for n in range(5)]
    on_quiet = schedule(limited, workspace, quiet, t0 + timedelta(seconds=5))
    with limited.sessions.begin() as session:
        session.execute(update(Delivery).values(failures=1))
    claims = claim_all(limited)
    assert len(claims) == 6

    before = utcnow()
    outcomes = publish_deliveries(limited, [(c.delivery_id, c.attempt) for c in claims])

    started = [d for d in on_busy if read_delivery(limited, d).state is DeliveryState.PUBLISHED]
    handed_back = [d for d in on_busy if d not in started]
    assert (started, handed_back) == (on_busy[: QUOTA.burst], on_busy[QUOTA.burst :])
    for delivery_id in [*started, on_quiet]:
        assert outcomes[delivery_id] is DeliveryState.PUBLISHED
        assert [a.outcome for a in read_delivery(limited, delivery_id).attempts] == [AttemptOutcome.PUBLISHED]
    for delivery_id in handed_back:
        assert outcomes[delivery_id] is DeliveryState.SCHEDULED
        assert_handed_back(limited, delivery_id, ON_THIS_CHANNEL, before)

    # Once the quota has room again they are claimed like any other due delivery, under the next number.
    due_at = max(read_delivery(limited, d).due_at for d in handed_back)
    with limited.sessions.begin() as session:
        claimed = claim_due(session, now=due_at, lookahead=timedelta(0), batch_size=100, lease=LEASE)
    assert sorted((c.delivery_id, c.attempt) for c in claimed) == sorted((d, 2) for d in handed_back)


def test_a_channel_over_its_quota_lets_its_earliest_deliveries_go_first(limited: Services) -> None:
    workspace, _ = make_workspace(limited)
    channel = scripted_channel(limited, workspace, network="scripted_account_quota")
    t0 = utcnow() - timedelta(seconds=30)
    # Latest first, in the order the rows are written and in the order of their keys, so neither order
    # a database might return them in is the order of their time.
    by_time = {
        n: scheduled_with_id(limited, workspace, channel, t0 + timedelta(seconds=n), uuid.UUID(int=10 - n))
        for n in reversed(range(5))
    }
    claims = claim_all(limited)

    publish_deliveries(limited, [(c.delivery_id, c.attempt) for c in claims])

    states = [read_delivery(limited, by_time[n]).state for n in range(5)]
    assert states == [DeliveryState.PUBLISHED] * 2 + [DeliveryState.SCHEDULED] * 3


def test_a_networks_quota_spans_its_channels_but_not_another_networks(limited: Services) -> None:
    workspace, _ = make_workspace(limited)
    t0 = utcnow() - timedelta(seconds=30)

    def one_each(network: str) -> list[uuid.UUID]:
        return [
            schedule(
                limited,
                workspace,
                scripted_channel(limited, workspace, f"{network} {n}", network=network),
                t0,
            )
            for n in range(3)
        ]

    on_app_quota = one_each("scripted_app_quota")
    with limited.sessions.begin() as session:
        session.execute(update(Delivery).values(failures=1))
    claims = claim_all(limited)

    before = utcnow()
    outcomes = publish_deliveries(limited, [(c.delivery_id, c.attempt) for c in claims])

    started = [d for d in on_app_quota if outcomes[d] is DeliveryState.PUBLISHED]
    [handed_back] = [d for d in on_app_quota if d not in started]
    assert len(started) == QUOTA.burst
    assert outcomes[handed_back] is DeliveryState.SCHEDULED
    assert_handed_back(limited, handed_back, ON_THE_APP_QUOTA_NETWORK, before)

    # Another network's channels, each with a quota of its own and an app-wide one, are not held back.
    on_another_network = one_each("scripted_account_quota")
    claims = claim_all(limited)
    assert {c.delivery_id for c in claims} == set(on_another_network)

    outcomes = publish_deliveries(limited, [(c.delivery_id, c.attempt) for c in claims])

    assert outcomes == dict.fromkeys(on_another_network, DeliveryState.PUBLISHED)
