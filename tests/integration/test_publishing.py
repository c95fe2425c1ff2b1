"""Publishing a claimed delivery: what each answer from a network does to it, and that it is sent once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of
from shared.db import utcnow
from shared.deliveries.attempts import begin_attempt, finish_attempt
from shared.deliveries.claiming import Claim, claim_due, expire_stalled_attempts, reclaim_lost
from shared.deliveries.models import AttemptOutcome, DeliveryState
from shared.deliveries.publishing import publish_delivery
from shared.networks.sandbox.adapter import SandboxNetwork
from tests.factories import make_channel, make_post, make_workspace, read_delivery
from tests.integration.fake_networks import scripted_channel

LEASE = timedelta(seconds=60)
FAR_FUTURE = timedelta(days=1)


def script(services: Services, channel: Channel, **answers: Any) -> None:
    """Change how the scripted network will answer this channel's next call."""
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == channel.id).values(settings=answers))


def claim_one(services: Services, now: datetime | None = None) -> Claim:
    """Claim the single oldest due delivery; by default whatever is due within a day."""
    with services.sessions.begin() as session:
        [claim] = claim_due(
            session, now=now or utcnow() + FAR_FUTURE, lookahead=timedelta(0), batch_size=1, lease=LEASE
        )
    return claim


def claim_and_publish(services: Services) -> tuple[Claim, DeliveryState | None]:
    claim = claim_one(services)
    return claim, publish_delivery(services, claim.delivery_id, claim.attempt)


def read_channel(services: Services, channel_id: uuid.UUID) -> Channel:
    with services.sessions() as session:
        return session.get_one(Channel, channel_id)


def sandbox_of(services: Services) -> SandboxNetwork:
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    return network


def assert_never_retried(services: Services, delivery_id: uuid.UUID, state: DeliveryState) -> None:
    """No scheduler sweep, however late, picks the delivery up again."""
    much_later = utcnow() + FAR_FUTURE
    with services.sessions.begin() as session:
        assert claim_due(session, now=much_later, lookahead=timedelta(0), batch_size=100, lease=LEASE) == []
        assert reclaim_lost(session, now=much_later, batch_size=100, lease=LEASE) == []
        assert expire_stalled_attempts(session, now=much_later) == 0
    assert read_delivery(services, delivery_id).state is state


def test_a_published_delivery_records_where_the_network_put_it(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace, "Town hall")
    post = make_post(services, workspace, [channel], text="Doors open at six.")
    claim = claim_one(services, utcnow())

    before = utcnow()
    state = publish_delivery(services, claim.delivery_id, claim.attempt)
    after = utcnow()

    assert state is DeliveryState.PUBLISHED
    sandbox = sandbox_of(services)
    on_the_network = sandbox.find_published(account_of(channel), str(claim.delivery_id))
    assert on_the_network is not None
    stored = sandbox.store.get_many([on_the_network.external_id])[on_the_network.external_id]
    assert (stored["handle"], stored["text"]) == ("town_hall", post.text)
    delivery = read_delivery(services, claim.delivery_id)
    assert delivery.state is DeliveryState.PUBLISHED
    assert delivery.external_id == on_the_network.external_id
    assert delivery.external_url == f"https://sandbox.invalid/@town_hall/{on_the_network.external_id}"
    assert delivery.published_at is not None
    assert before <= delivery.published_at <= after
    assert (delivery.last_error, delivery.lease_expires_at) == (None, None)
    [attempt] = delivery.attempts
    assert (attempt.number, attempt.outcome, attempt.error) == (1, AttemptOutcome.PUBLISHED, None)
    assert attempt.finished_at is not None
    assert before <= attempt.started_at <= attempt.finished_at <= after


def test_the_same_message_processed_twice_publishes_once(services: Services) -> None:
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    claim = claim_one(services)

    first = publish_delivery(services, claim.delivery_id, claim.attempt)
    second = publish_delivery(services, claim.delivery_id, claim.attempt)

    assert (first, second) == (DeliveryState.PUBLISHED, None)
    assert sandbox_of(services).store.count_by_key() == {str(claim.delivery_id): 1}
    assert len(read_delivery(services, claim.delivery_id).attempts) == 1


def test_the_same_message_handed_to_two_workers_at_once_publishes_once(services: Services) -> None:
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    claim = claim_one(services)
    start = threading.Barrier(2)

    def worker() -> DeliveryState | None:
        start.wait()
        return publish_delivery(services, claim.delivery_id, claim.attempt)

    with ThreadPoolExecutor(2) as pool:
        results = [future.result(timeout=30) for future in [pool.submit(worker) for _ in range(2)]]

    assert sorted(results, key=str) == [None, DeliveryState.PUBLISHED]
    assert sandbox_of(services).store.count_by_key() == {str(claim.delivery_id): 1}


