"""The scheduler's tick: claim, commit, then send — on both database backends."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.scheduler.dispatcher import Dispatcher
from services.scheduler.periodic import PeriodicJob, periodic_jobs
from services.worker.app import celery_app
from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from shared.task_names import COLLECT_DUE_METRICS, PUBLISH_DELIVERIES
from shared.taskqueue import MemoryTaskQueue
from tests.factories import make_channel, make_post, make_workspace, read_delivery


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def published_claims(queue: MemoryTaskQueue) -> list[list[Any]]:
    """Every [delivery id, claim number] sent, across publish messages, in order."""
    return [
        claim for task in queue.sent if task.name == PUBLISH_DELIVERIES for claim in task.kwargs["claims"]
    ]


def test_a_due_delivery_is_sent_once_with_its_claim_number(services: Services, task_queue: MemoryTaskQueue):
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)])
    dispatcher = Dispatcher(services, jobs=[])

    first = dispatcher.tick()
    second = dispatcher.tick()

    delivery = post.deliveries[0]
    assert (first.claimed, second.claimed) == (1, 0)
    assert published_claims(task_queue) == [[str(delivery.id), 1]]
    assert read_delivery(services, delivery.id).state is DeliveryState.ENQUEUED


def test_the_message_is_sent_only_after_the_claim_is_committed(services: Services):
    seen_states: list[DeliveryState] = []

    class CheckingQueue(MemoryTaskQueue):
        def send(self, task_name: str, kwargs: dict[str, Any]) -> None:
            # A separate session sees only committed data.
            for delivery_id, _ in kwargs["claims"]:
                seen_states.append(read_delivery(services, uuid.UUID(delivery_id)).state)
            super().send(task_name, kwargs)

    checking = Services(**{**services.__dict__, "tasks": CheckingQueue()})
    workspace, _ = make_workspace(checking)
    make_post(checking, workspace, [make_channel(checking, workspace)])

    Dispatcher(checking, jobs=[]).tick()

    assert seen_states == [DeliveryState.ENQUEUED]


def test_a_delivery_due_within_the_lookahead_is_claimed_now_so_it_can_start_at_its_time(
    services: Services, task_queue: MemoryTaskQueue
):
    now = utcnow()
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    soon = make_post(services, workspace, [channel], scheduled_at=now + timedelta(milliseconds=600))
    make_post(services, workspace, [channel], scheduled_at=now + timedelta(seconds=5))

    report = Dispatcher(services, jobs=[], clock=FrozenClock(now)).tick()

    assert report.claimed == 1
    assert published_claims(task_queue) == [[str(soon.deliveries[0].id), 1]]


def test_a_burst_is_sent_in_messages_of_the_batch_size(services: Services, task_queue: MemoryTaskQueue):
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    for number in range(45):
        make_post(services, workspace, [channel], text=f"post {number}")

    Dispatcher(services, jobs=[]).tick()

    assert [len(task.kwargs["claims"]) for task in task_queue.sent] == [20, 20, 5]
    assert len({claim[0] for claim in published_claims(task_queue)}) == 45


def test_a_delivery_that_comes_due_too_late_is_marked_missed_not_sent(
    services: Services, task_queue: MemoryTaskQueue, caplog: pytest.LogCaptureFixture
):
    now = utcnow()
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)], scheduled_at=now)
    lateness = timedelta(seconds=services.settings.max_lateness_seconds)

    with caplog.at_level(logging.WARNING, logger="services.scheduler.dispatcher"):
        report = Dispatcher(
            services, jobs=[], clock=FrozenClock(now + lateness + timedelta(seconds=1))
        ).tick()

    delivery = read_delivery(services, post.deliveries[0].id)
    assert (report.missed, report.claimed) == (1, 0)
    assert delivery.state is DeliveryState.MISSED
    assert delivery.last_error == "Not published: it could not go out within 30 minutes of its time."
    assert task_queue.sent == []
    assert "1 delivery came due too late to publish: marked missed" in caplog.messages


def test_a_send_that_fails_after_the_commit_is_sent_again_once_the_lease_expires(
    services: Services, task_queue: MemoryTaskQueue
):
    now = utcnow()
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)], scheduled_at=now)
    clock = FrozenClock(now)
    dispatcher = Dispatcher(services, jobs=[], clock=clock)

    class BrokenQueue(MemoryTaskQueue):
        def send(self, task_name: str, kwargs: dict[str, Any]) -> None:
            raise ConnectionError("broker unreachable")

    broken = Dispatcher(Services(**{**services.__dict__, "tasks": BrokenQueue()}), jobs=[], clock=clock)
    assert broken.tick().sent == 0

    clock.now = now + timedelta(seconds=services.settings.enqueue_lease_seconds - 1)
    assert dispatcher.tick().reclaimed == 0
    clock.now = now + timedelta(seconds=services.settings.enqueue_lease_seconds + 1)
    report = dispatcher.tick()

    assert report.reclaimed == 1
    assert published_claims(task_queue) == [[str(post.deliveries[0].id), 2]]


def test_a_periodic_job_runs_once_per_interval_across_replicas(
    services: Services, task_queue: MemoryTaskQueue
):
    now = utcnow()
    clock = FrozenClock(now)
    jobs = [PeriodicJob(COLLECT_DUE_METRICS, timedelta(minutes=5))]
    replicas = [Dispatcher(services, jobs=jobs, clock=clock) for _ in range(3)]

    first_round = [replica.tick().periodic for replica in replicas]
    clock.now = now + timedelta(minutes=4)
    early_round = [replica.tick().periodic for replica in replicas]
    clock.now = now + timedelta(minutes=5, seconds=1)
    later_round = [replica.tick().periodic for replica in replicas]

    assert first_round == [(COLLECT_DUE_METRICS,), (), ()]
    assert early_round == [(), (), ()]
    assert later_round == [(COLLECT_DUE_METRICS,), (), ()]
    assert [task.name for task in task_queue.sent] == [COLLECT_DUE_METRICS, COLLECT_DUE_METRICS]


def test_every_periodic_job_names_a_task_the_worker_has(services: Services):
    names = [job.task_name for job in periodic_jobs(services.settings)]

    assert names
    assert all(name in celery_app.tasks for name in names)


def test_a_full_batch_is_followed_at_once_by_another_tick(services: Services, task_queue: MemoryTaskQueue):
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    for number in range(5):
        make_post(services, workspace, [channel], text=f"post {number}")
    small_batches = Services(
        **{**services.__dict__, "settings": services.settings.model_copy(update={"claim_batch_size": 2})}
    )
    stop = threading.Event()
    dispatcher = Dispatcher(small_batches, jobs=[])
    ticks: list[int] = []
    original_tick = dispatcher.tick

    def counting_tick() -> Any:
        report = original_tick()
        ticks.append(report.claimed)
        if not report.batch_was_full:
            stop.set()
        return report

    dispatcher.tick = counting_tick  # type: ignore[method-assign]
    dispatcher.run(stop)

    assert ticks == [2, 2, 1]
    assert len(published_claims(task_queue)) == 5


@pytest.mark.parametrize("state", [DeliveryState.PUBLISHING])
def test_an_attempt_that_outlives_its_lease_is_reported_unknown_not_retried(
    services: Services, task_queue: MemoryTaskQueue, state: DeliveryState, caplog: pytest.LogCaptureFixture
):
    from shared.deliveries.attempts import begin_attempt

    now = utcnow()
    workspace, _ = make_workspace(services)
    post = make_post(services, workspace, [make_channel(services, workspace)], scheduled_at=now)
    clock = FrozenClock(now)
    dispatcher = Dispatcher(services, jobs=[], clock=clock)
    dispatcher.tick()
    delivery_id = post.deliveries[0].id
    with services.sessions.begin() as session:
        assert begin_attempt(session, delivery_id, 1, now=now, lease=timedelta(seconds=30)) is not None

    clock.now = now + timedelta(seconds=31)
    with caplog.at_level(logging.WARNING, logger="services.scheduler.dispatcher"):
        report = dispatcher.tick()

    assert report.expired == 1
    assert "1 publish attempt outlived the lease: now unknown" in caplog.messages
    assert read_delivery(services, delivery_id).state is DeliveryState.UNKNOWN
    assert len(published_claims(task_queue)) == 1
