"""Sending webhook messages to a real receiver over HTTP: signed, retried on a schedule, never sent twice
by concurrent senders, and sent again (under the same id) when a sender died holding them."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from services.scheduler.periodic import periodic_jobs
from services.worker.app import celery_app
from shared.bootstrap import Services
from shared.db import utcnow
from shared.networks.outbound import Outbound
from shared.notifications.attempts import (
    JITTER,
    WEBHOOK_RETRY_SCHEDULE,
    AttemptResult,
    claim_due_messages,
    record_attempt,
    webhook_retry_delay,
)
from shared.notifications.endpoints import EndpointSecret, create_endpoint, delete_endpoint, update_endpoint
from shared.notifications.models import (
    EventType,
    MessageState,
    WebhookAttemptOutcome,
    WebhookEndpoint,
    WebhookMessage,
)
from shared.notifications.outbox import emit
from shared.notifications.sending import send_due_webhooks
from shared.task_names import QUEUE_OF_TASK, SEND_DUE_WEBHOOKS
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.networks.raw_servers import free_port
from tests.notifications.receiver import Answer, Receiver, receiving

AddEndpoint = Callable[..., EndpointSecret]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as fake:
        yield fake


@pytest.fixture
def endpoint(add_endpoint: AddEndpoint, receiver: Receiver) -> EndpointSecret:
    return add_endpoint(receiver.url)


def owe(services: Services, workspace: Workspace, count: int = 1) -> list[uuid.UUID]:
    """Emit `count` delivery.failed events, each in a transaction of its own; the messages' ids."""
    ids = []
    for number in range(count):
        with services.sessions.begin() as session:
            messages = emit(session, workspace.id, EventType.DELIVERY_FAILED, {"number": number})
        ids += [message.id for message in messages]
    return ids


def read_message(services: Services, message_id: uuid.UUID) -> WebhookMessage:
    with services.sessions() as session:
        return session.get_one(WebhookMessage, message_id)