def test_a_message_for_an_earlier_claim_is_dropped(services: Services) -> None:
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    now = utcnow()
    first = claim_one(services, now)
    with services.sessions.begin() as session:
        [second] = reclaim_lost(session, now=now + LEASE * 2, batch_size=10, lease=LEASE)
    assert (second.delivery_id, second.attempt) == (first.delivery_id, 2)

    assert publish_delivery(services, first.delivery_id, first.attempt) is None
    delivery = read_delivery(services, first.delivery_id)
    assert (delivery.state, delivery.attempts) == (DeliveryState.ENQUEUED, [])
    assert sandbox_of(services).store.count_by_key() == {}

    assert publish_delivery(services, second.delivery_id, second.attempt) is DeliveryState.PUBLISHED
    assert publish_delivery(services, first.delivery_id, first.attempt) is None
    assert sandbox_of(services).store.count_by_key() == {str(first.delivery_id): 1}


def test_a_transient_failure_schedules_a_retry_after_a_backoff(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    channel = make_channel(
        scripted,
        workspace,
        "Scripted",
        network="scripted",
        publish="transient",
        message="503 Service Unavailable",
    )
    make_post(scripted, workspace, [channel])
    claim = claim_one(scripted)

    before = utcnow()
    state = publish_delivery(scripted, claim.delivery_id, claim.attempt)
    after = utcnow()

    assert state is DeliveryState.RETRY_WAIT
    delivery = read_delivery(scripted, claim.delivery_id)
    assert delivery.last_error == "503 Service Unavailable"
    assert delivery.failures == 1
    # The first retry waits 5 s, jittered by ±50 %.
    assert before + timedelta(seconds=2.5) <= delivery.due_at <= after + timedelta(seconds=7.5)
    [attempt] = delivery.attempts
    assert (attempt.outcome, attempt.error) == (AttemptOutcome.TRANSIENT, "503 Service Unavailable")
    retry = claim_one(scripted)
    assert (retry.delivery_id, retry.attempt) == (claim.delivery_id, 2)


def test_transient_failures_fail_the_delivery_after_max_publish_attempts(scripted: Services) -> None:
    max_attempts = scripted.settings.max_publish_attempts
    workspace, _ = make_workspace(scripted)
    channel = make_channel(
        scripted,
        workspace,
        "Scripted",
        network="scripted",
        publish="transient",
        message="503 Service Unavailable",
    )
    make_post(scripted, workspace, [channel])

    outcomes = [claim_and_publish(scripted) for _ in range(max_attempts)]

    states = [state for _, state in outcomes]
    assert states == [DeliveryState.RETRY_WAIT] * (max_attempts - 1) + [DeliveryState.FAILED]
    delivery_id = outcomes[0][0].delivery_id
    delivery = read_delivery(scripted, delivery_id)
    assert (
        delivery.last_error == f"Gave up after {max_attempts} attempts. Last error: 503 Service Unavailable"
    )
    assert [(a.number, a.outcome) for a in delivery.attempts] == [
        (n, AttemptOutcome.TRANSIENT) for n in range(1, max_attempts + 1)
    ]
    assert_never_retried(scripted, delivery_id, DeliveryState.FAILED)


def test_a_rate_limit_schedules_the_delivery_at_the_networks_reset_time(scripted: Services) -> None:
    reset_at = utcnow() + timedelta(minutes=17)
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(
        scripted,
        workspace,
        publish="rate_limited",
        message="429 Too Many Requests",
        reset_at=reset_at.isoformat(),
    )
    make_post(scripted, workspace, [channel])

    claim, state = claim_and_publish(scripted)

    assert state is DeliveryState.SCHEDULED
    delivery = read_delivery(scripted, claim.delivery_id)
    assert delivery.due_at == reset_at
    assert delivery.last_error == "429 Too Many Requests"
    assert [a.outcome for a in delivery.attempts] == [AttemptOutcome.RATE_LIMITED]


def test_a_rate_limit_without_a_reset_time_waits_a_minute(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(
        scripted,
        workspace,
        [scripted_channel(scripted, workspace, publish="rate_limited")],
    )

    before = utcnow()
    claim, state = claim_and_publish(scripted)
    after = utcnow()

    assert state is DeliveryState.SCHEDULED
    due_at = read_delivery(scripted, claim.delivery_id).due_at
    assert before + timedelta(minutes=1) <= due_at <= after + timedelta(minutes=1)


def test_rate_limits_do_not_use_up_publish_attempts(scripted: Services) -> None:
    max_attempts = scripted.settings.max_publish_attempts
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="rate_limited")
    make_post(scripted, workspace, [channel])

    rate_limited = [claim_and_publish(scripted) for _ in range(max_attempts + 2)]
    script(scripted, channel, publish="transient", message="502 Bad Gateway")
    transient = [claim_and_publish(scripted) for _ in range(max_attempts)]

    assert [state for _, state in rate_limited] == [DeliveryState.SCHEDULED] * (max_attempts + 2)
    assert [state for _, state in transient] == [DeliveryState.RETRY_WAIT] * (max_attempts - 1) + [
        DeliveryState.FAILED
    ]
    delivery_id = rate_limited[0][0].delivery_id
    delivery = read_delivery(scripted, delivery_id)
    assert delivery.last_error == f"Gave up after {max_attempts} attempts. Last error: 502 Bad Gateway"
    assert [a.outcome for a in delivery.attempts] == [AttemptOutcome.RATE_LIMITED] * (max_attempts + 2) + [
        AttemptOutcome.TRANSIENT
    ] * max_attempts


def test_a_rejection_fails_the_delivery_at_once_and_keeps_the_networks_reason(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    reason = "422 Unprocessable Entity: the text contains a link the network does not allow"
    make_post(
        scripted,
        workspace,
        [
            make_channel(
                scripted, workspace, "Scripted", network="scripted", publish="rejected", message=reason
            )
        ],
    )

    claim, state = claim_and_publish(scripted)

    assert state is DeliveryState.FAILED
    delivery = read_delivery(scripted, claim.delivery_id)
    assert delivery.last_error == reason
    assert [(a.outcome, a.error) for a in delivery.attempts] == [(AttemptOutcome.REJECTED, reason)]
    assert_never_retried(scripted, claim.delivery_id, DeliveryState.FAILED)


def test_expired_credentials_hold_the_channels_deliveries_until_it_is_reconnected(
    scripted: Services,
) -> None:
    now = utcnow()
    workspace, _ = make_workspace(scripted)
    expired = scripted_channel(
        scripted, workspace, publish="auth_expired", message="401 The token was revoked."
    )
    healthy = make_channel(scripted, workspace)
    first = make_post(scripted, workspace, [expired], scheduled_at=now + timedelta(minutes=1))
    waiting = make_post(scripted, workspace, [expired], scheduled_at=now + timedelta(minutes=2))
    elsewhere = make_post(scripted, workspace, [healthy], scheduled_at=now + timedelta(minutes=2))

    claim, state = claim_and_publish(scripted)

    assert claim.delivery_id == first.deliveries[0].id
    assert state is DeliveryState.SCHEDULED
    delivery = read_delivery(scripted, claim.delivery_id)
    assert delivery.last_error == "401 The token was revoked. Waiting for the channel to be reconnected."
    assert delivery.due_at == first.scheduled_at
    assert delivery.failures == 0
    assert [a.outcome for a in delivery.attempts] == [AttemptOutcome.AUTH_EXPIRED]
    assert read_channel(scripted, expired.id).state is ChannelState.NEEDS_REAUTH
    assert read_channel(scripted, healthy.id).state is ChannelState.ACTIVE
    later = now + timedelta(minutes=3)
    with scripted.sessions.begin() as session:
        claims = claim_due(session, now=later, lookahead=timedelta(0), batch_size=100, lease=LEASE)
    assert [c.delivery_id for c in claims] == [elsewhere.deliveries[0].id]
    assert read_delivery(scripted, waiting.deliveries[0].id).state is DeliveryState.SCHEDULED

    with scripted.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == expired.id).values(state=ChannelState.ACTIVE))
        resumed = claim_due(session, now=later, lookahead=timedelta(0), batch_size=100, lease=LEASE)
    assert [c.delivery_id for c in resumed] == [first.deliveries[0].id, waiting.deliveries[0].id]


