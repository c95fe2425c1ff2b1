"""`crier demo`: one post through a running Crier, printed as it happens."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import httpx

ON_TIME = timedelta(seconds=2)
# Sandbox posts gain engagement as they age; a few seconds give the first likes time to arrive.
AUDIENCE_REACTION = timedelta(seconds=5)
FINISHED_STATES = {"published", "failed", "unknown"}


class CrierClient:
    """The few API calls the demo makes; errors come back as the API's problem documents."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.is_error:
            raise click.ClickException(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def run_demo(client: CrierClient, delay: timedelta, echo: Any = click.echo) -> bool:
    """Schedule one post on two sandbox channels `delay` ahead; True if both published on time."""
    channels = [
        client.call(
            "POST",
            "/v1/channels",
            json={"network": "sandbox", "name": name, "handle": handle, "settings": {"latency_ms": 150}},
        )
        for name, handle in (("Sandbox Mastodon-like", "crier_demo"), ("Sandbox second account", "crier_two"))
    ]
    scheduled_at = (datetime.now(UTC) + delay).replace(microsecond=0)
    post = client.call(
        "POST",
        "/v1/posts",
        json={
            "text": "Hello from Crier 👋 — written once, published everywhere exactly once.",
            "channel_ids": [channel["id"] for channel in channels],
            "scheduled_at": scheduled_at.isoformat(),
        },
    )
    echo(f"Scheduled post {post['id']} for {scheduled_at.isoformat()} on {len(channels)} sandbox channels.")

    deadline = time.monotonic() + delay.total_seconds() + 30
    while time.monotonic() < deadline:
        post = client.call("GET", f"/v1/posts/{post['id']}")
        if all(delivery["state"] in FINISHED_STATES for delivery in post["deliveries"]):
            break
        time.sleep(0.2)

    on_time = True
    for delivery in post["deliveries"]:
        published_at = delivery.get("published_at")
        lag = parse_time(published_at) - scheduled_at if published_at else None
        on_time &= delivery["state"] == "published" and lag is not None and lag <= ON_TIME
        lag_text = f"{lag.total_seconds():.3f} s after its time" if lag is not None else "not published"
        echo(f"  {delivery['network']:8} {delivery['state']:10} {delivery.get('url') or '-'}  ({lag_text})")
        if delivery.get("error"):
            echo(f"           error: {delivery['error']}")

    echo(f"Letting the sandbox audience react for {AUDIENCE_REACTION.seconds} s, then collecting metrics.")
    time.sleep(AUDIENCE_REACTION.total_seconds())
    client.call("POST", f"/v1/posts/{post['id']}/metrics/refresh")
    metrics: dict[str, Any] = {"deliveries": []}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        metrics = client.call("GET", f"/v1/posts/{post['id']}/metrics")
        if all(entry["latest"] for entry in metrics["deliveries"]):
            break
        time.sleep(0.3)
    echo("Metrics:")
    for entry in metrics["deliveries"]:
        latest = entry["latest"]
        if latest is None:
            echo(f"  {entry['delivery_id']}: no sample yet")
            continue
        counts = ", ".join(
            f"{name} {latest[name]}" for name in ("likes", "reposts", "replies", "quotes", "views")
        )
        echo(f"  {entry['delivery_id']}: {counts}")
    echo("Published on time." if on_time else f"Not every delivery was published within {ON_TIME}.")
    return on_time
