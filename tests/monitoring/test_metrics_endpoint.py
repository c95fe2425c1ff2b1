"""GET /metrics: what happened, counted where it happened, and the queue as the database holds it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import sessionmaker

from services.api.app import create_app
from services.scheduler.dispatcher import Dispatcher
from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.db import utcnow
from shared.deliveries.attempts import begin_attempt
from shared.deliveries.claiming import claim_due
from shared.deliveries.models import AttemptOutcome, Delivery, PublishAttempt
from shared.deliveries.publishing import reconcile_unknown
from shared.metrics.collecting import collect_metrics
from tests.driving import claim_what_is_due, publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace
from tests.integration.fake_networks import scripted_channel
from tests.monitoring.conftest import Scrape

OUTCOMES = [outcome.value for outcome in AttemptOutcome]
NOTHING_LISTENS_HERE = "127.0.0.1:9"


def attempts_by_outcome(services: Services) -> dict[str, int]:
    with services.sessions() as session:
        rows = session.execute(select(PublishAttempt.outcome, func.count()).group_by(PublishAttempt.outcome))
        return {outcome.value: count for outcome, count in rows if outcome is not None}


def test_published_deliveries_are_counted_per_network_with_how_late_each_went_out(
    scripted: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(scripted)
    channels = [make_channel(scripted, workspace), scripted_channel(scripted, workspace)]
    make_post(scripted, workspace, channels)

    publish_what_is_due(scripted)
    scrape = Scrape.of(client)

    with scripted.sessions() as session:
        lateness = {
            network: (published_at - scheduled_at).total_seconds()
            for network, published_at, scheduled_at in session.execute(
                select(Channel.network, Delivery.published_at, Delivery.scheduled_at).join(Delivery.channel)
            )
        }
    assert set(lateness) == {"sandbox", "scripted"}
    for network, seconds in lateness.items():
        for outcome in OUTCOMES:
            expected = 1 if outcome == "published" else 0
            assert scrape.value("crier_publish_attempts_total", network=network, outcome=outcome) == expected
        assert scrape.value("crier_scheduling_lag_seconds_count", network=network) == 1
        assert scrape.value("crier_scheduling_lag_seconds_sum", network=network) == pytest.approx(seconds)
        assert scrape.value("crier_scheduling_lag_seconds_bucket", network=network, le="+Inf") == 1
        assert scrape.value("crier_scheduling_lag_seconds_bucket", network=network, le="3600.0") == 1


def test_every_outcome_is_counted_as_the_attempts_table_records_it(
    scripted: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(scripted)
    answers = [
        "published",
        "rejected",
        "transient",
        "rate_limited",
        "auth_expired",
        "outcome_unknown",
        "crash",
    ]
    channels = [scripted_channel(scripted, workspace, answer, publish=answer) for answer in answers]
    make_post(scripted, workspace, channels)

    publish_what_is_due(scripted)
    scrape = Scrape.of(client)

    recorded = attempts_by_outcome(scripted)
    assert recorded == {
        "published": 1,
        "rejected": 1,
        "transient": 1,
        "rate_limited": 1,
        "auth_expired": 1,
        "unknown": 2,  # a timeout after sending, and an adapter's bug: either may have posted
    }
    for outcome in OUTCOMES:
        assert (
            scrape.value("crier_publish_attempts_total", network="scripted", outcome=outcome)
            == recorded[outcome]
        )
    # Only the delivery that went out has a lateness.
    assert scrape.value("crier_scheduling_lag_seconds_count", network="scripted") == 1


def test_counters_never_go_down_as_more_is_published(scripted: Services, client: FlaskClient) -> None:
    workspace, _ = make_workspace(scripted)
    good = make_channel(scripted, workspace)
    failing = scripted_channel(scripted, workspace, publish="transient")
    make_post(scripted, workspace, [good, failing], text="First")
    publish_what_is_due(scripted)
    before = Scrape.of(client)

    make_post(scripted, workspace, [good], text="Second")
    publish_what_is_due(scripted)
    after = Scrape.of(client)

    assert before.counted()
    for key, value in before.counted().items():
        assert after.counted()[key] >= value, key
    assert after.value("crier_publish_attempts_total", network="sandbox", outcome="published") == 2
    assert after.value("crier_publish_attempts_total", network="scripted", outcome="transient") == 1


def test_queue_depth_counts_the_deliveries_not_yet_out_by_state(
    scripted: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(scripted)
    sandbox = make_channel(scripted, workspace)
    uncertain = scripted_channel(scripted, workspace, "Uncertain", publish="outcome_unknown")
    flaky = scripted_channel(scripted, workspace, "Flaky", publish="transient")
    make_post(scripted, workspace, [sandbox], text="Tomorrow", scheduled_at=utcnow() + timedelta(days=1))
    make_post(scripted, workspace, [uncertain, flaky], text="Now")
    publish_what_is_due(scripted)  # one unknown, one retry_wait
    make_post(scripted, workspace, [sandbox], text="Claimed")
    claim_what_is_due(scripted)

    scrape = Scrape.of(client)

    assert {
        state: scrape.value("crier_queue_depth", state=state)
        for state in ("scheduled", "retry_wait", "enqueued", "publishing", "unknown", "needs_review")
    } == {"scheduled": 1, "retry_wait": 1, "enqueued": 1, "publishing": 0, "unknown": 1, "needs_review": 0}
    # Published deliveries are history, not queue.
    assert scrape.value("crier_queue_depth", state="published") is None


def test_overdue_counts_due_deliveries_no_scheduler_claimed_and_how_long_the_oldest_has_waited(
    services: Services,
) -> None:
    client = create_app(services=services).test_client()
    workspace, _ = make_workspace(services)
    active = make_channel(services, workspace, "Active")
    paused = make_channel(services, workspace, "Paused")
    make_post(services, workspace, [active, paused])
    make_post(services, workspace, [active], text="Later", scheduled_at=utcnow() + timedelta(hours=1))
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == paused.id).values(state=ChannelState.PAUSED))
        # As if the scheduler had been down for a minute and a half.
        session.execute(
            update(Delivery)
            .where(Delivery.due_at <= utcnow())
            .values(due_at=utcnow() - timedelta(seconds=90))
        )
    idle = Scrape.of(client)

    publish_what_is_due(services)
    caught_up = Scrape.of(client)

    # The paused channel's delivery waits on purpose; the later one is not due.
    assert idle.value("crier_queue_overdue_deliveries") == 1
    assert 90 <= (idle.value("crier_queue_oldest_overdue_seconds") or 0) < 150
    assert caught_up.value("crier_queue_overdue_deliveries") == 0
    assert caught_up.value("crier_queue_oldest_overdue_seconds") == 0


def test_a_channel_whose_token_cannot_be_renewed_counts_a_token_refresh_failure(
    scripted: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(scripted)
    expired = scripted_channel(scripted, workspace, publish="auth_expired", message="401: token revoked")
    make_post(scripted, workspace, [expired, make_channel(scripted, workspace)])

    publish_what_is_due(scripted)
    scrape = Scrape.of(client)

    assert scrape.value("crier_token_refresh_failures_total", network="scripted") == 1
    assert scrape.value("crier_token_refresh_failures_total", network="sandbox") is None


def test_collection_errors_are_counted_per_network(scripted: Services, client: FlaskClient) -> None:
    workspace, _ = make_workspace(scripted)
    channels = [
        scripted_channel(scripted, workspace, "Down", engagement="transient"),
        scripted_channel(scripted, workspace, "Buggy", engagement="crash"),
        make_channel(scripted, workspace),
    ]
    post = make_post(scripted, workspace, channels)
    publish_what_is_due(scripted)

    collect_metrics(scripted, post.id)
    scrape = Scrape.of(client)

    assert scrape.value("crier_metric_collection_errors_total", network="scripted") == 2
    assert scrape.value("crier_metric_collection_errors_total", network="sandbox") is None


def test_credentials_that_no_secret_opens_count_as_a_refresh_failure_while_collecting(
    scripted: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace)
    post = make_post(scripted, workspace, [channel])
    publish_what_is_due(scripted)
    with scripted.sessions.begin() as session:
        # Sealed with a secret the process no longer has, as after a rotation without a reseal.
        session.execute(update(Channel).where(Channel.id == channel.id).values(sealed_credentials=b"lost"))

    collect_metrics(scripted, post.id)
    scrape = Scrape.of(client)

    assert scrape.value("crier_metric_collection_errors_total", network="scripted") == 1
    assert scrape.value("crier_token_refresh_failures_total", network="scripted") == 1


def test_the_scheduler_counts_missed_deliveries_and_attempts_that_outlived_their_lease(
    services: Services,
) -> None:
    client = create_app(services=services).test_client()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    make_post(services, workspace, [channel], text="Stalls")
    now = utcnow()
    with services.sessions.begin() as session:
        [claim] = claim_due(
            session, now=now, lookahead=timedelta(0), batch_size=10, lease=timedelta(minutes=1)
        )
        begin_attempt(session, claim.delivery_id, claim.attempt, now=now, lease=timedelta(minutes=2))
    make_post(services, workspace, [channel], text="Too late", scheduled_at=now + timedelta(seconds=30))
    later = now + timedelta(hours=1)

    Dispatcher(services, jobs=[], clock=lambda: later).tick()
    scrape = Scrape.of(client)

    assert scrape.value("crier_publish_attempts_expired_total") == 1
    assert scrape.value("crier_deliveries_missed_total") == 1


def test_without_a_metrics_token_the_endpoint_answers_anyone_in_prometheus_text_format(
    client: FlaskClient,
) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert "crier_queue_depth" in response.get_data(as_text=True)


def test_with_a_metrics_token_set_only_a_request_bearing_it_is_answered(scripted: Services) -> None:
    settings = scripted.settings.model_copy(update={"metrics_token": "a-long-random-scrape-token"})
    client = create_app(services=dataclasses.replace(scripted, settings=settings)).test_client()

    anonymous = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer a-long-random-scrape-tokeN"})
    basic = client.get("/metrics", headers={"Authorization": "Basic YS1sb25nOnJhbmRvbQ=="})
    right = client.get("/metrics", headers={"Authorization": "Bearer a-long-random-scrape-token"})

    for refused in (anonymous, wrong, basic):
        assert refused.status_code == 401
        assert refused.content_type == "application/problem+json"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert right.status_code == 200
    assert "crier_queue_depth" in right.get_data(as_text=True)


def test_the_process_counts_are_served_while_the_database_is_away(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(scripted, workspace, [make_channel(scripted, workspace)])
    publish_what_is_due(scripted)
    unreachable = create_engine(f"postgresql+psycopg://postgres@{NOTHING_LISTENS_HERE}/crier")
    try:
        away = dataclasses.replace(scripted, engine=unreachable, sessions=sessionmaker(unreachable))
        scrape = Scrape.of(create_app(services=away).test_client())
    finally:
        unreachable.dispose()

    assert scrape.value("crier_publish_attempts_total", network="sandbox", outcome="published") == 1
    assert scrape.value("crier_queue_depth", state="scheduled") is None


def test_checking_an_uncertain_delivery_with_credentials_no_secret_opens_counts_a_refresh_failure(
    scripted: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown")
    make_post(scripted, workspace, [channel])
    publish_what_is_due(scripted)
    with scripted.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == channel.id).values(sealed_credentials=b"lost"))

    reconcile_unknown(scripted)
    scrape = Scrape.of(client)

    assert scrape.value("crier_token_refresh_failures_total", network="scripted") == 1
    assert scrape.value("crier_queue_depth", state="unknown") == 1
