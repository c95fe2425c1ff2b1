"""docs/networks.md's table of answers, held true over real HTTP: each network's adapter publishes through a
misbehaving proxy in front of that network's fake, the proxy gives each row's answer to the write, and what
the adapter makes of it must be the documented cell."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.networks.bluesky.adapter import BlueskyNetwork
from shared.networks.discord.adapter import DiscordNetwork
from shared.networks.facebook.adapter import FacebookNetwork
from shared.networks.instagram.adapter import InstagramNetwork
from shared.networks.linkedin.adapter import LinkedInNetwork
from shared.networks.mastodon.adapter import MastodonNetwork
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    MediaItem,
    Network,
    NetworkError,
    OutcomeUnknown,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.post_receiver.adapter import PostReceiverNetwork
from shared.networks.slack.adapter import SlackNetwork
from shared.networks.telegram.adapter import TelegramNetwork
from shared.networks.threads.adapter import ThreadsNetwork
from shared.networks.x.adapter import XNetwork
from tests.media.samples import image
from tests.networks.bluesky.fake import FakePds
from tests.networks.discord.fake import FakeDiscord
from tests.networks.facebook.fake import FakeGraph
from tests.networks.fake_servers import serving
from tests.networks.instagram.fake import FakeInstagram
from tests.networks.instagram.media_host import MediaHost
from tests.networks.linkedin.fake import MEMBER_SCOPES, FakeLinkedIn
from tests.networks.mastodon.fake import FakeMastodon
from tests.networks.misbehaving_proxy import (
    Answer,
    MisbehavingProxy,
    Mode,
    Rule,
    cloudflare_page,
    nginx_page,
)
from tests.networks.on_this_machine import outbound_here
from tests.networks.post_receiver.fake import FakePostReceiver
from tests.networks.slack.fake import FakeSlack
from tests.networks.telegram.fake import FakeTelegram
from tests.networks.threads.fake import FakeThreads
from tests.networks.x.fake import FakeX

DOCS = Path(__file__).resolve().parents[2] / "docs" / "networks.md"
QUICK = httpx.Timeout(2.0)
HERE = outbound_here()


def documented_table() -> tuple[list[str], dict[str, dict[str, str]]]:
    """The table under "Network by network": its networks, and each answer's cell for each network."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| answer to a publish |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    networks = header[1:]
    cells: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        answer, *row = (cell.strip() for cell in line.strip("|").split("|"))
        assert len(row) == len(networks), f"the row {answer!r} has {len(row)} cells, not {len(networks)}"
        cells[answer] = dict(zip(networks, row, strict=True))
    return networks, cells


NETWORKS, CELLS = documented_table()


@dataclass(frozen=True)
class Misbehaviour:
    """What the proxy does with the publish's write, to give one row's answer."""

    mode: Mode | None  # None: it forwards the write and its answer untouched
    answer: Answer | None = None

    @property
    def forwards(self) -> bool:
        return self.mode is not None and self.mode is not Mode.ANSWER


def json_answer(status: int, error: str) -> Answer:
    return Answer(status, f'{{"error": "{error}"}}', "application/json")


# Each row of the table as a request: one answer for every network. Where the proxy answers by itself, the
# server never sees the write, and it keeps answering so until the next case: a broken token, a server in
# trouble, answer every attempt alike.
ROWS = {
    "2xx with the post": Misbehaviour(None),
    # nginx's `error_page 502 504 =200 /maintenance.html`: a failure behind it, told as a 200 with a page.
    "2xx with a body that is not the post": Misbehaviour(
        Mode.ANSWER_AFTER_FORWARDING,
        Answer(200, "<html><head><title>Down for maintenance</title></head><body>Back soon</body></html>"),
    ),
    "301": Misbehaviour(Mode.ANSWER, nginx_page(301, Location="https://new-home.example/api/v1/statuses")),
    "400": Misbehaviour(Mode.ANSWER, nginx_page(400)),
    "400 saying the token is invalid": Misbehaviour(
        Mode.ANSWER, json_answer(400, "The access token is invalid")
    ),
    "401": Misbehaviour(Mode.ANSWER, nginx_page(401)),
    "403": Misbehaviour(Mode.ANSWER, json_answer(403, "This action is not allowed")),
    "403 saying the token lacks scopes": Misbehaviour(
        Mode.ANSWER, json_answer(403, "This action is outside the authorized scopes")
    ),
    "404": Misbehaviour(Mode.ANSWER, nginx_page(404)),
    "408": Misbehaviour(Mode.ANSWER, nginx_page(408)),
    "422": Misbehaviour(Mode.ANSWER, json_answer(422, "Validation failed: Text can't be blank")),
    "429": Misbehaviour(Mode.ANSWER, nginx_page(429, **{"Retry-After": "30"})),
    "500": Misbehaviour(Mode.ANSWER, nginx_page(500)),
    "502": Misbehaviour(Mode.ANSWER, nginx_page(502)),
    "503": Misbehaviour(Mode.ANSWER, nginx_page(503)),
    "504": Misbehaviour(Mode.ANSWER, nginx_page(504)),
    "524": Misbehaviour(Mode.ANSWER, cloudflare_page(524)),
    "502 after the post was stored": Misbehaviour(Mode.ANSWER_AFTER_FORWARDING, nginx_page(502)),
    "connection closed after sending": Misbehaviour(Mode.CLOSE_AFTER_FORWARDING),
}


