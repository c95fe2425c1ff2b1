"""The lateness limit: a delivery that could not go out near its time is marked missed, not sent late."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due, mark_missed
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.services import retry_delivery
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery

LOOKAHEAD = timedelta(seconds=1)
LEASE = timedelta(seconds=60)
MAX_LATENESS = timedelta(minutes=30)
MISSED_ERROR = "Not published: it could not go out within 30 minutes of its time."


def miss(services: Services, now: datetime) -> int:
    with services.sessions.begin() as session:
        return mark_missed(session, now=now, lookahead=LOOKAHEAD, max_lateness=MAX_LATENESS)


def claim(services: Services, now: datetime) -> list[Claim]:
    with services.sessions.begin() as session:
        return claim_due(session, now=now, lookahead=LOOKAHEAD, batch_size=100, lease=LEASE)


def tick(services: Services, now: datetime) -> list[Claim]:
    """What one scheduler tick does with waiting deliveries: miss the too-late ones, claim the rest."""
    with services.sessions.begin() as session:
        mark_missed(session, now=now, lookahead=LOOKAHEAD, max_lateness=MAX_LATENESS)
        return claim_due(session, now=now, lookahead=LOOKAHEAD, batch_size=100, lease=LEASE)


def set_columns(services: Services, delivery_id: uuid.UUID, **values: Any) -> None:
    with services.sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def set_channel_state(services: Services, channel: Channel, state: ChannelState) -> None:
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == channel.id).values(state=state))


def scheduled(services: Services, workspace: Workspace, channel: Channel, at: datetime) -> uuid.UUID:
    return only_delivery_id(make_post(services, workspace, [channel], scheduled_at=at))


def test_mark_missed_takes_only_waiting_deliveries_that_come_due_longer_than_the_limit_after_their_time(
    services: Services,
) -> None:
    # The scheduler's clock runs hours ahead of the wall clock: posts cannot be scheduled in the past.
    now = utcnow() + timedelta(hours=4)
    too_late = now - MAX_LATENESS - timedelta(microseconds=1)
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)

    def waiting(at: datetime) -> uuid.UUID:
        return scheduled(services, workspace, channel, at)

    an_hour_late = waiting(now - timedelta(hours=1))
    just_past_the_limit = waiting(too_late)
    at_the_limit = waiting(now - MAX_LATENESS)
    just_inside_the_limit = waiting(now - MAX_LATENESS + timedelta(seconds=1))
    retrying_too_late = waiting(too_late)
    set_columns(services, retrying_too_late, state=DeliveryState.RETRY_WAIT, failures=2, due_at=now)
    # Waiting out a backoff (or a rate limit) that ends beyond the lookahead: it is not due yet.
    backing_off = waiting(too_late)
    set_columns(services, backing_off, state=DeliveryState.RETRY_WAIT, due_at=now + LOOKAHEAD * 2)
    due_at_the_lookahead_edge = waiting(too_late)
    set_columns(services, due_at_the_lookahead_edge, due_at=now + LOOKAHEAD)
    not_waiting = {
        state: waiting(now - timedelta(hours=1))
        for state in (DeliveryState.ENQUEUED, DeliveryState.PUBLISHING, DeliveryState.PUBLISHED)
    }
    for state, delivery_id in not_waiting.items():
        set_columns(services, delivery_id, state=state)

    missed = miss(services, now)

    expected = {an_hour_late, just_past_the_limit, retrying_too_late, due_at_the_lookahead_edge}
    assert missed == len(expected)
    for delivery_id in expected:
        delivery = read_delivery(services, delivery_id)
        assert (delivery.state, delivery.last_error, delivery.updated_at) == (
            DeliveryState.MISSED,
            MISSED_ERROR,
            now,
        )
        assert delivery.attempts == []
    assert read_delivery(services, retrying_too_late).failures == 2
    for delivery_id in (at_the_limit, just_inside_the_limit):
        assert read_delivery(services, delivery_id).state is DeliveryState.SCHEDULED
    assert read_delivery(services, backing_off).state is DeliveryState.RETRY_WAIT
    for state, delivery_id in not_waiting.items():
        assert read_delivery(services, delivery_id).state is state
    assert miss(services, now) == 0
    # What is left inside the limit goes out; what was missed is never claimed.
    assert sorted(c.delivery_id for c in claim(services, now)) == sorted(
        [at_the_limit, just_inside_the_limit]
    )


def test_a_channel_reconnected_after_days_has_its_waiting_deliveries_missed_rather_than_sent_late(
    services: Services,
) -> None:
    t0 = utcnow()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace, "Reconnected")
    elsewhere = make_channel(services, workspace, "Healthy")
    stale = [scheduled(services, workspace, channel, t0 + timedelta(minutes=n)) for n in (1, 2)]
    after_reconnecting = scheduled(services, workspace, channel, t0 + timedelta(days=3, minutes=10))
    on_time_elsewhere = scheduled(services, workspace, elsewhere, t0 + timedelta(minutes=1))
    set_channel_state(services, channel, ChannelState.NEEDS_REAUTH)

    # While the credentials are revoked nothing of the channel is claimed, and the rest goes out on time.
    assert [c.delivery_id for c in tick(services, t0 + timedelta(minutes=1))] == [on_time_elsewhere]
    assert tick(services, t0 + timedelta(minutes=2)) == []
    # Three days later someone reconnects it.
    reconnected_at = t0 + timedelta(days=3)
    set_channel_state(services, channel, ChannelState.ACTIVE)

    assert tick(services, reconnected_at) == []

    for delivery_id in stale:
        delivery = read_delivery(services, delivery_id)
        assert (delivery.state, delivery.last_error, delivery.attempt) == (
            DeliveryState.MISSED,
            MISSED_ERROR,
            0,
        )
    assert read_delivery(services, after_reconnecting).state is DeliveryState.SCHEDULED
    later = reconnected_at + timedelta(minutes=10)
    assert [c.delivery_id for c in tick(services, later)] == [after_reconnecting]


def test_retrying_a_missed_delivery_makes_its_time_now_so_it_goes_out_and_is_not_missed_again(
    services: Services,
) -> None:
    now = utcnow() + timedelta(days=2)
    workspace, _ = make_workspace(services)
    delivery_id = scheduled(services, workspace, make_channel(services, workspace), utcnow())
    assert miss(services, now) == 1

    with services.sessions.begin() as session:
        retried = retry_delivery(session, workspace.id, delivery_id, now=now)

    assert retried.state is DeliveryState.SCHEDULED
    delivery = read_delivery(services, delivery_id)
    assert (delivery.state, delivery.scheduled_at, delivery.due_at, delivery.last_error) == (
        DeliveryState.SCHEDULED,
        now,
        now,
        None,
    )
    a_tick_later = now + timedelta(seconds=0.25)
    assert miss(services, a_tick_later) == 0
    [claimed] = claim(services, a_tick_later)
    assert (claimed.delivery_id, claimed.attempt, claimed.due_at) == (delivery_id, 1, now)
    assert read_delivery(services, delivery_id).state is DeliveryState.ENQUEUED


def test_a_retried_delivery_held_up_again_is_missed_again_measured_from_its_new_time(
    services: Services,
) -> None:
    now = utcnow() + timedelta(days=2)
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    delivery_id = scheduled(services, workspace, channel, utcnow())
    assert miss(services, now) == 1
    with services.sessions.begin() as session:
        retry_delivery(session, workspace.id, delivery_id, now=now)
    # Before it could go out, the channel needs reconnecting again, for longer than the limit.
    set_channel_state(services, channel, ChannelState.NEEDS_REAUTH)

    assert miss(services, now + MAX_LATENESS) == 0
    assert miss(services, now + MAX_LATENESS + timedelta(seconds=1)) == 1
    assert read_delivery(services, delivery_id).state is DeliveryState.MISSED