def read_endpoint(services: Services, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    with services.sessions() as session:
        return session.get_one(WebhookEndpoint, endpoint_id)


def with_settings(services: Services, **changes: object) -> Services:
    settings = services.settings.model_copy(update=changes)
    return Services(
        **{**services.__dict__, "settings": settings, "outbound": Outbound.from_settings(settings)}
    )


def test_a_message_is_posted_once_signed_over_its_exact_body(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    [message_id] = owe(services, workspace)
    now = utcnow()

    assert send_due_webhooks(services, now) == 1

    [request] = receiver.requests
    assert request.is_signed_with(endpoint.secret)
    assert not request.is_signed_with(endpoint.secret + "x")
    body = request.json
    assert body["id"] == str(message_id)
    assert body["type"] == "delivery.failed"
    assert body["data"] == {"number": 0}
    assert body["occurred_at"] == read_message(services, message_id).created_at.isoformat()
    assert request.headers["X-Crier-Event"] == "delivery.failed"
    assert request.headers["X-Crier-Delivery"] == str(message_id)
    assert request.headers["Idempotency-Key"] == str(message_id)
    assert request.headers["Content-Type"] == "application/json"
    assert int(request.headers["X-Crier-Timestamp"]) == int(
        datetime.fromisoformat(body["created_at"]).timestamp()
    )
    message = read_message(services, message_id)
    assert message.state is MessageState.DELIVERED
    assert (message.attempts, message.last_status_code, message.delivered_at) == (1, 200, now)
    assert message.lease_expires_at is None
    [attempt] = message.attempt_log
    assert (attempt.outcome, attempt.status_code, attempt.error) == (
        WebhookAttemptOutcome.DELIVERED,
        200,
        None,
    )

    assert send_due_webhooks(services, now + timedelta(days=2)) == 0
    assert len(receiver.requests) == 1


def test_a_server_error_is_retried_after_the_first_wait_then_delivered_under_the_same_id(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(500, "upstream trouble"))
    now = utcnow()

    send_due_webhooks(services, now)

    message = read_message(services, message_id)
    assert message.state is MessageState.PENDING
    assert message.last_error == "HTTP 500: upstream trouble"
    assert message.next_attempt_at is not None
    first_wait = WEBHOOK_RETRY_SCHEDULE[0]
    assert now + first_wait * (1 - JITTER) <= message.next_attempt_at <= now + first_wait * (1 + JITTER)

    assert send_due_webhooks(services, now + first_wait * (1 - JITTER) - timedelta(seconds=1)) == 0
    assert send_due_webhooks(services, message.next_attempt_at) == 1

    message = read_message(services, message_id)
    assert message.state is MessageState.DELIVERED
    assert message.last_error is None
    assert [(a.outcome, a.status_code) for a in message.attempt_log] == [
        (WebhookAttemptOutcome.WILL_RETRY, 500),
        (WebhookAttemptOutcome.DELIVERED, 200),
    ]
    assert [request.json["id"] for request in receiver.requests] == [str(message_id)] * 2
    assert all(request.is_signed_with(endpoint.secret) for request in receiver.requests)


@pytest.mark.parametrize("attempts", range(1, 10))
def test_the_waits_follow_the_schedule_give_or_take_a_fifth(attempts: int):
    expected = WEBHOOK_RETRY_SCHEDULE[min(attempts, len(WEBHOOK_RETRY_SCHEDULE)) - 1]
    rng = random.Random(attempts)

    waits = [webhook_retry_delay(attempts, rng) for _ in range(200)]

    assert all(expected * 0.8 <= wait <= expected * 1.2 for wait in waits)
    assert len(set(waits)) > 1


def test_each_failure_waits_longer_until_the_last_attempt_marks_the_message_failed(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    services = with_settings(services, webhook_max_attempts=4)
    [message_id] = owe(services, workspace)
    receiver.answer(*[Answer(503, "busy")] * 4)
    now = utcnow()
    waits = []

    for _ in range(3):
        send_due_webhooks(services, now)
        message = read_message(services, message_id)
        assert message.state is MessageState.PENDING
        assert message.next_attempt_at is not None
        waits.append(message.next_attempt_at - now)
        now = message.next_attempt_at
    send_due_webhooks(services, now)

    for wait, scheduled in zip(waits, WEBHOOK_RETRY_SCHEDULE, strict=False):
        assert scheduled * 0.8 <= wait <= scheduled * 1.2
    message = read_message(services, message_id)
    assert message.state is MessageState.FAILED
    assert message.next_attempt_at is None
    assert message.attempts == 4
    assert message.last_error == "Gave up after 4 attempts. Last error: HTTP 503: busy"
    assert [attempt.outcome for attempt in message.attempt_log] == [WebhookAttemptOutcome.WILL_RETRY] * 3 + [
        WebhookAttemptOutcome.FAILED
    ]
    assert send_due_webhooks(services, now + timedelta(days=3)) == 0


def test_a_message_given_up_on_after_its_only_attempt_says_one_attempt(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    services = with_settings(services, webhook_max_attempts=1)
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(503, "busy"))

    send_due_webhooks(services, utcnow())

    assert (
        read_message(services, message_id).last_error == "Gave up after 1 attempt. Last error: HTTP 503: busy"
    )


@pytest.mark.parametrize(
    ("retry_after", "wait_at_least"), [("3600", timedelta(hours=1)), ("1", timedelta(seconds=24))]
)
def test_a_429_is_retried_no_sooner_than_its_retry_after_nor_the_schedule(
    services: Services,
    workspace: Workspace,
    receiver: Receiver,
    endpoint: EndpointSecret,
    retry_after: str,
    wait_at_least: timedelta,
):
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(429, "slow down", {"Retry-After": retry_after}))
    now = utcnow()

    send_due_webhooks(services, now)

    message = read_message(services, message_id)
    assert message.state is MessageState.PENDING
    assert message.next_attempt_at is not None
    assert now + wait_at_least <= message.next_attempt_at <= now + max(wait_at_least, timedelta(seconds=36))
    assert message.attempt_log[0].outcome is WebhookAttemptOutcome.WILL_RETRY


def test_a_retry_after_longer_than_a_day_is_waited_for_a_day(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(503, "maintenance", {"Retry-After": str(30 * 24 * 3600)}))
    now = utcnow()

    send_due_webhooks(services, now)

    assert read_message(services, message_id).next_attempt_at == now + timedelta(days=1)


def test_a_410_deactivates_the_endpoint_and_its_other_messages_wait_until_it_is_activated_again(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    gone_id, waiting_id = owe(services, workspace, 2)
    receiver.answer(Answer(410, "no such hook"))
    now = utcnow()

    assert send_due_webhooks(services, now, limit=1) == 1

    gone = read_message(services, gone_id)
    assert gone.state is MessageState.FAILED
    assert gone.attempt_log[0].outcome is WebhookAttemptOutcome.ENDPOINT_GONE
    assert "deactivated" in (gone.last_error or "")
    stored = read_endpoint(services, endpoint.endpoint.id)
    assert not stored.active
    assert "410 Gone" in (stored.deactivated_reason or "")
    assert send_due_webhooks(services, now + timedelta(hours=1)) == 0
    with services.sessions.begin() as session:
        assert emit(session, workspace.id, EventType.DELIVERY_FAILED, {}) == []

    with services.sessions.begin() as session:
        update_endpoint(session, Actor.system(workspace.id), endpoint.endpoint.id, active=True)
    assert send_due_webhooks(services, now + timedelta(hours=1)) == 1

    assert read_message(services, waiting_id).state is MessageState.DELIVERED
    assert len(receiver.requests) == 2


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_client_error_fails_the_message_at_once_with_the_answer_quoted(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret, status: int
):
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(status, "unexpected   field\n 'type'"))

    send_due_webhooks(services, utcnow())

    message = read_message(services, message_id)
    assert message.state is MessageState.FAILED
    assert message.last_error == f"HTTP {status}: unexpected field 'type'"
    assert message.next_attempt_at is None
    assert (message.attempts, message.last_status_code) == (1, status)
    assert read_endpoint(services, endpoint.endpoint.id).active


def test_a_redirect_is_not_followed_and_fails_the_message(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(301, "", {"Location": receiver.url + "/moved"}))

    send_due_webhooks(services, utcnow())

    message = read_message(services, message_id)
    assert message.state is MessageState.FAILED
    assert "redirects are not followed" in (message.last_error or "")
    assert len(receiver.requests) == 1


def test_a_receiver_that_hangs_is_given_up_on_and_tried_again(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    # Given up on quickly, to keep this test short.
    services = with_settings(services, webhook_timeout_seconds=0.5)
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(hang=True))

    send_due_webhooks(services, utcnow())

    message = read_message(services, message_id)
    assert message.state is MessageState.PENDING
    assert message.last_status_code is None
    assert message.last_error == "No complete answer (the server's log has why)."
    [attempt] = message.attempt_log
    assert attempt.outcome is WebhookAttemptOutcome.WILL_RETRY
    assert attempt.duration_ms >= 400


def test_a_refused_connection_is_tried_again(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    add_endpoint(f"http://127.0.0.1:{free_port()}/hook")
    [message_id] = owe(services, workspace)

    send_due_webhooks(services, utcnow())

    message = read_message(services, message_id)
    assert message.state is MessageState.PENDING
    assert message.last_error == "No connection could be made (the server's log has why)."


def test_the_secret_is_redacted_from_what_a_receiver_echoes(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    [message_id] = owe(services, workspace)
    receiver.answer(Answer(400, f"expected a signature made with {endpoint.secret}"))

    send_due_webhooks(services, utcnow())

    message = read_message(services, message_id)
    assert endpoint.secret not in (message.last_error or "")
    assert message.last_error == "HTTP 400: expected a signature made with [redacted]"


def test_a_server_that_keeps_private_addresses_private_refuses_to_send_to_one(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    # The endpoint was saved while the operator allowed 127.0.0.1; they have stopped allowing it since.
    [message_id] = owe(services, workspace)

    send_due_webhooks(with_settings(services, allowed_private_hosts=""), utcnow())

    message = read_message(services, message_id)
    assert message.state is MessageState.FAILED
    assert "on this machine or a private network" in (message.last_error or "")
    assert receiver.requests == []


def test_a_name_that_resolves_to_a_private_address_fails_as_an_address_that_does_not_answer(
    services: Services, workspace: Workspace, receiver: Receiver, caplog: pytest.LogCaptureFixture
):
    # A numeric host name that is not a dotted address: the resolver reads it as 127.0.0.1.
    strict = with_settings(services, allowed_private_hosts="")
    with services.sessions.begin() as session:
        create_endpoint(
            session,
            Actor.system(workspace.id),
            services.credentials,
            url=f"https://2130706433:{receiver.port}/hook",
            events=["*"],
            policy=strict.outbound.policy,
        )
    [message_id] = owe(services, workspace)

    send_due_webhooks(strict, utcnow())

    message = read_message(services, message_id)
    assert message.state is MessageState.PENDING  # tried again later, as a receiver that did not answer
    assert message.last_error == "No connection could be made (the server's log has why)."
    assert "2130706433 is, or resolves to, 127.0.0.1" in caplog.text
    assert receiver.connections == 0


def test_concurrent_senders_send_each_message_once(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    message_ids = owe(services, workspace, 24)
    now = utcnow()
    start = threading.Barrier(4)
    sent: list[int] = []

    def sender() -> None:
        start.wait()
        sent.append(send_due_webhooks(services, now, limit=5))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sent == [5, 5, 5, 5]
    # Four senders of five claimed twenty: the rest is left for the next.
    assert send_due_webhooks(services, now, limit=5) == 4

    delivered = [request.json["id"] for request in receiver.requests]
    assert sorted(delivered) == sorted(str(message_id) for message_id in message_ids)
    with services.sessions() as session:
        states = session.scalars(select(WebhookMessage.state)).all()
    assert set(states) == {MessageState.DELIVERED}


def test_a_message_claimed_by_a_sender_that_died_goes_out_once_its_lease_passes_under_the_same_id(
    services: Services, workspace: Workspace, receiver: Receiver, endpoint: EndpointSecret
):
    [message_id] = owe(services, workspace)
    now = utcnow()
    lease = timedelta(minutes=5)
    with services.sessions.begin() as session:
        [dead_claim] = claim_due_messages(session, now=now, limit=10, lease=lease)
    # ...and the sender died before its POST.

    assert send_due_webhooks(services, now + lease - timedelta(seconds=1)) == 0
    assert send_due_webhooks(services, now + lease) == 1

    [request] = receiver.requests
    assert request.json["id"] == request.headers["X-Crier-Delivery"] == str(message_id)
    assert read_message(services, message_id).state is MessageState.DELIVERED

    # Had it been only slow, its late report changes nothing but the log.
    with services.sessions.begin() as session:
        late = record_attempt(
            session,
            dead_claim,
            AttemptResult(duration=timedelta(seconds=1), status_code=500, error="HTTP 500"),
            now=now + lease + timedelta(seconds=1),
            max_attempts=7,
        )
    assert late is None
    message = read_message(services, message_id)
    assert message.state is MessageState.DELIVERED
    assert [attempt.outcome for attempt in message.attempt_log] == [
        WebhookAttemptOutcome.DELIVERED,
        WebhookAttemptOutcome.WILL_RETRY,
    ]


def test_a_message_whose_endpoint_was_deleted_while_it_was_being_sent_is_dropped(
    services: Services, workspace: Workspace, endpoint: EndpointSecret
):
    owe(services, workspace)
    now = utcnow()
    with services.sessions.begin() as session:
        [claim] = claim_due_messages(session, now=now, limit=10, lease=timedelta(minutes=5))
    with services.sessions.begin() as session:
        delete_endpoint(session, Actor.system(workspace.id), endpoint.endpoint.id)

    with services.sessions.begin() as session:
        recorded = record_attempt(
            session, claim, AttemptResult(duration=timedelta(0), status_code=200), now=now, max_attempts=7
        )

    assert recorded is None
    with services.sessions() as session:
        assert session.scalars(select(WebhookMessage)).all() == []


def test_the_worker_has_the_send_task_and_the_scheduler_runs_it_every_few_seconds(services: Services):
    [job] = [job for job in periodic_jobs(services.settings) if job.task_name == SEND_DUE_WEBHOOKS]

    assert job.every == timedelta(seconds=5)
    assert SEND_DUE_WEBHOOKS in celery_app.tasks
    assert QUEUE_OF_TASK[SEND_DUE_WEBHOOKS] == "housekeeping"
