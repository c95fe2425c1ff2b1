"""Claiming due deliveries: which rows move, in what order, and that racing claimers never share one."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.db import create_db_engine, utcnow
from shared.deliveries.attempts import begin_attempt, finish_attempt
from shared.deliveries.claiming import Claim, claim_due, expire_stalled_attempts, reclaim_lost
from shared.deliveries.models import Delivery, DeliveryState
from shared.networks.ports import Transient
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery

LOOKAHEAD = timedelta(seconds=1)
LEASE = timedelta(seconds=60)


def claim(
    services: Services, now: datetime, *, batch_size: int = 100, lookahead: timedelta = LOOKAHEAD
) -> list[Claim]:
    with services.sessions.begin() as session:
        return claim_due(session, now=now, lookahead=lookahead, batch_size=batch_size, lease=LEASE)


def set_channel_state(services: Services, channel: Channel, state: ChannelState) -> None:
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == channel.id).values(state=state))


def test_claim_due_takes_only_scheduled_deliveries_due_within_the_lookahead_on_active_channels(
    services: Services,
) -> None:
    # The scheduler's clock runs hours ahead of the wall clock: posts cannot be scheduled in the past.
    now = utcnow() + timedelta(hours=4)
    workspace, _ = make_workspace(services)
    active = make_channel(services, workspace, "Active")
    paused = make_channel(services, workspace, "Paused")
    set_channel_state(services, paused, ChannelState.PAUSED)

    def scheduled(at: datetime, channel: Channel = active) -> uuid.UUID:
        return only_delivery_id(make_post(services, workspace, [channel], scheduled_at=at))

    # Created out of order, so "oldest first" cannot come from insertion order.
    at_the_lookahead_edge = scheduled(now + LOOKAHEAD)
    an_hour_late = scheduled(now - timedelta(hours=1))
    just_beyond_the_lookahead = scheduled(now + LOOKAHEAD + timedelta(microseconds=1))
    within_the_lookahead = scheduled(now + timedelta(milliseconds=500))
    a_second_late = scheduled(now - timedelta(seconds=1))
    tomorrow = scheduled(now + timedelta(days=1))
    on_a_paused_channel = scheduled(now - timedelta(hours=2), paused)
    already_published = scheduled(now - timedelta(hours=3))
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery).where(Delivery.id == already_published).values(state=DeliveryState.PUBLISHED)
        )

    claims = claim(services, now)

    expected = [an_hour_late, a_second_late, within_the_lookahead, at_the_lookahead_edge]
    assert [c.delivery_id for c in claims] == expected
    assert [c.attempt for c in claims] == [1, 1, 1, 1]
    for delivery_id in expected:
        delivery = read_delivery(services, delivery_id)
        assert delivery.state is DeliveryState.ENQUEUED
        assert delivery.attempt == 1
        assert delivery.lease_expires_at == now + LEASE
    for delivery_id in (just_beyond_the_lookahead, tomorrow, on_a_paused_channel):
        delivery = read_delivery(services, delivery_id)
        assert (delivery.state, delivery.attempt, delivery.lease_expires_at) == (
            DeliveryState.SCHEDULED,
            0,
            None,
        )
    assert read_delivery(services, already_published).state is DeliveryState.PUBLISHED


def test_a_second_claim_at_the_same_moment_finds_nothing(services: Services) -> None:
    now = utcnow()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    delivery_id = only_delivery_id(make_post(services, workspace, [channel], scheduled_at=now))

    assert [c.delivery_id for c in claim(services, now)] == [delivery_id]
    assert claim(services, now) == []
    assert claim(services, now + timedelta(hours=1)) == []
    assert read_delivery(services, delivery_id).attempt == 1


def test_claim_due_takes_at_most_batch_size_deliveries_oldest_first(services: Services) -> None:
    now = utcnow() + timedelta(hours=1)
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    minutes_late = [3, 5, 1, 4, 2]
    by_lateness = {
        late: only_delivery_id(
            make_post(services, workspace, [channel], scheduled_at=now - timedelta(minutes=late))
        )
        for late in minutes_late
    }

    batches = [[c.delivery_id for c in claim(services, now, batch_size=2)] for _ in range(4)]

    assert batches == [
        [by_lateness[5], by_lateness[4]],
        [by_lateness[3], by_lateness[2]],
        [by_lateness[1]],
        [],
    ]


def test_a_delivery_waiting_to_retry_is_claimed_under_the_next_attempt_number(
    services: Services,
) -> None:
    now = utcnow()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    delivery_id = only_delivery_id(make_post(services, workspace, [channel], scheduled_at=now))
    [first] = claim(services, now)
    with services.sessions.begin() as session:
        job = begin_attempt(session, delivery_id, first.attempt, now=now, lease=LEASE)
        assert job is not None
        state = finish_attempt(session, job, Transient("503"), now=now, max_attempts=5)
    assert state is DeliveryState.RETRY_WAIT

    later = now + timedelta(hours=1)
    [second] = claim(services, later)

    assert (second.delivery_id, second.attempt) == (delivery_id, 2)
    assert read_delivery(services, delivery_id).lease_expires_at == later + LEASE


def test_deliveries_of_a_channel_that_needs_reauthorization_are_not_claimed(services: Services) -> None:
    now = utcnow()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    delivery_id = only_delivery_id(make_post(services, workspace, [channel], scheduled_at=now))
    set_channel_state(services, channel, ChannelState.NEEDS_REAUTH)

    assert claim(services, now + timedelta(days=1)) == []
    assert read_delivery(services, delivery_id).state is DeliveryState.SCHEDULED

    # Reconnected, the channel's waiting deliveries go out.
    set_channel_state(services, channel, ChannelState.ACTIVE)
    assert [c.delivery_id for c in claim(services, now)] == [delivery_id]


def test_claimers_racing_each_other_claim_every_due_delivery_exactly_once(services: Services) -> None:
    now = utcnow() + timedelta(minutes=1)
    workspace, _ = make_workspace(services)
    channels = [make_channel(services, workspace, f"Channel {n}") for n in range(10)]
    due: set[uuid.UUID] = set()
    for n in range(30):
        post = make_post(services, workspace, channels, scheduled_at=now - timedelta(seconds=n))
        due |= {delivery.id for delivery in post.deliveries}
    assert len(due) == 300
    claimers = 4
    start = threading.Barrier(claimers)

    def claim_until_none_are_left() -> list[Claim]:
        start.wait()
        mine: list[Claim] = []
        while batch := claim(services, now, batch_size=25):
            mine.extend(batch)
        return mine

    with ThreadPoolExecutor(claimers) as pool:
        futures = [pool.submit(claim_until_none_are_left) for _ in range(claimers)]
        claimed = [c for future in futures for c in future.result(timeout=60)]

    claimed_ids = [c.delivery_id for c in claimed]
    assert len(claimed_ids) == len(set(claimed_ids)), "a delivery was claimed twice"
    assert set(claimed_ids) == due
    assert {c.attempt for c in claimed} == {1}
    assert claim(services, now + timedelta(days=1)) == []


def test_a_sqlite_transaction_takes_the_write_lock_before_its_first_statement(tmp_path: Path) -> None:
    # SQLAlchemy drops FOR UPDATE SKIP LOCKED on SQLite; the claim is atomic there only because every
    # transaction begins IMMEDIATE. A deferred BEGIN would let a second claimer start and read the same rows.
    # Two engines, as two processes have: in one process, writers queue on a lock before SQLite's.
    engine = create_db_engine(f"sqlite:///{tmp_path / 'crier.db'}")
    other_process = create_db_engine(f"sqlite:///{tmp_path / 'crier.db'}")
    try:
        with engine.connect() as holder, other_process.connect() as contender:
            sqlite_connection = contender.connection.driver_connection
            assert sqlite_connection is not None
            sqlite_connection.execute("PRAGMA busy_timeout = 200")
            with holder.begin():
                started = time.monotonic()
                with pytest.raises(OperationalError, match="database is locked"):
                    contender.begin()
                waited = time.monotonic() - started
            # Once the holder's transaction ends, the contender gets the lock.
            with contender.begin():
                assert contender.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
        other_process.dispose()
    assert 0.15 <= waited < 5, "the contender should wait out its busy timeout, then give up"


def test_reclaim_lost_reclaims_enqueued_deliveries_whose_lease_ran_out_under_a_new_number(
    services: Services,
) -> None:
    t0 = utcnow()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    lost = only_delivery_id(make_post(services, workspace, [channel], scheduled_at=t0 - timedelta(seconds=2)))
    publishing = only_delivery_id(
        make_post(services, workspace, [channel], scheduled_at=t0 - timedelta(seconds=1))
    )
    waiting = only_delivery_id(
        make_post(services, workspace, [channel], scheduled_at=t0 + timedelta(hours=1))
    )
    assert [c.delivery_id for c in claim(services, t0)] == [lost, publishing]
    with services.sessions.begin() as session:
        assert begin_attempt(session, publishing, 1, now=t0, lease=LEASE) is not None

    def reclaim(now: datetime) -> list[Claim]:
        with services.sessions.begin() as session:
            return reclaim_lost(session, now=now, batch_size=100, lease=LEASE)

    assert reclaim(t0 + LEASE / 2) == []
    assert reclaim(t0 + LEASE) == []  # the lease runs out after its last instant, not at it
    later = t0 + LEASE + timedelta(seconds=1)
    [reclaimed] = reclaim(later)

    assert (reclaimed.delivery_id, reclaimed.attempt) == (lost, 2)
    delivery = read_delivery(services, lost)
    assert (delivery.state, delivery.attempt) == (DeliveryState.ENQUEUED, 2)
    assert delivery.lease_expires_at == later + LEASE
    assert read_delivery(services, publishing).state is DeliveryState.PUBLISHING
    assert read_delivery(services, waiting).state is DeliveryState.SCHEDULED

    # The first message, should it still arrive, is stale; the new one starts the attempt.
    with services.sessions.begin() as session:
        assert begin_attempt(session, lost, 1, now=later, lease=LEASE) is None
    with services.sessions.begin() as session:
        job = begin_attempt(session, lost, 2, now=later, lease=LEASE)
    assert job is not None
    assert job.attempt == 2
    assert read_delivery(services, lost).state is DeliveryState.PUBLISHING


def test_expire_stalled_attempts_marks_only_publishing_deliveries_past_their_lease_unknown(
    services: Services,
) -> None:
    t0 = utcnow()
    publish_lease = timedelta(seconds=120)
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    stalled, in_flight, enqueued = (
        only_delivery_id(make_post(services, workspace, [channel], scheduled_at=t0 - timedelta(seconds=n)))
        for n in (3, 2, 1)
    )
    assert len(claim(services, t0)) == 3
    with services.sessions.begin() as session:
        assert begin_attempt(session, stalled, 1, now=t0, lease=publish_lease) is not None
    with services.sessions.begin() as session:
        assert begin_attempt(session, in_flight, 1, now=t0 + timedelta(seconds=100), lease=publish_lease)

    now = t0 + timedelta(seconds=150)
    with services.sessions.begin() as session:
        expired = expire_stalled_attempts(session, now=now)

    assert expired == 1
    delivery = read_delivery(services, stalled)
    assert delivery.state is DeliveryState.UNKNOWN
    assert delivery.last_error == "The publish attempt did not report back before its lease expired."
    [attempt] = delivery.attempts
    assert (attempt.number, attempt.finished_at, attempt.outcome) == (1, None, None)
    assert read_delivery(services, in_flight).state is DeliveryState.PUBLISHING
    # An enqueued delivery past its lease is reclaim_lost's to handle, not a stalled attempt.
    assert read_delivery(services, enqueued).state is DeliveryState.ENQUEUED
    with services.sessions.begin() as session:
        assert expire_stalled_attempts(session, now=now) == 0
