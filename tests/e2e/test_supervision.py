"""`crier up` on the embedded default restarts a killed worker and scheduler, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bench.soak import restarts_on_metrics
from shared.networks.sandbox.adapter import SandboxNetwork
from tests.driving import wait_for
from tests.e2e.conftest import RunningStack
from tests.process_table import descendants, in_sessions, supervised_children, wait_until_gone

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


@dataclass
class HealthWatch:
    """Asks the API's /healthz ten times a second from a thread, and keeps every answer that was not a 200."""

    base_url: str
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while not self.stopped.wait(0.1):
                try:
                    response = client.get("/healthz")
                except httpx.HTTPError as error:
                    self.failures.append(f"{time.strftime('%X')}: {error!r}")
                    continue
                if response.status_code == 200:
                    self.answered += 1
                else:
                    self.failures.append(f"{time.strftime('%X')}: {response.status_code}")


@contextmanager
def watching_health(base_url: str) -> Iterator[HealthWatch]:
    health = HealthWatch(base_url)
    thread = threading.Thread(target=health.watch, name="health watch")
    thread.start()
    try:
        yield health
    finally:
        health.stopped.set()
        thread.join(timeout=10)


def test_a_killed_worker_and_scheduler_come_back_and_a_post_scheduled_after_goes_out_once(
    stack: RunningStack,
):
    api = httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {stack.create_token()}"}, timeout=10
    )
    channel = api.post(
        "/v1/channels",
        json={
            "network": "sandbox",
            "name": "Supervised",
            "handle": "supervised",
            "settings": {"latency_ms": 50},
        },
    ).json()
    before = supervised_children(stack.process.pid)
    assert set(before) == {"api", "scheduler", "worker"}, before

    with watching_health(stack.base_url) as health:
        os.kill(before["worker"].pid, signal.SIGKILL)
        os.kill(before["scheduler"].pid, signal.SIGKILL)
        scheduled_at = datetime.now(UTC) + timedelta(seconds=3)
        created = api.post(
            "/v1/posts",
            json={
                "text": "After the kill.",
                "channel_ids": [channel["id"]],
                "scheduled_at": scheduled_at.isoformat(),
            },
        )
        assert created.status_code == 201, created.text
        post = wait_for(
            lambda: api.get(f"/v1/posts/{created.json()['id']}").json(),
            lambda p: all(d["state"] in {"published", "failed", "unknown"} for d in p["deliveries"]),
            timeout=60,
        )
        after = wait_for(
            lambda: supervised_children(stack.process.pid),
            lambda children: all(
                name in children and children[name].pid != before[name].pid
                for name in ("worker", "scheduler")
            ),
            timeout=30,
        )

    [delivery] = post["deliveries"]
    assert delivery["state"] == "published", post
    assert SandboxNetwork.from_settings(stack.settings).store.count_by_key() == {delivery["id"]: 1}
    assert (after["api"].pid, after["api"].started) == (before["api"].pid, before["api"].started)
    assert {after["worker"].pid, after["scheduler"].pid}.isdisjoint(
        {before["worker"].pid, before["scheduler"].pid}
    )
    assert health.failures == []
    assert health.answered >= 10
    log = stack.log()
    for name in ("worker", "scheduler"):
        assert f"| {name} (pid {before[name].pid}) was killed by SIGKILL after " in log
        assert f"| {name} started again (pid {after[name].pid}), restart 1" in log
    assert restarts_on_metrics(stack.base_url) == {"api": 0, "scheduler": 1, "worker": 1}


def test_sigterm_to_crier_up_stops_every_process_it_started_and_leaves_none(stack: RunningStack):
    family = descendants(stack.process.pid)
    sessions = {entry.session for entry in family}
    # gunicorn's master and its two workers, the scheduler and the worker.
    assert len(family) >= 5, family

    stack.process.send_signal(signal.SIGTERM)
    returncode = stack.process.wait(timeout=60)

    assert returncode == 128 + signal.SIGTERM
    wait_until_gone(family, timeout=5)
    assert in_sessions(sessions) == []
    log = stack.log()
    assert "SIGTERM received: stopping every process" in log
    for name in ("api", "scheduler", "worker"):
        assert f"sending SIGTERM to {name} (pid " in log