@dataclass
class Stage:
    """One network's fake behind the proxy, and its adapter pointed at the proxy."""

    network: Network
    proxy: MisbehavingProxy
    account: Account
    # The publish's write: its method and path prefix.
    write: tuple[str, str]
    # The ids of the posts the fake holds, as the adapter names them.
    stored: Callable[[], list[str]]
    # Answers after which the adapter renews its session and sends the write once more.
    sent_again_after: frozenset[str] = field(default_factory=frozenset)
    # The media every draft carries, for a network that takes no post without (Instagram).
    media: tuple[MediaItem, ...] = ()


@contextmanager
def mastodon_stage() -> Iterator[Stage]:
    server = FakeMastodon().start()
    # A server of the Mastodon API that ignores Idempotency-Key: only a check can tell what a write did.
    server.honours_idempotency = False
    alice = server.add_account("alice", token="alice-token")
    try:
        with MisbehavingProxy(server.base_url) as proxy:
            yield Stage(
                network=MastodonNetwork(HERE, http=HERE.client(QUICK), settle=timedelta(0)),
                proxy=proxy,
                account=Account(
                    channel_id="mastodon",
                    handle="alice",
                    settings={"base_url": proxy.base_url},
                    credentials={"access_token": "alice-token"},
                ),
                write=("POST", "/api/v1/statuses"),
                stored=lambda: [status["id"] for status in server.statuses_of(alice)],
            )
    finally:
        server.stop()


@contextmanager
def bluesky_stage() -> Iterator[Stage]:
    pds = FakePds().start()
    alice = pds.add_account("alice.test", "app-password")
    try:
        with MisbehavingProxy(pds.base_url) as proxy:
            yield Stage(
                network=BlueskyNetwork(HERE, http=HERE.client(QUICK)),
                proxy=proxy,
                account=Account(
                    channel_id="bluesky",
                    handle="alice.test",
                    settings={"pds_url": proxy.base_url},
                    credentials={"identifier": "alice.test", "app_password": "app-password"},
                ),
                write=("POST", "/xrpc/com.atproto.repo.createRecord"),
                stored=lambda: list(pds.posts_of(alice)),
                # A 401 may be an expired access token: the session is renewed and the write sent once more.
                sent_again_after=frozenset({"401"}),
            )
    finally:
        pds.stop()


@contextmanager
def discord_stage() -> Iterator[Stage]:
    with serving(FakeDiscord()) as discord, MisbehavingProxy(discord.base_url) as proxy:
        yield Stage(
            network=DiscordNetwork(HERE, timeout=QUICK, api_base=f"{proxy.base_url}/api/v10"),
            proxy=proxy,
            account=Account(
                channel_id="discord",
                handle="Crier",
                settings={},
                credentials={"webhook_url": discord.add_webhook()},
            ),
            write=("POST", "/api/v10/webhooks/"),
            stored=lambda: list(discord.messages),
        )


@contextmanager
def slack_stage() -> Iterator[Stage]:
    with serving(FakeSlack()) as slack, MisbehavingProxy(slack.base_url) as proxy:
        yield Stage(
            network=SlackNetwork(HERE, timeout=QUICK, hooks_base=proxy.base_url),
            proxy=proxy,
            account=Account(
                channel_id="slack",
                handle="#general",
                settings={},
                credentials={"webhook_url": slack.add_webhook()},
            ),
            write=("POST", "/services/"),
            # Slack names no message; the text of each ends with the delivery's key here.
            stored=lambda: [str(posted["text"]).rsplit(" ", 1)[-1] for posted in slack.posted],
        )


