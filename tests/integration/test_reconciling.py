"""Settling deliveries whose outcome is unknown: what the network's answer does, and that it is done once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.attempts import PublishJob, begin_attempt, finish_attempt
from shared.deliveries.claiming import Claim, claim_due, expire_stalled_attempts, reclaim_lost
from shared.deliveries.models import AttemptOutcome, Delivery, DeliveryState
from shared.deliveries.publishing import publish_delivery, reconcile_unknown
from shared.deliveries.reconciling import ReconcileJob, record_reconciliation, unknown_deliveries
from shared.deliveries.services import mark_published, republish_delivery
from shared.networks.ports import NetworkError, OutcomeUnknown, PublishedPost, Transient
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace, read_delivery
from tests.integration.fake_networks import sandbox_of, script, scripted_channel

LEASE = timedelta(seconds=60)
NOT_ON_THE_NETWORK = "The network has no such post: the uncertain attempt did not publish."


def claim(services: Services, now: datetime) -> list[Claim]:
    with services.sessions.begin() as session:
        return claim_due(session, now=now, lookahead=timedelta(0), batch_size=100, lease=LEASE)


def publish_uncertainly(services: Services, workspace: Workspace, channel: Channel) -> uuid.UUID:
    """Schedule a post on `channel`, whose network times out after sending, and publish it into unknown."""
    make_post(services, workspace, [channel])
    [claimed] = claim(services, utcnow())
    assert publish_delivery(services, claimed.delivery_id, claimed.attempt) is DeliveryState.UNKNOWN
    return claimed.delivery_id


def reconciliation_of(services: Services, delivery_id: uuid.UUID) -> ReconcileJob:
    """What a reconciler reads about the delivery before it asks the network."""
    with services.sessions.begin() as session:
        [job] = [job for job in unknown_deliveries(session, limit=100) if job.delivery_id == delivery_id]
    return job


def record(
    services: Services, job: ReconcileJob, found: PublishedPost | NetworkError | None, *, now: datetime
) -> DeliveryState | None:
    with services.sessions.begin() as session:
        return record_reconciliation(
            session,
            job,
            found,
            now=now,
            give_up_after=timedelta(seconds=services.settings.reconcile_give_up_seconds),
            max_attempts=services.settings.max_publish_attempts,
        )


def assert_left_alone_by_every_sweep(
    services: Services, delivery_id: uuid.UUID, state: DeliveryState
) -> None:
    """No scheduler sweep or reconciliation, however late, moves the delivery on by itself."""
    much_later = utcnow() + timedelta(days=1)
    with services.sessions.begin() as session:
        assert claim_due(session, now=much_later, lookahead=timedelta(0), batch_size=100, lease=LEASE) == []
        assert reclaim_lost(session, now=much_later, batch_size=100, lease=LEASE) == []
        assert expire_stalled_attempts(session, now=much_later) == 0
    assert reconcile_unknown(services) == {}
    assert read_delivery(services, delivery_id).state is state


def on_the_network_at(services: Services, delivery_id: uuid.UUID) -> datetime:
    """When the sandbox says it made the delivery's post."""
    row = sandbox_of(services).store.find_by_key(str(delivery_id))
    assert row is not None
    created_at: datetime = row["created_at"]
    return created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)


def test_an_uncertain_post_found_on_the_network_is_published_at_the_networks_own_time_of_it(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace, "Town hall", stored_then_timeout_rate=1.0)
    delivery_id = publish_uncertainly(services, workspace, channel)
    assert read_delivery(services, delivery_id).last_error == (
        "sandbox: read timed out after the post was stored (injected)"
    )

    settled = reconcile_unknown(services)

    assert settled == {delivery_id: DeliveryState.PUBLISHED}
    on_the_network = sandbox_of(services).store.find_by_key(str(delivery_id))
    assert on_the_network is not None
    delivery = read_delivery(services, delivery_id)
    assert delivery.state is DeliveryState.PUBLISHED
    assert delivery.external_id == on_the_network["id"]
    assert delivery.external_url == f"https://sandbox.invalid/@town_hall/{on_the_network['id']}"
    [attempt] = delivery.attempts
    # It went out when the network says it made it: not when someone thought to check, nor when the
    # attempt began (up to a second before the post's time: the worker holds the call until then).
    assert delivery.published_at == on_the_network_at(services, delivery_id)
    assert attempt.started_at <= delivery.published_at
    assert (delivery.last_error, delivery.failures, delivery.lease_expires_at) == (None, 0, None)
    assert attempt.outcome is AttemptOutcome.UNKNOWN
    assert sandbox_of(services).store.count_by_key() == {str(delivery_id): 1}
    assert_left_alone_by_every_sweep(services, delivery_id, DeliveryState.PUBLISHED)