@pytest.mark.parametrize(
    ("answer", "message", "last_error"),
    [
        ("outcome_unknown", "read timed out after sending", "read timed out after sending"),
        (
            "crash",
            "'NoneType' object is not subscriptable",
            "RuntimeError: 'NoneType' object is not subscriptable",
        ),
    ],
    ids=["outcome unknown", "adapter bug"],
)
def test_an_answer_that_may_hide_a_post_leaves_the_delivery_unknown_and_never_retries_it(
    scripted: Services, answer: str, message: str, last_error: str
) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(
        scripted,
        workspace,
        [scripted_channel(scripted, workspace, publish=answer, message=message)],
    )

    claim, state = claim_and_publish(scripted)

    assert state is DeliveryState.UNKNOWN
    delivery = read_delivery(scripted, claim.delivery_id)
    assert delivery.last_error == last_error
    assert [(a.outcome, a.error) for a in delivery.attempts] == [(AttemptOutcome.UNKNOWN, last_error)]
    assert_never_retried(scripted, claim.delivery_id, DeliveryState.UNKNOWN)


def test_a_worker_without_the_channels_network_leaves_the_delivery_for_a_retry(
    services: Services, scripted: Services
) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(scripted, workspace, [scripted_channel(scripted, workspace)])

    claim, state = claim_and_publish(services)  # this worker has only the sandbox installed

    assert state is DeliveryState.RETRY_WAIT
    delivery = read_delivery(services, claim.delivery_id)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("No network named 'scripted' is installed.")
    assert [a.outcome for a in delivery.attempts] == [AttemptOutcome.TRANSIENT]
    retry, state = claim_and_publish(scripted)
    assert (retry.delivery_id, retry.attempt, state) == (claim.delivery_id, 2, DeliveryState.PUBLISHED)


