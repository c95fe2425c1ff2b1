"""The Mastodon adapter against a fake Mastodon server over real HTTP, and its error mapping exactly."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.networks.mastodon.adapter import MastodonNetwork
from shared.networks.mastodon.oauth import authorize_url, exchange_code, register_app
from shared.networks.ports import (
    Account,
    AuthExpired,
    CannotTell,
    Draft,
    Engagement,
    MediaItem,
    Network,
    OutcomeUnknown,
    PostGone,
    RateLimited,
    Rejected,
    ReportsAudience,
    Transient,
)
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry
from shared.networks.toolkit.calls import Calls
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon, serve
from tests.networks.misbehaving_proxy import proxy_error_page
from tests.networks.on_this_machine import outbound_here

KEY = "2f1d6c1e-0000-4000-8000-000000000001"
HERE = outbound_here()
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def alice(server: FakeMastodon) -> FakeAccount:
    return server.add_account("alice", token="alice-token")


def make_network(read_timeout: float = 0.5, **options: Any) -> MastodonNetwork:
    # Short read timeouts so a stalled server is seen in half a second; no waiting between media polls.
    http = HERE.client(httpx.Timeout(2.0, read=read_timeout))
    defaults: dict[str, Any] = {"media_poll_interval": 0.0, "media_poll_attempts": 5, "settle": timedelta(0)}
    return MastodonNetwork(HERE, http=http, **(defaults | options))


@pytest.fixture
def network() -> MastodonNetwork:
    return make_network()


def account_on(server: FakeMastodon, token: str = "alice-token", **settings: Any) -> Account:
    return Account(
        channel_id="channel-1",
        handle="alice",
        settings={"base_url": server.base_url, **settings},
        credentials={"access_token": token},
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- The adapter as Crier loads it ---------------------------------------------------------------------


def test_the_entry_point_builds_an_adapter_that_satisfies_the_port() -> None:
    entry = EntryPoint(
        name="mastodon",
        value="shared.networks.mastodon.adapter:MastodonNetwork.from_settings",
        group=ENTRY_POINT_GROUP,
    )
    adapter = NetworkRegistry(Settings(), entries=[entry]).get("mastodon")
    assert isinstance(adapter, Network)
    assert adapter.info.name == "mastodon"
    assert adapter.info.text_limit == 500
    assert adapter.info.credential_keys == ("access_token",)
    assert adapter.info.media is not None
    assert adapter.info.media.max_items == 4
    assert adapter.info.account_rate is not None


# -- Channel settings ----------------------------------------------------------------------------------


def test_an_https_server_is_accepted(network: MastodonNetwork) -> None:
    settings = {"base_url": "https://mastodon.example/", "visibility": "unlisted", "language": "de"}
    assert network.check_settings(settings) == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "base_url is required"),
        ({"base_url": "ftp://mastodon.example"}, "must be an address"),
        ({"base_url": "http://mastodon.example"}, "must use https"),
        ({"base_url": "http://localhost:3000"}, "on this machine or a private network"),
        ({"base_url": "https://api.localhost"}, "on this machine or a private network"),
        ({"base_url": "https://127.0.0.1:3000"}, "on this machine or a private network"),
        ({"base_url": "https://[::1]"}, "on this machine or a private network"),
        ({"base_url": "https://10.0.0.5"}, "on this machine or a private network"),
        ({"base_url": "https://169.254.169.254"}, "on this machine or a private network"),
        ({"base_url": "https://mastodon.example:99999"}, "must be an address"),
        ({"base_url": "https://0177.0.0.1"}, "must be an address"),
        ({"base_url": "https://mastodon.example?x=1"}, "without a query"),
        ({"base_url": "https://mastodon.example", "visibility": "everyone"}, "visibility must be one of"),
        ({"base_url": "https://mastodon.example", "language": "english"}, "ISO 639"),
        ({"base_url": "https://mastodon.example", "colour": "blue"}, "unknown option 'colour'"),
    ],
)
def test_unusable_settings_are_explained(settings: dict[str, Any], expected: str) -> None:
    problems = MastodonNetwork().check_settings(settings)
    assert any(expected in problem for problem in problems), problems


def test_plain_http_is_allowed_only_to_a_server_the_operator_allowed(network: MastodonNetwork) -> None:
    assert network.check_settings({"base_url": "http://127.0.0.1:3000"}) == []
    assert network.check_settings({"base_url": "http://localhost:3000"}) != []
    assert network.check_settings({"base_url": "http://[::1]:3000"}) != []
    assert MastodonNetwork().check_settings({"base_url": "http://127.0.0.1:3000"}) != []


def test_the_setting_channels_once_carried_is_read_and_grants_nothing() -> None:
    strict = MastodonNetwork()
    legacy = {"base_url": "https://mastodon.example", "allow_insecure_loopback": True}

    assert strict.check_settings(legacy) == []
    [problem] = strict.check_settings({"base_url": "http://127.0.0.1:3000", "allow_insecure_loopback": True})
    assert "must use https" in problem or "private network" in problem


# -- Validation and preview ----------------------------------------------------------------------------


def test_validate_reports_media_mastodon_would_refuse(network: MastodonNetwork) -> None:
    draft = Draft(
        text="Look",
        media=(
            MediaItem("image/png", PNG, alt_text="x" * 1501),
            MediaItem("image/tiff", PNG),
            *[MediaItem("image/png", PNG)] * 3,
        ),
        options={"visibility": "friends"},
    )
    problems = network.validate(draft)
    assert any("at most 4" in problem for problem in problems)
    assert any("attachment 1: the description is over 1500" in problem for problem in problems)
    assert any("attachment 2: Crier sends" in problem for problem in problems)
    assert any("visibility must be one of" in problem for problem in problems)


def test_preview_counts_with_the_instances_own_limit_and_url_weight(alice: FakeAccount) -> None:
    server = FakeMastodon(max_characters=60, url_weight=10).start()
    try:
        server.add_account("alice", token="alice-token")
        network = make_network()
        draft = Draft(
            text="See https://example.com/a/very/long/path/indeed",
            thread=("x" * 61,),
            options={"content_warning": "CW"},
        )
        post, reply = network.preview(account_on(server), draft)
        assert (post.length, post.limit, post.problems) == (len("See ") + 10 + len("CW"), 60, ())
        assert reply.length == 63
        assert len(reply.problems) == 1
        assert "allows 60" in reply.problems[0]
        network.preview(account_on(server), draft)
        assert len(server.requests_to("GET", "/api/v2/instance")) == 1, "the limits are cached"
    finally:
        server.stop()


# -- Publishing ----------------------------------------------------------------------------------------


def test_publish_posts_once_with_the_idempotency_key_and_the_channels_options(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    account = account_on(server, visibility="unlisted", language="de")
    draft = Draft(text="Hallo Welt", options={"content_warning": "Spoiler"})

    published = network.publish(account, draft, KEY)
    again = network.publish(account, draft, KEY)

    assert again == published
    assert published.url == f"{server.base_url}/@alice/{published.external_id}"
    (status,) = server.statuses_of(alice)
    assert (status["text"], status["spoiler_text"], status["visibility"], status["language"]) == (
        "Hallo Welt",
        "Spoiler",
        "unlisted",
        "de",
    )
    (first, _) = server.requests_to("POST", "/api/v1/statuses")
    assert first.headers["Idempotency-Key"] == KEY
    assert first.headers["Authorization"] == "Bearer alice-token"


def test_a_thread_is_posted_as_replies_each_with_its_own_key(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    published = network.publish(account_on(server), Draft(text="1/3", thread=("2/3", "3/3")), KEY)

    assert len(published.thread_ids) == 2
    chain = [published.external_id, *published.thread_ids]
    statuses = {status["id"]: status for status in server.statuses_of(alice)}
    assert [statuses[i]["text"] for i in chain] == ["1/3", "2/3", "3/3"]
    assert [statuses[i]["in_reply_to_id"] for i in chain] == [None, *chain[:-1]]
    keys = [r.headers["Idempotency-Key"] for r in server.requests_to("POST", "/api/v1/statuses")]
    assert keys == [KEY, f"{KEY}:1", f"{KEY}:2"]


def test_media_uploaded_at_once_is_attached_with_its_description(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    draft = Draft(text="A cat", media=(MediaItem("image/png", PNG, alt_text="A grey cat asleep"),))

    network.publish(account_on(server), draft, KEY)

    (upload,) = server.requests_to("POST", "/api/v2/media")
    assert upload.form["description"] == ["A grey cat asleep"]
    (status,) = server.statuses_of(alice)
    assert len(status["media_ids"]) == 1
    assert server.requests_to("GET", "/api/v1/media/") == []


def test_media_still_processing_is_polled_until_ready(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.media_processing_polls = 3
    draft = Draft(text="A film", media=(MediaItem("video/mp4", b"\0" * 128, alt_text="Waves"),))

    network.publish(account_on(server), draft, KEY)

    assert len(server.requests_to("GET", "/api/v1/media/")) == 4  # three 206s, then 200
    (status,) = server.statuses_of(alice)
    assert len(status["media_ids"]) == 1


def test_media_that_never_finishes_is_transient_and_posts_nothing(
    server: FakeMastodon, alice: FakeAccount
) -> None:
    server.media_processing_polls = 100
    network = make_network(media_poll_attempts=3)

    with pytest.raises(Transient, match="still processing"):
        network.publish(account_on(server), Draft(text="A film", media=(MediaItem("video/mp4", b"\0"),)), KEY)

    assert server.statuses_of(alice) == []


def test_a_revoked_token_means_the_credentials_expired(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.revoke("alice-token")
    with pytest.raises(AuthExpired, match="The access token is invalid"):
        network.publish(account_on(server), Draft(text="Hello"), KEY)


def test_a_channel_without_a_token_must_be_connected_again(
    server: FakeMastodon, network: MastodonNetwork
) -> None:
    account = Account(channel_id="c", handle="a", settings={"base_url": server.base_url})
    with pytest.raises(AuthExpired, match="no access token"):
        network.publish(account, Draft(text="Hello"), KEY)


def test_text_over_the_servers_limit_is_rejected_with_mastodons_words(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    with pytest.raises(Rejected, match="Validation failed: Text character limit of 500 exceeded"):
        network.publish(account_on(server), Draft(text="x" * 501), KEY)


def test_a_429_carries_the_time_the_limit_resets(server: FakeMastodon, alice: FakeAccount) -> None:
    server.statuses_per_window = 1
    network = make_network()
    network.publish(account_on(server), Draft(text="one"), KEY)

    with pytest.raises(RateLimited) as raised:
        network.publish(account_on(server), Draft(text="two"), "another-key")

    reset_at = raised.value.reset_at
    assert reset_at is not None
    assert reset_at.tzinfo is not None
    period = int(server.window.total_seconds())
    assert reset_at.timestamp() % period == 0
    assert datetime.now(UTC) < reset_at <= datetime.now(UTC) + server.window


@pytest.mark.parametrize("status", [500, 502, 503, 504, 524])
def test_a_5xx_to_a_post_may_mean_it_was_stored(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, status: int
) -> None:
    # Refused before storing here; a proxy answers the same after the server stored it: only a look tells.
    server.fail_next_posts = [status]
    with pytest.raises(OutcomeUnknown, match=f"answered {status}.*may have been carried out"):
        network.publish(account_on(server), Draft(text="Hello"), KEY)
    assert server.statuses_of(alice) == []
    assert network.find_published(account_on(server), KEY) is None


@pytest.mark.parametrize("status", [502, 503, 504, 524])
def test_a_proxys_5xx_after_the_server_stored_the_post_is_found_not_posted_again(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, status: int
) -> None:
    # A server of the Mastodon API that ignores Idempotency-Key: a blind retry would make a second status.
    server.honours_idempotency = False
    server.answer_after_storing = [status]
    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_on(server), Draft(text="Hello"), KEY)

    found = network.find_published(account_on(server), KEY)

    assert found is not None
    assert [found.external_id] == [status["id"] for status in server.statuses_of(alice)]
    # The proxy's own words, read out of its HTML page: its title first.
    title = re.search("<title>(.*)</title>", proxy_error_page(status).body)
    assert title is not None
    assert title[1] in str(raised.value)
    assert "<" not in str(raised.value)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("json", "Service Unavailable"),
        ("text", "503 Service Unavailable"),
        ("html", "503 Service Temporarily"),
    ],
)
def test_the_servers_words_are_kept_whatever_the_body(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, body: str, words: str
) -> None:
    server.fail_next_posts, server.failure_body = [503], body
    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_on(server), Draft(text="Hello"), KEY)
    message = str(raised.value)
    assert words in message
    assert "<" not in message
    assert "\r" not in message


def test_a_token_without_the_write_scope_asks_for_reconnection(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.read_only_tokens.add("alice-token")
    with pytest.raises(AuthExpired, match="403: This action is outside the authorized scopes"):
        network.publish(account_on(server), Draft(text="Hello"), KEY)


def test_a_403_about_the_action_not_the_token_is_a_refusal(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.not_permitted = True
    with pytest.raises(Rejected, match="403: This action is not allowed"):
        network.publish(account_on(server), Draft(text="Hello"), KEY)


def test_a_post_carries_the_servers_own_time(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.advance(timedelta(minutes=3))  # the server's clock is ahead of Crier's
    published = network.publish(account_on(server), Draft(text="1/2", thread=("2/2",)), KEY)
    stored = server.statuses_of(alice)
    assert [part.created_at for part in published.parts] == [
        status["created_at"].replace(microsecond=status["created_at"].microsecond // 1000 * 1000)
        for status in stored
    ]


def test_a_refused_connection_is_transient(network: MastodonNetwork) -> None:
    account = Account(
        channel_id="c",
        handle="a",
        settings={"base_url": f"http://127.0.0.1:{free_port()}"},
        credentials={"access_token": "t"},
    )
    with pytest.raises(Transient, match="no connection could be made"):
        network.publish(account, Draft(text="Hello"), KEY)


@pytest.mark.parametrize("mode", ["timeout", "disconnect"])
def test_a_status_stored_then_unanswered_is_an_unknown_outcome(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, mode: str
) -> None:
    server.stall_next_posts, server.stall_mode = 1, mode
    with pytest.raises(OutcomeUnknown, match="it may have gone through"):
        network.publish(account_on(server), Draft(text="Hello"), KEY)
    assert len(server.statuses_of(alice)) == 1


def test_a_thread_cut_short_passes_on_what_was_posted_and_a_retry_finishes_it(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.honours_idempotency = False  # so only the parts passed back keep the retry from repeating them
    network.publish(account_on(server), Draft(text="warm-up"), "warm-up-key")
    server.statuses_per_window = 3  # the warm-up, the post and its first reply fit; the second reply does not
    draft = Draft(text="1/3", thread=("2/3", "3/3"))
    with pytest.raises(RateLimited) as raised:
        network.publish(account_on(server), draft, KEY)
    assert [part.external_id for part in raised.value.published] == [
        status["id"] for status in server.statuses_of(alice)[1:]
    ]

    server.statuses_per_window = 10
    finished = network.publish(account_on(server), draft, KEY, published=raised.value.published)

    mine = server.statuses_of(alice)[1:]
    assert [status["text"] for status in mine] == ["1/3", "2/3", "3/3"]
    assert finished.parts[:2] == raised.value.published
    assert [part.external_id for part in finished.parts] == [status["id"] for status in mine]
    assert mine[2]["in_reply_to_id"] == mine[1]["id"]


def test_an_idempotency_key_is_forgotten_after_an_hour(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    # Why find_published never posts again to ask: after the hour, the same key makes a second post.
    network.publish(account_on(server), Draft(text="Hello"), KEY)
    server.advance(timedelta(minutes=61))
    network.publish(account_on(server), Draft(text="Hello"), KEY)
    assert len(server.statuses_of(alice)) == 2


# -- Finding what an uncertain attempt made ------------------------------------------------------------


def test_find_published_finds_a_status_stored_before_the_timeout(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.post_by_hand(alice, "Something else")
    server.stall_next_posts = 1
    draft = Draft(text="The news", thread=("More news",), options={"content_warning": "long"})
    with pytest.raises(OutcomeUnknown):
        network.publish(account_on(server), draft, KEY)
    # The thread stopped at the post; a retry within the hour completes it under the same keys.
    server.stall_next_posts = 0
    published = network.publish(account_on(server), draft, KEY)

    found = network.find_published(account_on(server), KEY)

    assert found == published
    assert len(server.statuses_of(alice)) == 3


def test_find_published_in_another_process_needs_the_draft_and_the_attempt_time(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    attempted_at = datetime.now(UTC)
    server.stall_next_posts = 1
    with pytest.raises(OutcomeUnknown):
        network.publish(account_on(server), Draft(text="Hello"), KEY)
    elsewhere = make_network()

    with pytest.raises(CannotTell, match="nothing to recognise it by"):
        elsewhere.find_published(account_on(server), KEY)
    found = elsewhere.find_published(
        account_on(server), KEY, draft=Draft(text="Hello"), attempted_at=attempted_at
    )

    assert found is not None
    assert found.external_id == server.statuses_of(alice)[0]["id"]


def test_find_published_says_absent_after_a_refused_attempt(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.post_by_hand(alice, "Hello")  # the same words, but from another app: not ours
    server.max_characters = 3
    with pytest.raises(Rejected, match="422"):
        network.publish(account_on(server), Draft(text="Hello"), KEY)

    assert network.find_published(account_on(server), KEY) is None


def test_absence_is_not_claimed_while_a_late_request_could_still_land(
    server: FakeMastodon, alice: FakeAccount
) -> None:
    network = make_network(settle=timedelta(minutes=2))
    first_attempt = datetime.now(UTC) - timedelta(minutes=10)
    server.fail_next_posts = [503]
    with pytest.raises(OutcomeUnknown):
        network.publish(account_on(server), Draft(text="Hello"), KEY)

    # Measured from the uncertain attempt, not the first one: that request may still be in a queue.
    with pytest.raises(Transient, match="ask again later"):
        network.find_published(
            account_on(server),
            KEY,
            draft=Draft(text="Hello"),
            attempted_at=first_attempt,
            last_attempted_at=datetime.now(UTC),
        )
    assert (
        network.find_published(
            account_on(server),
            KEY,
            draft=Draft(text="Hello"),
            attempted_at=first_attempt,
            last_attempted_at=datetime.now(UTC) - timedelta(minutes=3),
        )
        is None
    )


def test_how_long_a_late_request_could_still_land_is_a_setting(
    server: FakeMastodon, alice: FakeAccount
) -> None:
    network = MastodonNetwork.from_settings(
        Settings(_env_file=None, mastodon_settle_seconds=30, allowed_private_hosts="127.0.0.1")
    )
    server.fail_next_posts = [503]
    with pytest.raises(OutcomeUnknown):
        network.publish(account_on(server), Draft(text="Hello"), KEY)

    def look(seconds_ago: float) -> object:
        return network.find_published(
            account_on(server),
            KEY,
            draft=Draft(text="Hello"),
            attempted_at=datetime.now(UTC) - timedelta(seconds=seconds_ago),
        )

    with pytest.raises(Transient, match="under 30 s ago"):
        look(20)
    assert look(40) is None


def test_two_matching_posts_leave_the_decision_to_a_person(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    network.publish(account_on(server), Draft(text="Hello"), "an-earlier-delivery")
    server.stall_next_posts = 1
    with pytest.raises(OutcomeUnknown):
        network.publish(account_on(server), Draft(text="Hello"), KEY)
    # Both attempts in the same second: the check looks from the earlier one's time.
    earlier = network._finder.expected("an-earlier-delivery", None, None)

    with pytest.raises(CannotTell, match="2 statuses since the attempt match the post"):
        network.find_published(
            account_on(server), KEY, draft=Draft(text="Hello"), attempted_at=earlier.sent_at
        )


def test_a_thread_only_partly_there_is_found_in_part(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.statuses_per_window = 2
    draft = Draft(text="1/3", thread=("2/3", "3/3"))
    with pytest.raises(RateLimited):
        network.publish(account_on(server), draft, KEY)

    found = network.find_published(account_on(server), KEY, draft=draft, attempted_at=datetime.now(UTC))

    assert found is not None
    assert [part.external_id for part in found.parts] == [s["id"] for s in server.statuses_of(alice)]
    assert len(found.thread) == 1


def test_a_thread_reply_matching_twice_leaves_the_decision_to_a_person_with_the_parts_found(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    published = network.publish(account_on(server), Draft(text="1/2"), KEY)
    for _ in range(2):
        server._store(alice, {"status": "2/2", "in_reply_to_id": published.external_id}, [], "Crier")

    with pytest.raises(CannotTell, match="thread reply 1 of 1") as raised:
        network.find_published(
            account_on(server), KEY, draft=Draft(text="1/2", thread=("2/2",)), attempted_at=datetime.now(UTC)
        )
    assert raised.value.published == published.parts


# -- Engagement, deletion, verification ----------------------------------------------------------------


def test_engagement_is_read_in_batches_of_twenty(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    ids = [
        network.publish(account_on(server), Draft(text=f"post {n}"), f"key-{n}").external_id
        for n in range(25)
    ]
    server.add_counts(ids[0], favourites_count=7, reblogs_count=3, replies_count=2, quotes_count=1)
    network.delete(account_on(server), ids[1])

    result = network.fetch_engagement(account_on(server), ids)

    assert len(server.requests_to("GET", "/api/v1/statuses")) == 2
    first = result[ids[0]]
    assert isinstance(first, Engagement)
    assert (first.likes, first.reposts, first.replies, first.quotes) == (7, 3, 2, 1)
    assert first.raw["favourites_count"] == 7
    assert isinstance(result[ids[1]], PostGone)
    assert all(isinstance(result[i], Engagement) for i in ids[2:])


@pytest.mark.parametrize("missing", [404, 405, 501], ids=["rails-404-page", "405", "501"])
def test_engagement_falls_back_to_one_status_at_a_time_where_the_batch_read_is_missing(
    alice: FakeAccount, missing: int
) -> None:
    server = FakeMastodon(with_quotes_count=False).start()
    try:
        server.add_account("alice", token="alice-token")
        server.batch_read, server.batch_read_status = False, missing
        network = make_network()
        kept = network.publish(account_on(server), Draft(text="kept"), "k1").external_id
        gone = network.publish(account_on(server), Draft(text="gone"), "k2").external_id
        network.delete(account_on(server), gone)

        result = network.fetch_engagement(account_on(server), [kept, gone])
        network.fetch_engagement(account_on(server), [kept])

        counts = result[kept]
        assert isinstance(counts, Engagement)
        assert (counts.likes, counts.quotes) == (0, None), "no quotes_count before 4.5: unknown, not zero"
        assert isinstance(result[gone], PostGone)
        batch_reads = [
            r for r in server.requests_to("GET", "/api/v1/statuses") if r.path == "/api/v1/statuses"
        ]
        assert len(batch_reads) == 1, "an older server is asked once, then read one status at a time"
    finally:
        server.stop()


def test_a_batch_read_refused_for_the_token_is_not_taken_for_a_missing_route(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    status_id = network.publish(account_on(server), Draft(text="Hello"), KEY).external_id
    server.revoke("alice-token")
    with pytest.raises(AuthExpired):
        network.fetch_engagement(account_on(server), [status_id])
    alice.tokens.add("alice-token")
    network.fetch_engagement(account_on(server), [status_id])
    assert len([r for r in server.requests if r.path == "/api/v1/statuses" and r.method == "GET"]) == 2


def test_engagement_has_no_bookmark_count_which_mastodon_does_not_give(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    status_id = network.publish(account_on(server), Draft(text="Saved by some"), KEY).external_id

    [reading] = network.fetch_engagement(account_on(server), [status_id]).values()

    assert isinstance(reading, Engagement)
    assert reading.bookmarks is None, "unknown, not zero"
    assert reading.likes == 0


def test_the_account_s_followers_follows_and_statuses_come_from_verify_credentials(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    alice.followers_count, alice.following_count = 87, 9
    network.publish(account_on(server), Draft(text="One"), KEY)

    audience = network.fetch_audience(account_on(server))

    assert (audience.followers, audience.following, audience.posts) == (87, 9, 1)
    assert audience.raw["id"] == alice.id
    assert isinstance(network, ReportsAudience)


def test_delete_removes_a_post_and_a_second_delete_finds_it_gone(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    post = network.publish(account_on(server), Draft(text="Oops"), KEY)
    network.delete(account_on(server), post.external_id)
    assert server.statuses_of(alice) == []
    with pytest.raises(PostGone):
        network.delete(account_on(server), post.external_id)


def test_verify_says_who_the_token_posts_as(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    profile = network.verify(account_on(server))
    assert (profile.handle, profile.display_name, profile.url) == (
        "alice",
        "Alice",
        f"{server.base_url}/@alice",
    )
    server.revoke("alice-token")
    with pytest.raises(AuthExpired):
        network.verify(account_on(server))


# -- Transport failures, exactly -----------------------------------------------------------------------


def failing_network(error: Exception) -> MastodonNetwork:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return MastodonNetwork(http=httpx.Client(transport=httpx.MockTransport(handler)))


HTTPS_ACCOUNT = Account(
    channel_id="c",
    handle="a",
    settings={"base_url": "https://mastodon.example"},
    credentials={"access_token": "t"},
)
NOT_SENT = [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")]
MAYBE_SENT = [
    httpx.ReadTimeout("slow"),
    httpx.WriteTimeout("slow"),
    httpx.ReadError("reset"),
    httpx.WriteError("broken pipe"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
]


@pytest.mark.parametrize("error", NOT_SENT, ids=lambda e: type(e).__name__)
def test_a_post_that_never_left_is_transient(error: Exception) -> None:
    with pytest.raises(Transient):
        failing_network(error).publish(HTTPS_ACCOUNT, Draft(text="Hello"), KEY)


@pytest.mark.parametrize("error", MAYBE_SENT, ids=lambda e: type(e).__name__)
def test_a_post_that_may_have_arrived_is_an_unknown_outcome(error: Exception) -> None:
    with pytest.raises(OutcomeUnknown):
        failing_network(error).publish(HTTPS_ACCOUNT, Draft(text="Hello"), KEY)


@pytest.mark.parametrize("error", MAYBE_SENT, ids=lambda e: type(e).__name__)
def test_reads_that_fail_in_flight_are_only_transient(error: Exception) -> None:
    with pytest.raises(Transient):
        failing_network(error).fetch_engagement(HTTPS_ACCOUNT, ["1"])


# -- Connecting an account -----------------------------------------------------------------------------


def test_an_account_is_connected_by_registering_authorizing_and_exchanging_a_code(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    app = register_app(server.base_url, calls=Calls(HERE))
    url = httpx.URL(authorize_url(app, state="s1"))
    assert url.path == "/oauth/authorize"
    assert dict(url.params) == {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        "scope": "read write",
        "state": "s1",
    }
    code = server.grant_code(app.client_id, alice, app.redirect_uri, app.scopes)

    token = exchange_code(app, code, calls=Calls(HERE))

    assert token.scope == "read write"
    assert network.verify(account_on(server, token=token.access_token)).handle == "alice"
    with pytest.raises(Rejected, match="authorization grant is invalid"):
        exchange_code(app, code, calls=Calls(HERE))


def test_an_app_is_never_registered_over_plain_http_to_another_machine() -> None:
    with pytest.raises(Rejected, match="https"):
        register_app("http://mastodon.example", calls=Calls(HERE))


def test_a_share_of_posts_stored_then_unanswered_is_each_found_once_under_its_key(
    server: FakeMastodon, alice: FakeAccount
) -> None:
    # No answer here stalls: a read timeout of half a second would only add the loaded machine's slow
    # answers to the lost ones, which the counts below tell apart.
    network = make_network(read_timeout=10.0)
    server.honours_idempotency = False
    server.lose_answer_rate = 0.3
    server.random.seed(7)
    drafts = {f"{KEY[:-3]}{n:03d}": Draft(text=f"Post {n}", thread=("Reply",)) for n in range(60)}
    uncertain = []
    # When each attempt began, as a delivery records it: the search looks from there on, and the whole
    # loop may take longer than any fixed window on a loaded machine.
    attempted_at = {}
    for key, draft in drafts.items():
        attempted_at[key] = datetime.now(UTC)
        try:
            network.publish(account_on(server), draft, key)
        except OutcomeUnknown:
            uncertain.append(key)

    stored = {status["idempotency_key"]: status for status in server.all_statuses()}
    assert len(stored) == len(server.all_statuses())  # no key made two statuses
    assert set(drafts) <= set(stored)
    assert {f"{key}:1" for key in drafts if key not in uncertain} <= set(stored)
    # About half of the deliveries, two posts each at 0.3: some lost the post's answer, some the reply's.
    assert 18 <= len(uncertain) <= 42
    # Each uncertain publish stopped at its one lost answer, and every kind of loss happened.
    assert sum(server.answers_lost.values()) == len(uncertain)
    assert set(server.answers_lost) == {502, 504, "disconnect"}
    assert any(f"{key}:1" in stored for key in uncertain)
    assert any(f"{key}:1" not in stored for key in uncertain)
    for key in uncertain:
        found = network.find_published(
            account_on(server), key, draft=drafts[key], attempted_at=attempted_at[key]
        )
        assert found is not None
        assert [part.external_id for part in found.parts] == [
            stored[part_key]["id"] for part_key in (key, f"{key}:1") if part_key in stored
        ]
