"""The engagement inbox through `crier up`'s real processes: an answer arrives within one polling interval,
and a reply from Crier goes out once even when the network's answer to it is lost."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.store import SandboxStore
from tests.driving import wait_for
from tests.e2e.conftest import RunningStack, running_stack

pytestmark = pytest.mark.e2e

# Every source is read every 2 s (the shortest and longest interval alike), the sweep every half second.
INTERVAL = 2
SWEEP = INTERVAL / 4
# A read's own time on a loaded machine: a worker taking the task, the call, storing the page.
READ_TIME = 1.5


@pytest.fixture(scope="module", params=["embedded", "postgresql+redis"])
def inbox_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp("inbox-" + request.param.replace("+", "-"))
    env = {
        "CRIER_INBOX_READ_MIN_SECONDS": str(INTERVAL),
        "CRIER_INBOX_READ_MAX_SECONDS": str(INTERVAL),
        "CRIER_RECONCILE_INTERVAL_SECONDS": "1",
    }
    with running_stack(request, request.param, workdir, env) as running:
        yield running


def test_an_answer_arrives_within_one_interval_and_a_reply_goes_out_once_though_its_answer_is_lost(
    inbox_stack: RunningStack,
):
    api = httpx.Client(
        base_url=inbox_stack.base_url,
        headers={"Authorization": f"Bearer {inbox_stack.create_token()}"},
        timeout=15,
    )
    # Every post this channel makes is stored by the network, whose answer then never comes back.
    channel = api.post(
        "/v1/channels",
        json={
            "network": "sandbox",
            "name": "Lossy library",
            "handle": "lossy_library",
            "settings": {"stored_then_timeout_rate": 1},
        },
    ).json()
    store = SandboxNetwork.from_settings(inbox_stack.settings).store
    # A first mention opens the channel's inbox, read a first time.
    store.add("grace", "Hello @lossy_library", f"elsewhere:{uuid.uuid4()}")
    wait_for(
        lambda: _items(api, channel["id"]), timeout=30, what="the first mention", context=inbox_stack.log
    )

    written_at = time.monotonic()
    mention = store.add("ada", "Does @lossy_library open on Sundays?", f"elsewhere:{uuid.uuid4()}")
    item = wait_for(
        lambda: next(
            (each for each in _items(api, channel["id"]) if each["external_id"] == mention["id"]), None
        ),
        timeout=20,
        every=0.05,
        what="the second mention in the inbox",
        context=inbox_stack.log,
    )
    waited = time.monotonic() - written_at
    assert waited <= INTERVAL + SWEEP + READ_TIME, f"the mention took {waited:.2f} s to arrive"
    assert item["kind"] == "mention"

    answered = api.post(f"/v1/inbox/{item['id']}/replies", json={"text": "Yes, from noon to five!"})
    assert answered.status_code == 201, answered.text
    post = wait_for(
        lambda: api.get(f"/v1/posts/{answered.json()['id']}").json(),
        lambda post: post["deliveries"][0]["state"] in {"published", "failed", "needs_review", "missed"},
        timeout=60,
        context=inbox_stack.log,
    )

    [delivery] = post["deliveries"]
    assert delivery["state"] == "published"
    [made] = store.replies_to([mention["id"]])
    assert made["text"] == "Yes, from noon to five!"
    assert delivery["url"].endswith(made["id"])
    assert _rows_answering(store, mention["id"]) == 1


def _items(api: httpx.Client, channel_id: str) -> list[dict[str, Any]]:
    return list(api.get("/v1/inbox", params={"channel_id": channel_id}).json()["items"])


def _rows_answering(store: SandboxStore, post_id: str) -> int:
    return len(store.replies_to([post_id]))