def test_a_success_reported_after_the_attempt_was_marked_unknown_is_recorded_as_published(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    make_post(services, workspace, [channel])
    t0 = utcnow()
    claim = claim_one(services, t0)
    publish_lease = timedelta(seconds=services.settings.publish_lease_seconds)
    with services.sessions.begin() as session:
        job = begin_attempt(session, claim.delivery_id, claim.attempt, now=t0, lease=publish_lease)
    assert job is not None
    # The network is slow; the scheduler's sweep gives up on the attempt while the call is in flight.
    with services.sessions.begin() as session:
        assert expire_stalled_attempts(session, now=t0 + publish_lease + timedelta(seconds=1)) == 1
    assert read_delivery(services, claim.delivery_id).state is DeliveryState.UNKNOWN

    published = sandbox_of(services).publish(job.account, job.draft, job.idempotency_key)
    with services.sessions.begin() as session:
        state = finish_attempt(
            session,
            job,
            published,
            now=t0 + publish_lease + timedelta(seconds=2),
            max_attempts=services.settings.max_publish_attempts,
        )

    assert state is DeliveryState.PUBLISHED
    delivery = read_delivery(services, claim.delivery_id)
    assert (delivery.state, delivery.external_id, delivery.last_error) == (
        DeliveryState.PUBLISHED,
        published.external_id,
        None,
    )
    assert [a.outcome for a in delivery.attempts] == [AttemptOutcome.PUBLISHED]


def test_a_worker_killed_between_the_attempt_commit_and_the_network_call_leaves_the_delivery_unknown(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    make_post(services, workspace, [channel])
    t0 = utcnow()
    claim = claim_one(services, t0)
    publish_lease = timedelta(seconds=services.settings.publish_lease_seconds)
    with services.sessions.begin() as session:
        assert begin_attempt(session, claim.delivery_id, claim.attempt, now=t0, lease=publish_lease)
    # The worker dies here: the attempt is committed, the network is never called.

    with services.sessions.begin() as session:
        assert expire_stalled_attempts(session, now=t0 + publish_lease + timedelta(seconds=1)) == 1

    delivery = read_delivery(services, claim.delivery_id)
    assert delivery.state is DeliveryState.UNKNOWN
    [attempt] = delivery.attempts
    assert (attempt.number, attempt.outcome, attempt.finished_at) == (1, None, None)
    sandbox = sandbox_of(services)
    assert sandbox.store.count_by_key() == {}
    assert sandbox.find_published(account_of(channel), str(claim.delivery_id)) is None
    assert_never_retried(services, claim.delivery_id, DeliveryState.UNKNOWN)


def test_a_timeout_after_the_network_stored_the_post_leaves_it_unknown_and_findable(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace, stored_then_timeout_rate=1.0)
    make_post(services, workspace, [channel])

    claim, state = claim_and_publish(services)

    assert state is DeliveryState.UNKNOWN
    delivery = read_delivery(services, claim.delivery_id)
    assert delivery.last_error == "sandbox: read timed out after the post was stored (injected)"
    assert delivery.external_id is None
    sandbox = sandbox_of(services)
    assert sandbox.find_published(account_of(channel), str(claim.delivery_id)) is not None
    assert sandbox.store.count_by_key() == {str(claim.delivery_id): 1}
