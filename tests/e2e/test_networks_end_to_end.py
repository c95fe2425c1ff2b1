"""One post to Mastodon, Bluesky and a webhook at once, through `crier up`'s real processes.

The networks are this suite's faithful fakes (tests/networks/<network>/fake.py), serving over
HTTP on this machine; the worker processes reach them as they would reach the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.driving import wait_for
from tests.e2e.conftest import RunningStack
from tests.networks.bluesky.fake import FakePds
from tests.networks.bluesky.fake import serve as serve_pds
from tests.networks.fake_servers import serving
from tests.networks.mastodon.fake import FakeMastodon
from tests.networks.mastodon.fake import serve as serve_mastodon
from tests.networks.post_receiver.fake import FakePostReceiver

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = "end-to-end-webhook-secret-0123456789"
FINAL = {"published", "failed", "unknown", "needs_review", "missed", "cancelled"}


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    yield from serve_mastodon()


@pytest.fixture
def pds() -> Iterator[FakePds]:
    yield from serve_pds()


@pytest.fixture
def receiver() -> Iterator[FakePostReceiver]:
    with serving(FakePostReceiver(secret=WEBHOOK_SECRET)) as fake:
        yield fake


def test_one_post_goes_out_once_on_each_network_and_its_metrics_are_collected(
    stack: RunningStack, mastodon: FakeMastodon, pds: FakePds, receiver: FakePostReceiver
):
    alice_on_mastodon = mastodon.add_account("alice", token="alice-token")
    alice_on_bluesky = pds.add_account("alice.test", "app-password")
    api = httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {stack.create_token()}"}, timeout=15
    )
    connections = [
        {
            "network": "mastodon",
            "name": "Alice on Mastodon",
            "handle": "alice",
            "settings": {"base_url": mastodon.base_url},
            "credentials": {"access_token": "alice-token"},
        },
        {
            "network": "bluesky",
            "name": "Alice on Bluesky",
            "handle": "alice.test",
            "settings": {"pds_url": pds.base_url},
            "credentials": {"identifier": "alice.test", "app_password": "app-password"},
        },
        {
            "network": "webhook",
            "name": "Our site",
            "handle": "site",
            "settings": {"url": receiver.url},
            "credentials": {"secret": WEBHOOK_SECRET},
        },
    ]
    channels = []
    for connection in connections:
        response = api.post("/v1/channels", json=connection)
        assert response.status_code == 201, response.text
        channels.append(response.json())
    text = "Spring meetup on Friday! Details at https://example.com/meetup #community"
    preview = api.post("/v1/preview", json={"text": text, "channel_ids": [c["id"] for c in channels]})
    assert [p["sendable"] for p in preview.json()["channels"]] == [True, True, True]
    assert (
        preview.json()["channels"][0]["texts"][0]["length"]
        == len(text) - len("https://example.com/meetup") + 23
    )

    scheduled_at = datetime.now(UTC) + timedelta(seconds=3)
    created = api.post(
        "/v1/posts",
        json={
            "text": text,
            "channel_ids": [c["id"] for c in channels],
            "scheduled_at": scheduled_at.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]
    post = wait_for(
        lambda: api.get(f"/v1/posts/{post_id}").json(),
        lambda p: all(d["state"] in FINAL for d in p["deliveries"]),
        timeout=30,
    )

    by_network = {d["network"]: d for d in post["deliveries"]}
    assert {network: d["state"] for network, d in by_network.items()} == {
        "mastodon": "published",
        "bluesky": "published",
        "webhook": "published",
    }
    for delivery in post["deliveries"]:
        lag = datetime.fromisoformat(delivery["published_at"]) - scheduled_at
        assert timedelta(0) <= lag <= timedelta(seconds=2), f"{delivery['network']} {lag}"
    [status] = mastodon.statuses_of(alice_on_mastodon)
    assert status["text"] == text
    [record] = pds.posts_of(alice_on_bluesky).values()
    assert [f["features"][0]["$type"] for f in record["value"]["facets"]] == [
        "app.bsky.richtext.facet#link",
        "app.bsky.richtext.facet#tag",
    ]
    assert by_network["bluesky"]["url"].startswith("https://bsky.app/profile/")
    [delivered] = receiver.received
    assert delivered.headers["Idempotency-Key"] == by_network["webhook"]["id"]

    assert api.post(f"/v1/posts/{post_id}/metrics/refresh").status_code == 202
    metrics = wait_for(
        lambda: api.get(f"/v1/posts/{post_id}/metrics").json(),
        lambda m: sum(1 for entry in m["deliveries"] if entry["latest"]) >= 2,
        timeout=20,
    )
    sampled = {entry["network"] for entry in metrics["deliveries"] if entry["latest"]}
    assert sampled == {"mastodon", "bluesky"}