@contextmanager
def webhook_stage() -> Iterator[Stage]:
    secret = "a-secret-of-at-least-16-characters"
    with serving(FakePostReceiver(secret=secret)) as receiver, MisbehavingProxy(receiver.base_url) as proxy:
        yield Stage(
            network=PostReceiverNetwork(HERE, timeout=QUICK),
            proxy=proxy,
            account=Account(
                channel_id="webhook",
                handle="hooks",
                settings={"url": f"{proxy.base_url}/hooks/crier"},
                credentials={"secret": secret},
            ),
            write=("POST", "/hooks/crier"),
            # The receiver's own id for each post it took, as it answers it.
            stored=lambda: [
                receiver.answers[received.headers["Idempotency-Key"]]["id"] for received in receiver.received
            ],
        )


@contextmanager
def telegram_stage() -> Iterator[Stage]:
    with serving(FakeTelegram()) as telegram, MisbehavingProxy(telegram.base_url) as proxy:
        token = telegram.add_bot()
        channel = telegram.add_channel("crier_news")
        telegram.make_admin(token, channel)
        yield Stage(
            network=TelegramNetwork(HERE, api_url=proxy.base_url, timeout=QUICK),
            proxy=proxy,
            account=Account(
                channel_id="telegram",
                handle="@crier_news",
                settings={"chat_id": "@crier_news"},
                credentials={"bot_token": token},
            ),
            write=("POST", "/bot"),
            stored=lambda: [f"{chat}/{message}" for chat, message in telegram.messages],
        )


@contextmanager
def facebook_stage() -> Iterator[Stage]:
    with serving(FakeGraph()) as graph, MisbehavingProxy(graph.base_url) as proxy:
        page = graph.add_page("Crier Café")
        yield Stage(
            network=FacebookNetwork(
                HERE,
                http=HERE.client(QUICK),
                graph_url=proxy.base_url,
                version=graph.version,
                dialog_url="https://www.facebook.com",
                settle=timedelta(0),
            ),
            proxy=proxy,
            account=Account(
                channel_id="facebook",
                handle=page.username,
                settings={"page_id": page.id},
                credentials={"page_access_token": page.token},
            ),
            write=("POST", f"/{graph.version}/{page.id}/feed"),
            stored=lambda: [post["id"] for post in graph.posts_of(page)],
        )


@contextmanager
def linkedin_stage() -> Iterator[Stage]:
    with serving(FakeLinkedIn()) as linkedin, MisbehavingProxy(linkedin.base_url) as proxy:
        ada = linkedin.add_member("Ada Lovelace")
        linkedin.issue(ada, "ada-token", MEMBER_SCOPES | {"r_member_social"})
        yield Stage(
            network=LinkedInNetwork(
                HERE, http=HERE.client(QUICK), api_url=proxy.base_url, settle=timedelta(0)
            ),
            proxy=proxy,
            account=Account(
                channel_id="linkedin",
                handle=ada.urn,
                settings={"author": "member"},
                credentials={"access_token": "ada-token", "member_urn": ada.urn},
            ),
            write=("POST", "/rest/posts"),
            stored=lambda: [post["id"] for post in linkedin.posts_of(ada.urn)],
        )


@contextmanager
def threads_stage() -> Iterator[Stage]:
    with serving(FakeThreads()) as threads, MisbehavingProxy(threads.base_url) as proxy:
        alice = threads.add_user("alice", token="alice-token")
        yield Stage(
            network=ThreadsNetwork(HERE, http=HERE.client(QUICK), api_url=proxy.base_url),
            proxy=proxy,
            account=Account(
                channel_id="threads",
                handle="alice",
                settings={},
                credentials={"access_token": "alice-token", "user_id": alice.id},
            ),
            # Only the publish of a container makes a post; making the container goes through untouched.
            write=("POST", f"/v1.0/{alice.id}/threads_publish"),
            stored=lambda: [media.id for media in threads.posts_of(alice)],
        )


@contextmanager
def x_stage() -> Iterator[Stage]:
    with serving(FakeX()) as server, MisbehavingProxy(server.base_url) as proxy:
        alice = server.add_account("alice", access_token="alice-access", refresh_token="alice-refresh")
        yield Stage(
            network=XNetwork(HERE, http=HERE.client(QUICK), api_url=proxy.base_url, settle=timedelta(0)),
            proxy=proxy,
            account=Account(
                channel_id="x",
                handle="alice",
                settings={},
                credentials={"access_token": "alice-access", "refresh_token": "alice-refresh"},
            ),
            write=("POST", "/2/tweets"),
            stored=lambda: [tweet.id for tweet in server.posts_of(alice)],
        )