def test_an_uncertain_post_the_network_does_not_have_is_retried_like_a_transient_failure(
    scripted: Services,
) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown", find="absent")
    delivery_id = publish_uncertainly(scripted, workspace, channel)

    before = utcnow()
    settled = reconcile_unknown(scripted)
    after = utcnow()

    assert settled == {delivery_id: DeliveryState.RETRY_WAIT}
    delivery = read_delivery(scripted, delivery_id)
    assert (delivery.failures, delivery.last_error) == (1, NOT_ON_THE_NETWORK)
    # The first retry waits 5 s, jittered by ±50 %.
    assert before + timedelta(seconds=2.5) <= delivery.due_at <= after + timedelta(seconds=7.5)
    assert (delivery.external_id, delivery.published_at) == (None, None)
    assert claim(scripted, delivery.due_at - timedelta(microseconds=1)) == []

    script(scripted, channel, publish="published")
    [retry] = claim(scripted, delivery.due_at)
    assert (retry.delivery_id, retry.attempt) == (delivery_id, 2)
    assert publish_delivery(scripted, retry.delivery_id, retry.attempt) is DeliveryState.PUBLISHED
    published = read_delivery(scripted, delivery_id)
    assert (published.external_id, published.last_error, published.failures) == (
        f"scripted-{delivery_id}",
        None,
        1,
    )
    assert [a.outcome for a in published.attempts] == [AttemptOutcome.UNKNOWN, AttemptOutcome.PUBLISHED]


def test_an_uncertain_post_not_on_the_network_fails_for_good_when_its_attempts_are_spent(
    scripted: Services,
) -> None:
    max_attempts = scripted.settings.max_publish_attempts
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown", find="absent")
    make_post(scripted, workspace, [channel])
    # It has failed every attempt but this last one, which timed out after sending.
    with scripted.sessions.begin() as session:
        session.execute(update(Delivery).values(failures=max_attempts - 1))
    [claimed] = claim(scripted, utcnow())
    assert publish_delivery(scripted, claimed.delivery_id, claimed.attempt) is DeliveryState.UNKNOWN

    assert reconcile_unknown(scripted) == {claimed.delivery_id: DeliveryState.FAILED}

    delivery = read_delivery(scripted, claimed.delivery_id)
    assert delivery.failures == max_attempts
    assert delivery.last_error == f"Gave up after {max_attempts} attempts. Last error: {NOT_ON_THE_NETWORK}"
    assert_left_alone_by_every_sweep(scripted, claimed.delivery_id, DeliveryState.FAILED)


@pytest.mark.parametrize("answer", ["transient", "crash"], ids=["lookup fails", "adapter bug"])
def test_a_delivery_the_network_cannot_be_asked_about_stays_unknown(scripted: Services, answer: str) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(
        scripted, workspace, publish="outcome_unknown", find=answer, find_message="502 Bad Gateway"
    )
    delivery_id = publish_uncertainly(scripted, workspace, channel)
    uncertain = read_delivery(scripted, delivery_id)

    assert reconcile_unknown(scripted) == {delivery_id: None}
    assert reconcile_unknown(scripted) == {delivery_id: None}

    delivery = read_delivery(scripted, delivery_id)
    assert delivery.state is DeliveryState.UNKNOWN
    # Untouched, so the time it became uncertain still counts towards giving up.
    assert (delivery.updated_at, delivery.last_error, delivery.failures, delivery.due_at) == (
        uncertain.updated_at,
        uncertain.last_error,
        0,
        uncertain.due_at,
    )
    assert [a.outcome for a in delivery.attempts] == [AttemptOutcome.UNKNOWN]


def test_a_delivery_the_network_could_not_be_asked_about_for_too_long_goes_to_a_person(
    scripted: Services,
) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(
        scripted,
        workspace,
        publish="outcome_unknown",
        find="transient",
        find_message="503 Service Unavailable from the search endpoint",
    )
    delivery_id = publish_uncertainly(scripted, workspace, channel)
    job = reconciliation_of(scripted, delivery_id)
    with pytest.raises(Transient) as answer:
        scripted.networks.get("scripted").find_published(job.account, job.idempotency_key)
    give_up_after = timedelta(seconds=scripted.settings.reconcile_give_up_seconds)

    assert record(scripted, job, answer.value, now=job.uncertain_since + give_up_after) is None
    assert read_delivery(scripted, delivery_id).state is DeliveryState.UNKNOWN
    later = job.uncertain_since + give_up_after + timedelta(microseconds=1)
    assert record(scripted, job, answer.value, now=later) is DeliveryState.NEEDS_REVIEW

    delivery = read_delivery(scripted, delivery_id)
    assert delivery.last_error == (
        "Could not ask the network whether the post exists: 503 Service Unavailable from the search endpoint"
    )
    assert (delivery.updated_at, delivery.failures, delivery.published_at) == (later, 0, None)
    assert_left_alone_by_every_sweep(scripted, delivery_id, DeliveryState.NEEDS_REVIEW)


