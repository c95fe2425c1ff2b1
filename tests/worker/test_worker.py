"""The worker's tasks through a real Celery worker and a real Redis broker."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from celery import Task
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, worker_shutdown
from sqlalchemy import func, select

from services.worker.app import CrierCelery, create_celery_app
from shared.bootstrap import Services
from shared.broker import CeleryTaskQueue
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.idempotency.models import IdempotencyKey
from shared.metrics.models import MetricSample
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.task_names import COLLECT_POST_METRICS, PUBLISH_DELIVERIES, PURGE_EXPIRED_IDEMPOTENCY_KEYS
from tests.conftest import redis_database_of_this_worker
from tests.driving import claim_what_is_due, wait_for
from tests.factories import make_channel, make_post, make_workspace, read_delivery

# A database of its own on the test Redis, emptied first, so no other queue's messages interfere.
BROKER_DB = redis_database_of_this_worker(13)


@pytest.fixture
def broker_settings(settings: Settings, redis_url: str) -> Settings:
    broker_url = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(broker_url).flushdb()
    return settings.model_copy(update={"broker_url": broker_url})


@pytest.fixture
def worker_app(broker_settings: Settings, services: Services) -> Iterator[CrierCelery]:
    app = create_celery_app(broker_settings, services)
    # Starting a worker sets the root logger to its level (ERROR here) through the app's setup_logging
    # handler; left so, later tests that read warnings from caplog would see nothing.
    root_level = logging.getLogger().level
    try:
        with start_worker(
            app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10
        ) as worker:
            yield app
        # The test worker ends the way a terminated one does, and Celery's thread pool does not stop its
        # threads on terminate: they would idle until the interpreter exits.
        worker.pool.stop()
    finally:
        logging.getLogger().setLevel(root_level)


@pytest.fixture
def finished_tasks() -> Iterator[list[str]]:
    """The name of each task the worker has finished running, in the order it finished them."""
    finished: list[str] = []

    def note(sender: Task, **_: Any) -> None:
        finished.append(sender.name)

    task_postrun.connect(note, weak=False)
    yield finished
    task_postrun.disconnect(note)


def claim_all(services: Services) -> list[tuple[uuid.UUID, int]]:
    return [(claim.delivery_id, claim.attempt) for claim in claim_what_is_due(services)]


def test_the_worker_is_configured_to_lose_no_message_and_hoard_none(broker_settings: Settings):
    conf = create_celery_app(broker_settings).conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert {queue.name for queue in conf.task_queues} == {"publish", "metrics", "housekeeping"}


def test_a_publish_message_sent_by_name_is_published_by_the_worker(
    services: Services, broker_settings: Settings, worker_app: CrierCelery
):
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)])
    [(delivery_id, attempt)] = claim_all(services)

    CeleryTaskQueue(broker_settings).send(PUBLISH_DELIVERIES, {"claims": [[str(delivery_id), attempt]]})

    wait_for(lambda: read_delivery(services, delivery_id).state is DeliveryState.PUBLISHED)
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    assert network.store.count_by_key() == {str(post.deliveries[0].id): 1}


def test_a_message_delivered_twice_publishes_once(
    services: Services, broker_settings: Settings, worker_app: CrierCelery, finished_tasks: list[str]
):
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace, latency_ms=200)])
    [(delivery_id, attempt)] = claim_all(services)
    sender = CeleryTaskQueue(broker_settings)

    for _ in range(3):
        sender.send(PUBLISH_DELIVERIES, {"claims": [[str(delivery_id), attempt]]})

    # Every message has had its chance to publish again, not only the first.
    wait_for(lambda: finished_tasks.count(PUBLISH_DELIVERIES) == 3, what="three publish tasks run")
    assert read_delivery(services, delivery_id).state is DeliveryState.PUBLISHED
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    assert network.store.count_by_key() == {str(delivery_id): 1}
    with services.sessions.begin() as session:
        assert len(session.get_one(Delivery, delivery_id).attempts) == 1


def test_a_message_with_fields_added_by_a_newer_sender_is_still_handled(
    services: Services, broker_settings: Settings, worker_app: CrierCelery
):
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    [(delivery_id, attempt)] = claim_all(services)

    CeleryTaskQueue(broker_settings).send(
        PUBLISH_DELIVERIES, {"claims": [[str(delivery_id), attempt]], "priority_hint": "high"}
    )

    wait_for(lambda: read_delivery(services, delivery_id).state is DeliveryState.PUBLISHED)


def test_metrics_for_a_post_are_collected_on_request(
    services: Services, broker_settings: Settings, worker_app: CrierCelery
):
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)])
    [(delivery_id, attempt)] = claim_all(services)
    sender = CeleryTaskQueue(broker_settings)
    sender.send(PUBLISH_DELIVERIES, {"claims": [[str(delivery_id), attempt]]})
    wait_for(lambda: read_delivery(services, delivery_id).state is DeliveryState.PUBLISHED)

    sender.send(COLLECT_POST_METRICS, {"post_id": str(post.id)})

    def sampled() -> bool:
        query = select(func.count()).where(MetricSample.delivery_id == delivery_id)
        with services.sessions.begin() as session:
            return session.scalar(query) == 1

    wait_for(sampled)


def test_expired_idempotency_keys_are_purged_by_the_periodic_task_and_live_ones_kept(
    services: Services, broker_settings: Settings, worker_app: CrierCelery
):
    workspace, _ = make_workspace(services)
    now = utcnow()
    with services.sessions.begin() as session:
        lifetimes = {"yesterday": now - timedelta(minutes=1), "today": now + timedelta(hours=23)}
        for key, expires_at in lifetimes.items():
            session.add(
                IdempotencyKey(
                    workspace_id=workspace.id,
                    key=key,
                    operation="create_post",
                    request_hash="0" * 64,
                    created_at=expires_at - timedelta(hours=24),
                    expires_at=expires_at,
                )
            )

    CeleryTaskQueue(broker_settings).send(PURGE_EXPIRED_IDEMPOTENCY_KEYS, {})

    def keys_left() -> list[str]:
        with services.sessions() as session:
            return sorted(session.scalars(select(IdempotencyKey.key)))

    wait_for(lambda: keys_left() == ["today"])


class StoppingWorker:
    """What Celery's worker_shutdown signal is sent by: the worker, which knows its app."""

    def __init__(self, app: CrierCelery) -> None:
        self.app = app


def test_a_worker_closes_the_services_it_built_when_it_shuts_down_and_not_those_it_was_given(
    broker_settings: Settings, services: Services
):
    built_here = create_celery_app(broker_settings)
    given = create_celery_app(broker_settings, services)
    own = built_here.services

    for app in (built_here, given):
        worker_shutdown.send(sender=StoppingWorker(app))

    with pytest.raises(RuntimeError, match="shutdown"):
        own.network_calls.submit(print)
    services.network_calls.submit(print).result(timeout=5)  # still serving the rest of the process