@contextmanager
def instagram_stage() -> Iterator[Stage]:
    with serving(FakeInstagram()) as instagram, serving(MediaHost()) as host:
        alice = instagram.add_account("alice.makes")
        with MisbehavingProxy(instagram.base_url) as proxy:
            yield Stage(
                network=InstagramNetwork(
                    HERE,
                    http=HERE.client(QUICK),
                    graph_url=proxy.base_url,
                    poll_interval=0.01,
                    poll_attempts=5,
                ),
                proxy=proxy,
                account=Account(
                    channel_id="instagram",
                    handle="alice.makes",
                    credentials={"access_token": alice.token, "ig_user_id": alice.ig_user_id},
                ),
                # The publish of the container; the container itself is made, and read, past the proxy's rule.
                write=("POST", f"/v24.0/{alice.ig_user_id}/media_publish"),
                stored=lambda: [media["id"] for media in instagram.media_of(alice)],
                media=(host.item(image("JPEG")),),
            )


STAGES = {
    "mastodon": mastodon_stage,
    "bluesky": bluesky_stage,
    "discord": discord_stage,
    "slack": slack_stage,
    "webhook": webhook_stage,
    "telegram": telegram_stage,
    "facebook": facebook_stage,
    "linkedin": linkedin_stage,
    "threads": threads_stage,
    "x": x_stage,
    "instagram": instagram_stage,
}


@pytest.fixture(scope="module")
def stage(request: pytest.FixtureRequest) -> Iterator[Stage]:
    with STAGES[request.param]() as started:
        yield started


def what_happens_next(outcome: PublishedPost | NetworkError, network: Network) -> str:
    """The table's word for what the delivery does after this outcome of a publish."""
    if isinstance(outcome, PublishedPost):
        return "published"
    if isinstance(outcome, OutcomeUnknown):
        return "checked" if network.info.can_find_published else "person"
    words = {Rejected: "failed", Transient: "retried", RateLimited: "waits", AuthExpired: "reconnect"}
    return words.get(type(outcome), f"{type(outcome).__name__}, which the table has no word for")


def test_the_table_has_a_request_for_every_row_and_a_stage_for_every_network() -> None:
    assert list(CELLS) == list(ROWS)
    assert list(STAGES) == NETWORKS
    assert {cell for row in CELLS.values() for cell in row.values()} <= {
        "published",
        "checked",
        "person",
        "failed",
        "retried",
        "waits",
        "reconnect",
    }


# Two decorators, not one over pairs: pytest keeps a module's fixture per parameter of its own, so each
# network's servers start once.
@pytest.mark.parametrize("row", list(CELLS))
@pytest.mark.parametrize("stage", NETWORKS, indirect=True)
def test_a_publish_meets_each_answer_as_the_docs_table_says(stage: Stage, row: str) -> None:
    network_name = stage.network.info.name
    misbehaviour = ROWS[row]
    stage.proxy.reset()
    method, path = stage.write
    rule = None
    if misbehaviour.mode is not None:
        # An answer of the proxy's own goes to every write until the next case; one after forwarding, once.
        times = None if misbehaviour.mode is Mode.ANSWER else 1
        rule = stage.proxy.add(Rule(method, path, misbehaviour.mode, misbehaviour.answer, times=times))
    key = str(uuid.uuid4())
    draft = Draft(text=f"{row} on {network_name}: {key}", media=stage.media)
    before = set(stage.stored())
    attempted_at = datetime.now(UTC)

    try:
        outcome: PublishedPost | NetworkError = stage.network.publish(stage.account, draft, key)
    except NetworkError as error:
        outcome = error

    assert what_happens_next(outcome, stage.network) == CELLS[row][network_name], outcome
    if rule is not None:
        assert rule.hits == (2 if row in stage.sent_again_after else 1), "the answer went to the write only"
    made = [post for post in stage.stored() if post not in before]
    assert len(made) == (1 if misbehaviour.forwards or misbehaviour.mode is None else 0)
    assert len(stage.proxy.forwarded_to(method, path)) == len(made)
    if isinstance(outcome, PublishedPost) and outcome.external_id != key:
        # A post the network named is the one it stored (without a name, the delivery's key stands in).
        assert outcome.external_id == made[0]

    if isinstance(outcome, OutcomeUnknown) and stage.network.info.can_find_published:
        found = stage.network.find_published(
            stage.account, key, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
        )
        # The check finds exactly the post the server stored, or says there is none when it stored none;
        # and it posts nothing itself.
        assert (found.external_id if found else None) == (made[0] if made else None)
        assert [post for post in stage.stored() if post not in before] == made
