"""The counts of every process on the host add up in /metrics, and outlive the process that made them."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from services.api.app import create_app
from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.deliveries.models import DeliveryState
from shared.taskqueue import MemoryTaskQueue
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace, read_delivery
from tests.monitoring.another_process import publish_what_is_due_and_exit
from tests.monitoring.conftest import Scrape


def run_in_another_process(settings: Settings) -> None:
    # Spawned, not forked: a fresh interpreter, with nothing of this process's state.
    process = multiprocessing.get_context("spawn").Process(
        target=publish_what_is_due_and_exit, args=(settings,)
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 0


def test_what_another_process_counted_is_added_in_and_stays_after_it_exits(
    services: Services, client: FlaskClient
) -> None:
    workspace, _ = make_workspace(services)
    channel = make_channel(services, workspace)
    make_post(services, workspace, [channel], text="First")
    make_post(services, workspace, [channel], text="Second")

    run_in_another_process(services.settings)
    after_it_exited = Scrape.of(client)
    make_post(services, workspace, [channel], text="Third, from this process")
    publish_what_is_due(services)
    with_this_one = Scrape.of(client)

    published = {"network": "sandbox", "outcome": "published"}
    assert after_it_exited.value("crier_publish_attempts_total", **published) == 2
    assert with_this_one.value("crier_publish_attempts_total", **published) == 3
    assert with_this_one.value("crier_scheduling_lag_seconds_count", network="sandbox") == 3
    # One file for each process that counted, named so that no other process on the host writes it.
    files = sorted(path.name for path in services.settings.prometheus_folder.iterdir())
    assert len([name for name in files if name.startswith("counter_")]) == 2


def test_a_process_that_counts_nothing_leaves_no_file(settings: Settings, task_queue: MemoryTaskQueue):
    checked = bootstrap(settings, tasks=task_queue)  # as the compose healthcheck does every 30 s
    checked.close()

    assert list(settings.prometheus_folder.iterdir()) == []


def test_an_unusable_folder_costs_the_counts_and_never_the_posts(
    services: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    settings = services.settings.model_copy(update={"prometheus_dir": not_a_folder / "prometheus"})
    with caplog.at_level(logging.WARNING):
        unusable = bootstrap(settings, tasks=MemoryTaskQueue())
    workspace, _ = make_workspace(unusable)
    make_post(unusable, workspace, [make_channel(unusable, workspace)])

    [delivery_id] = publish_what_is_due(unusable)
    response = create_app(services=unusable).test_client().get("/metrics")
    unusable.close()

    assert "cannot write to" in caplog.text
    assert read_delivery(services, delivery_id).state is DeliveryState.PUBLISHED
    assert response.status_code == 200
    assert "crier_queue_depth" in response.get_data(as_text=True)
    assert "crier_publish_attempts_total" not in response.get_data(as_text=True)
