"""One post to every network Crier ships at once, through `crier up`'s real processes: each exactly once.

The networks are this suite's fakes of their documented APIs (tests/networks/<network>/fake.py) and, for
Usenet, a real INN, all serving on this machine; `crier up` is pointed at them through its settings, as an
operator points it at a proxy, and its worker reaches them over real connections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db import create_db_engine
from shared.networks.sandbox.store import SandboxStore
from tests.driving import wait_for
from tests.e2e.conftest import RunningStack, running_stack
from tests.media.samples import image
from tests.networks.bluesky.fake import FakePds
from tests.networks.discord.fake import FakeDiscord
from tests.networks.facebook.fake import serving_one_account as facebook_account
from tests.networks.fake_servers import serving
from tests.networks.instagram.fake import serving_one_account as instagram_account
from tests.networks.linkedin.fake import serving_one_account as linkedin_account
from tests.networks.mastodon.fake import FakeMastodon
from tests.networks.nntp.inn import GROUP, ThrowawayInn, missing
from tests.networks.nntp.wire import Reader
from tests.networks.post_receiver.fake import FakePostReceiver
from tests.networks.slack.fake import FakeSlack
from tests.networks.telegram.fake import serving_one_account as telegram_account
from tests.networks.threads.fake import serving_one_account as threads_account
from tests.networks.x.fake import serving_one_account as x_account

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = "every-network-webhook-secret-0123456789"
FINAL = {"published", "failed", "unknown", "needs_review", "missed", "cancelled"}
# Words every network takes as they are: no reserved character of LinkedIn's little text, no markup.
TEXT = "Spring meetup on Friday at the library, everyone welcome"


@dataclass
class Network:
    """One network's channel, and how to count the posts it holds with this test's text."""

    connection: dict[str, Any]
    posts_with_text: Callable[[], int]


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Network], dict[str, str]]]:
    """Every network's server started, its channel's connection, and the environment pointing Crier at it."""
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)
    with ExitStack() as running:
        environment: dict[str, str] = {"CRIER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1"}
        found: dict[str, Network] = {}

        mastodon = running.enter_context(serving(FakeMastodon()))
        alice = mastodon.add_account("alice", token="alice-token")
        found["mastodon"] = Network(
            _connection("mastodon", {"base_url": mastodon.base_url}, {"access_token": "alice-token"}),
            lambda: _count(status["text"] for status in mastodon.statuses_of(alice)),
        )
        pds = running.enter_context(serving(FakePds()))
        bob = pds.add_account("bob.test", "app-password")
        found["bluesky"] = Network(
            _connection(
                "bluesky",
                {"pds_url": pds.base_url},
                {"identifier": "bob.test", "app_password": "app-password"},
            ),
            lambda: _count(record["value"]["text"] for record in pds.posts_of(bob).values()),
        )
        receiver = running.enter_context(serving(FakePostReceiver(secret=WEBHOOK_SECRET)))
        found["webhook"] = Network(
            _connection("webhook", {"url": receiver.url}, {"secret": WEBHOOK_SECRET}),
            lambda: _count(received.json["text"] for received in receiver.received),
        )

        discord = running.enter_context(serving(FakeDiscord()))
        environment["CRIER_DISCORD_API_URL"] = f"{discord.base_url}/api/v10"
        found["discord"] = Network(
            _connection("discord", {}, {"webhook_url": discord.add_webhook()}),
            lambda: _count(message.get("content") for message in discord.messages.values()),
        )
        slack = running.enter_context(serving(FakeSlack()))
        environment["CRIER_SLACK_HOOKS_URL"] = slack.base_url
        found["slack"] = Network(
            _connection("slack", {}, {"webhook_url": slack.add_webhook()}),
            lambda: _count(posted.get("text") for posted in slack.posted),
        )
        sandbox_file = tmp_path_factory.mktemp("sandbox") / "sandbox.db"
        environment["CRIER_SANDBOX_STORE_URL"] = f"sqlite:///{sandbox_file}"
        sandbox = SandboxStore(create_db_engine(f"sqlite:///{sandbox_file}"))
        running.callback(sandbox.engine.dispose)
        found["sandbox"] = Network(
            _connection("sandbox", {}, {}), lambda: sandbox.count_posts_of("crier-sandbox")
        )
        telegram, telegram_channel = telegram_account()
        running.callback(telegram.stop)
        environment["CRIER_TELEGRAM_API_URL"] = telegram.base_url
        found["telegram"] = Network(
            _connection("telegram", **telegram_channel),
            lambda: _count(message.get("text") for message in telegram.messages.values()),
        )
        facebook, facebook_channel = facebook_account()
        running.callback(facebook.stop)
        environment |= facebook_channel.pop("environment")
        [page] = facebook.pages.values()
        found["facebook"] = Network(
            _connection("facebook", **facebook_channel),
            lambda: _count(post.get("message") for post in facebook.posts_of(page)),
        )
        linkedin, linkedin_channel = linkedin_account()
        running.callback(linkedin.stop)
        environment |= linkedin_channel.pop("environment")
        author = linkedin_channel["credentials"]["member_urn"]
        found["linkedin"] = Network(
            _connection("linkedin", **linkedin_channel),
            lambda: _count(post["displayed"] for post in linkedin.posts_of(author)),
        )
        threads, threads_channel = threads_account()
        running.callback(threads.stop)
        environment |= threads_channel.pop("environment")
        [threads_user] = threads.users.values()
        found["threads"] = Network(
            _connection("threads", **threads_channel),
            lambda: _count(media.text for media in threads.posts_of(threads_user)),
        )
        x, x_channel = x_account()
        running.callback(x.stop)
        environment |= x_channel.pop("environment")
        x_channel.pop("handle")
        [x_user] = x.users.values()
        found["x"] = Network(
            _connection("x", **x_channel),
            lambda: _count(tweet.sent_text for tweet in x.posts_of(x_user)),
        )
        instagram, instagram_channel = instagram_account()
        running.callback(instagram.stop)
        environment |= instagram_channel.pop("environment")
        [instagram_user] = instagram.accounts.values()
        # Instagram takes no post without media: it gets the same words with a photo, in a post of its own.
        found["instagram"] = Network(
            _connection("instagram", **instagram_channel),
            lambda: _count(media["caption"] for media in instagram.media_of(instagram_user)),
        )
        inn = running.enter_context(ThrowawayInn.start())
        found["nntp"] = Network(
            _connection(
                "nntp",
                {
                    "server": "127.0.0.1",
                    "port": inn.port,
                    "newsgroups": [GROUP],
                    "from": "Crier <crier@crier.test>",
                    # The test server's certificate is its own: the article goes over the loopback in clear.
                    "tls": "none",
                },
                {},
            ),
            lambda: _articles_in(inn.port),
        )
        yield found, environment


@pytest.fixture(scope="module")
def every_network_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    networks: tuple[dict[str, Network], dict[str, str]],
) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp("every-network")
    with running_stack(request, "embedded", Path(workdir), extra_env=networks[1]) as running:
        yield running


def test_one_post_goes_out_once_on_every_network(
    every_network_stack: RunningStack, networks: tuple[dict[str, Network], dict[str, str]]
) -> None:
    found, _ = networks
    api = httpx.Client(
        base_url=every_network_stack.base_url,
        headers={"Authorization": f"Bearer {every_network_stack.create_token()}"},
        timeout=15,
    )
    listed = {network["name"] for network in api.get("/v1/networks").json()["items"]}
    assert set(found) <= listed
    channel_ids = {}
    for name, network in found.items():
        response = api.post("/v1/channels", json=network.connection)
        assert response.status_code == 201, f"{name}: {response.text}"
        channel_ids[name] = response.json()["id"]

    photo = api.post(
        "/v1/media",
        files={"file": ("meetup.jpg", image("JPEG", size=(64, 48)), "image/jpeg")},
        data={"alt_text": "The library's reading room"},
    )
    assert photo.status_code == 201, photo.text
    scheduled_at = datetime.now(UTC) + timedelta(seconds=3)
    posts = [
        _schedule(api, [id_ for name, id_ in channel_ids.items() if name != "instagram"], scheduled_at),
        _schedule(api, [channel_ids["instagram"]], scheduled_at, media=[photo.json()["id"]]),
    ]
    deliveries = [
        delivery
        for post_id in posts
        for delivery in wait_for(
            lambda post_id=post_id: api.get(f"/v1/posts/{post_id}").json(),
            lambda p: all(d["state"] in FINAL for d in p["deliveries"]),
            timeout=60,
            context=every_network_stack.log,
        )["deliveries"]
    ]

    states = {delivery["network"]: delivery["state"] for delivery in deliveries}
    assert states == dict.fromkeys(found, "published")
    held = {name: network.posts_with_text() for name, network in found.items()}
    assert held == dict.fromkeys(found, 1)


def _schedule(api: httpx.Client, channel_ids: list[str], at: datetime, media: list[str] | None = None) -> str:
    body = {"text": TEXT, "channel_ids": channel_ids, "scheduled_at": at.isoformat(), "media": media or []}
    created = api.post("/v1/posts", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _connection(network: str, settings: dict[str, Any], credentials: dict[str, Any]) -> dict[str, Any]:
    return {
        "network": network,
        "name": f"Crier on {network}",
        "handle": f"crier-{network}",
        "settings": settings,
        "credentials": credentials,
    }


def _count(texts: Iterator[Any] | Any) -> int:
    return sum(1 for text in texts if isinstance(text, str) and TEXT in text)


def _articles_in(port: int) -> int:
    reader = Reader(port)
    try:
        return reader.count(GROUP)
    finally:
        reader.close()