def test_an_uncertain_delivery_on_a_network_that_cannot_look_posts_up_goes_to_a_person_at_once(
    scripted: Services,
) -> None:
    workspace, _ = make_workspace(scripted)
    # The unverifiable network fails the test if it is ever asked to find a post.
    channel = scripted_channel(
        scripted, workspace, network="scripted_unverifiable", publish="outcome_unknown"
    )
    delivery_id = publish_uncertainly(scripted, workspace, channel)

    assert reconcile_unknown(scripted) == {delivery_id: DeliveryState.NEEDS_REVIEW}

    delivery = read_delivery(scripted, delivery_id)
    assert delivery.last_error == (
        "Scripted, unverifiable (tests) offers no way to check whether the uncertain attempt published the "
        "post. Look on the network; then mark it published, or republish."
    )
    assert (delivery.failures, delivery.external_id, delivery.published_at) == (0, None, None)
    assert [a.number for a in delivery.attempts] == [1]
    assert_left_alone_by_every_sweep(scripted, delivery_id, DeliveryState.NEEDS_REVIEW)


def late_success(services: Services, workspace: Workspace, job: PublishJob) -> None:
    with services.sessions.begin() as session:
        post = PublishedPost(external_id="late-1", url="https://scripted.invalid/late-1")
        finish_attempt(session, job, post, now=utcnow(), max_attempts=services.settings.max_publish_attempts)


def marked_published_by_a_person(services: Services, workspace: Workspace, job: PublishJob) -> None:
    with services.sessions.begin() as session:
        mark_published(
            session,
            workspace.id,
            job.delivery_id,
            url="https://scripted.invalid/found-by-hand",
            external_id=None,
            now=utcnow(),
        )


def republished_by_a_person(services: Services, workspace: Workspace, job: PublishJob) -> None:
    with services.sessions.begin() as session:
        republish_delivery(session, workspace.id, job.delivery_id, now=utcnow())


def republished_and_uncertain_again(services: Services, workspace: Workspace, job: PublishJob) -> None:
    # Unknown once more, but under the next claim number: the state alone would not tell them apart.
    republished_by_a_person(services, workspace, job)
    [again] = claim(services, utcnow())
    assert publish_delivery(services, again.delivery_id, again.attempt) is DeliveryState.UNKNOWN


@pytest.mark.parametrize(
    "move_on",
    [late_success, marked_published_by_a_person, republished_by_a_person, republished_and_uncertain_again],
    ids=lambda move_on: move_on.__name__.replace("_", " "),
)
def test_a_reconciliation_changes_nothing_once_the_delivery_has_moved_on_since_it_was_read(
    scripted: Services, move_on: Callable[[Services, Workspace, PublishJob], None]
) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(scripted, workspace, [scripted_channel(scripted, workspace, publish="outcome_unknown")])
    [claimed] = claim(scripted, utcnow())
    with scripted.sessions.begin() as session:
        job = begin_attempt(session, claimed.delivery_id, claimed.attempt, now=utcnow(), lease=LEASE)
        assert job is not None
        assert finish_attempt(session, job, OutcomeUnknown("read timed out"), now=utcnow(), max_attempts=5)
    read_before = reconciliation_of(scripted, claimed.delivery_id)
    move_on(scripted, workspace, job)
    moved = read_delivery(scripted, claimed.delivery_id)

    # The network says the post is not there: the reconciler would retry it, were it still the same unknown.
    assert record(scripted, read_before, None, now=utcnow()) is None

    after = read_delivery(scripted, claimed.delivery_id)
    columns = ("state", "attempt", "failures", "due_at", "external_id", "external_url", "published_at")
    columns += ("last_error", "updated_at")
    assert {c: getattr(after, c) for c in columns} == {c: getattr(moved, c) for c in columns}


def test_the_same_reconciliation_recorded_twice_settles_the_delivery_once(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown", find="absent")
    delivery_id = publish_uncertainly(scripted, workspace, channel)
    job = reconciliation_of(scripted, delivery_id)
    now = utcnow()

    first = record(scripted, job, None, now=now)
    settled = read_delivery(scripted, delivery_id)
    second = record(scripted, job, None, now=now + timedelta(seconds=1))

    assert (first, second) == (DeliveryState.RETRY_WAIT, None)
    delivery = read_delivery(scripted, delivery_id)
    assert (delivery.failures, delivery.due_at, delivery.updated_at) == (1, settled.due_at, now)


def test_reconcilers_racing_over_one_uncertain_delivery_settle_it_once(services: Services) -> None:
    workspace, _ = make_workspace(services)
    delivery_id = publish_uncertainly(
        services, workspace, make_channel(services, workspace, stored_then_timeout_rate=1.0)
    )
    reconcilers = 4
    start = threading.Barrier(reconcilers)

    def reconcile() -> dict[uuid.UUID, DeliveryState | None]:
        start.wait()
        return reconcile_unknown(services)

    with ThreadPoolExecutor(reconcilers) as pool:
        answers = [
            future.result(timeout=60) for future in [pool.submit(reconcile) for _ in range(reconcilers)]
        ]

    # A reconciler that read the delivery after it was settled did not see it at all.
    settled = [answer[delivery_id] for answer in answers if delivery_id in answer]
    assert [state for state in settled if state is not None] == [DeliveryState.PUBLISHED]
    delivery = read_delivery(services, delivery_id)
    assert delivery.state is DeliveryState.PUBLISHED
    assert delivery.published_at == on_the_network_at(services, delivery_id)
    assert sandbox_of(services).store.count_by_key() == {str(delivery_id): 1}
