"""One post through the real processes: HTTP → database → scheduler → Celery worker → sandbox → metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.networks.sandbox.adapter import SandboxNetwork
from tests.driving import wait_for
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

ON_TIME = timedelta(seconds=2)


def test_a_post_scheduled_three_seconds_ahead_is_published_exactly_once_within_two_seconds(
    stack: RunningStack,
):
    api = httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {stack.create_token()}"}, timeout=10
    )
    channels = [
        api.post(
            "/v1/channels",
            json={
                "network": "sandbox",
                "name": f"Sandbox {n}",
                "handle": f"e2e_{n}",
                "settings": {"latency_ms": 50},
            },
        ).json()
        for n in (1, 2)
    ]
    scheduled_at = datetime.now(UTC) + timedelta(seconds=3)
    created = api.post(
        "/v1/posts",
        json={
            "text": "End to end, on time, once.",
            "channel_ids": [channel["id"] for channel in channels],
            "scheduled_at": scheduled_at.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]

    post = wait_for(
        lambda: api.get(f"/v1/posts/{post_id}").json(),
        lambda p: all(d["state"] in {"published", "failed", "unknown"} for d in p["deliveries"]),
        timeout=15,
    )

    assert [d["state"] for d in post["deliveries"]] == ["published", "published"]
    for delivery in post["deliveries"]:
        lag = datetime.fromisoformat(delivery["published_at"]) - scheduled_at
        assert timedelta(0) <= lag <= ON_TIME, f"published {lag} after its time"
        assert delivery["url"].startswith("https://sandbox.invalid/@e2e_")
    store = SandboxNetwork.from_settings(stack.settings).store
    assert store.count_by_key() == {delivery["id"]: 1 for delivery in post["deliveries"]}

    assert api.post(f"/v1/posts/{post_id}/metrics/refresh").status_code == 202
    metrics = wait_for(
        lambda: api.get(f"/v1/posts/{post_id}/metrics").json(),
        lambda m: all(entry["latest"] for entry in m["deliveries"]),
        timeout=15,
    )
    assert all(entry["latest"]["likes"] is not None for entry in metrics["deliveries"])


def test_crier_demo_prints_each_delivery_and_succeeds(stack: RunningStack):
    result = stack.crier("demo", "--delay", "3", timeout=90)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" published ") == 2
    metric_lines = result.stdout.split("Metrics:\n", 1)[1].splitlines()[:2]
    assert all(re.search(r": likes [1-9]\d*, reposts \d+", line) for line in metric_lines), metric_lines
    assert result.stdout.rstrip().endswith("Published on time.")


def test_ctrl_c_stops_every_process_of_crier_up(stack: RunningStack):
    stack.stop()

    assert stack.process.returncode is not None
    wait_for(stack.group_is_gone, every=0.2, what="every process `crier up` started to end with it")
