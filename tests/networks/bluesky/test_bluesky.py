"""The Bluesky adapter against a fake PDS over real HTTP: exactly-once by record key, sessions, errors."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import EntryPoint
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.networks.bluesky.adapter import BlueskyNetwork
from shared.networks.bluesky.record_keys import record_key
from shared.networks.ports import (
    Account,
    AuthExpired,
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
from tests.networks.bluesky.fake import FakeAccount, FakePds, serve
from tests.networks.on_this_machine import outbound_here

KEY = "2f1d6c1e-0000-4000-8000-000000000001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

HERE = outbound_here()


@pytest.fixture
def pds() -> Iterator[FakePds]:
    yield from serve()


@pytest.fixture
def alice(pds: FakePds) -> FakeAccount:
    pds.add_account("bob.test", "bob-password")
    return pds.add_account("alice.test", "app-password")


@pytest.fixture
def network() -> BlueskyNetwork:
    # A short read timeout so a stalled server is seen in half a second.
    return BlueskyNetwork(HERE, http=HERE.client(httpx.Timeout(2.0, read=0.5)))


def account_on(pds: FakePds, password: str = "app-password", **settings: Any) -> Account:
    return Account(
        channel_id="channel-1",
        handle="alice.test",
        settings={"pds_url": pds.base_url, **settings},
        credentials={"identifier": "alice.test", "app_password": password},
    )


def byte_slice(text: str, start: int, end: int) -> str:
    return text.encode("utf-8")[start:end].decode("utf-8")


# -- The adapter as Crier loads it ---------------------------------------------------------------------


def test_the_entry_point_builds_an_adapter_that_satisfies_the_port() -> None:
    entry = EntryPoint(
        name="bluesky",
        value="shared.networks.bluesky.adapter:BlueskyNetwork.from_settings",
        group=ENTRY_POINT_GROUP,
    )
    adapter = NetworkRegistry(Settings(), entries=[entry]).get("bluesky")
    assert isinstance(adapter, Network)
    assert adapter.info.text_limit == 300
    assert adapter.info.credential_keys == ("identifier", "app_password")
    assert adapter.info.media is not None
    assert adapter.info.media.max_bytes == 1_000_000
    assert adapter.info.account_rate is not None


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"pds_url": "http://pds.example"}, "must use https"),
        ({"pds_url": "http://localhost:2583"}, "on this machine or a private network"),
        ({"pds_url": "https://192.168.1.20"}, "on this machine or a private network"),
        ({"pds_url": "https://[::ffff:127.0.0.1]"}, "on this machine or a private network"),
        ({"pds_url": "https://pds.example?x=1"}, "without a query"),
        ({"langs": ["english"]}, "language tags"),
        ({"langs": ["en", "de", "fr", "it"]}, "at most 3"),
        ({"colour": "blue"}, "unknown option 'colour'"),
    ],
)
def test_unusable_settings_are_explained(settings: dict[str, Any], expected: str) -> None:
    assert any(expected in problem for problem in BlueskyNetwork().check_settings(settings))


def test_a_pds_on_a_network_the_operator_allowed_may_be_reached_over_plain_http(
    network: BlueskyNetwork,
) -> None:
    assert network.check_settings({"pds_url": "http://127.0.0.1:2583"}) == []
    assert network.check_settings({"pds_url": "http://127.0.0.1:2583", "allow_insecure_loopback": True}) == []


def test_the_default_pds_and_languages_are_accepted(network: BlueskyNetwork) -> None:
    assert network.check_settings({}) == []
    assert network.check_settings({"pds_url": "https://pds.example/", "langs": ["en", "pt-BR"]}) == []


# -- Record keys ---------------------------------------------------------------------------------------


def test_record_keys_are_tids_fixed_by_the_idempotency_key_and_the_thread_item() -> None:
    keys = {record_key(KEY), record_key(KEY, 1), record_key(KEY, 2), record_key(KEY.replace("1", "2"))}
    assert len(keys) == 4
    assert all(TID.match(key) for key in keys)
    assert record_key(KEY) == record_key(KEY)


# -- Publishing ----------------------------------------------------------------------------------------


def test_a_post_is_one_record_at_the_delivery_s_key_with_facets_on_the_right_bytes(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    text = "Café ☕ with @bob.test and @nobody.test: see https://example.com/a! #crier"
    published = network.publish(account_on(pds, langs=["en"]), Draft(text=text), KEY)

    posts = pds.posts_of(alice)
    assert list(posts) == [f"at://{alice.did}/app.bsky.feed.post/{record_key(KEY)}"]
    assert published.external_id == next(iter(posts))
    assert published.url == f"https://bsky.app/profile/{alice.did}/post/{record_key(KEY)}"
    record = posts[published.external_id]["value"]
    assert record["text"] == text
    assert record["langs"] == ["en"]
    found = {
        byte_slice(text, f["index"]["byteStart"], f["index"]["byteEnd"]): f["features"][0]
        for f in record["facets"]
    }
    bob = next(a for a in pds.accounts.values() if a.handle == "bob.test")
    # Multi-byte characters before each facet: offsets are UTF-8 bytes, not characters.
    assert found == {
        "@bob.test": {"$type": "app.bsky.richtext.facet#mention", "did": bob.did},
        "https://example.com/a": {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a"},
        "#crier": {"$type": "app.bsky.richtext.facet#tag", "tag": "crier"},
    }  # @nobody.test resolves to no account: plain text, not an error


def test_a_retry_after_stored_then_timed_out_finds_the_record_and_never_makes_a_second(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    pds.stall_next_writes = 1
    with pytest.raises(OutcomeUnknown, match="it may have gone through"):
        network.publish(account, Draft(text="Once only"), KEY)
    assert len(pds.posts_of(alice)) == 1

    found = network.find_published(account, KEY, draft=Draft(text="Once only"))
    again = network.publish(account, Draft(text="Once only"), KEY)

    assert found is not None
    assert again.external_id == found.external_id
    assert len(pds.posts_of(alice)) == 1
    assert len(pds.requests_to("com.atproto.repo.createRecord")) == 1


class LateReader(BlueskyNetwork):
    """An adapter whose first read of a key happens before another attempt's record lands there."""

    reads = 0

    def _existing(self, channel: Any, did: str, rkey: str) -> Any:
        self.reads += 1
        return None if self.reads == 1 else super()._existing(channel, did, rkey)


def test_a_create_that_loses_a_race_for_the_key_returns_the_record_already_there(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    first = network.publish(account_on(pds), Draft(text="Raced"), KEY)
    # Another attempt's getRecord ran before the first create landed; its create then finds the key taken.
    other = LateReader(HERE, http=HERE.client(httpx.Timeout(2.0)))
    account = account_on(pds)
    second = other.publish(account, Draft(text="Raced"), KEY)
    assert second.external_id == first.external_id
    assert len(pds.posts_of(alice)) == 1


def test_a_thread_replies_to_the_one_before_and_a_retry_finishes_it(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    draft = Draft(text="1/3", thread=("2/3", "3/3"))
    # The first two records are made; the third fails with a 503, and a retry resumes.
    published_first_two = network.publish(account, Draft(text="1/3", thread=("2/3",)), KEY)
    assert len(published_first_two.thread) == 1
    pds.write_errors = [(503, "InternalServerError", "Service Unavailable")]
    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account, draft, KEY)
    assert raised.value.published == published_first_two.parts
    found = network.find_published(account, KEY, draft=draft)
    assert found is not None
    assert found.parts == published_first_two.parts, "found in part: the key of reply 2 holds nothing"
    published = network.publish(account, draft, KEY)

    posts = pds.posts_of(alice)
    assert len(posts) == 3
    root = posts[published.external_id]
    second, third = (posts[uri] for uri in published.thread_ids)
    assert second["value"]["reply"] == {
        "root": {"uri": published.external_id, "cid": root["cid"]},
        "parent": {"uri": published.external_id, "cid": root["cid"]},
    }
    assert third["value"]["reply"]["parent"] == {"uri": published.thread_ids[0], "cid": second["cid"]}
    assert third["value"]["reply"]["root"]["uri"] == published.external_id


def test_images_are_uploaded_and_embedded_with_their_descriptions(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    draft = Draft(text="Look", media=(MediaItem("image/png", PNG, alt_text="A square"),))
    published = network.publish(account_on(pds), draft, KEY)
    embed = pds.posts_of(alice)[published.external_id]["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert embed["images"][0]["alt"] == "A square"
    assert embed["images"][0]["image"]["mimeType"] == "image/png"


def test_a_link_card_is_embedded(network: BlueskyNetwork, pds: FakePds, alice: FakeAccount) -> None:
    card = {"uri": "https://example.com", "title": "Example", "description": "An example"}
    published = network.publish(account_on(pds), Draft(text="Read", options={"link_card": card}), KEY)
    embed = pds.posts_of(alice)[published.external_id]["value"]["embed"]
    assert embed == {"$type": "app.bsky.embed.external", "external": card}


# -- Sessions ------------------------------------------------------------------------------------------


def test_one_session_serves_many_calls(network: BlueskyNetwork, pds: FakePds, alice: FakeAccount) -> None:
    for number in range(3):
        network.publish(account_on(pds), Draft(text=f"Post {number}"), f"{KEY}-{number}")
    assert pds.sessions_created == 1


def test_a_session_kept_by_one_process_spares_the_next_one_a_sign_in(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    kept: list[dict[str, Any]] = []
    first = replace(account_on(pds), save_credentials=lambda renewed: kept.append(dict(renewed)))
    network.publish(first, Draft(text="From the first worker"), KEY)

    another_process = BlueskyNetwork(HERE, http=HERE.client(httpx.Timeout(2.0, read=0.5)))
    second = replace(account_on(pds), credentials=kept[-1])
    another_process.publish(second, Draft(text="From the second worker"), KEY + "-2")

    assert pds.sessions_created == 1
    assert [set(credentials) for credentials in kept] == [{"identifier", "app_password", "session"}]
    assert kept[0]["app_password"] == "app-password"
    assert len(pds.posts_of(alice)) == 2


def test_a_refreshed_session_is_kept_too(network: BlueskyNetwork, pds: FakePds, alice: FakeAccount) -> None:
    kept: list[dict[str, Any]] = []
    account = replace(account_on(pds), save_credentials=lambda renewed: kept.append(dict(renewed)))
    network.publish(account, Draft(text="Before"), KEY)
    pds.expire_access_tokens()

    network.publish(account, Draft(text="After"), KEY + "-2")

    assert len(kept) == 2
    assert kept[1]["session"]["refresh_jwt"] != kept[0]["session"]["refresh_jwt"]


def test_an_expired_access_token_is_refreshed_without_the_caller_noticing(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    network.publish(account_on(pds), Draft(text="Before"), KEY)
    pds.expire_access_tokens()
    network.publish(account_on(pds), Draft(text="After"), KEY + "-2")
    assert len(pds.posts_of(alice)) == 2
    assert len(pds.requests_to("com.atproto.server.refreshSession")) == 1
    assert pds.sessions_created == 1


def test_a_spent_refresh_token_falls_back_to_a_new_session(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    network.verify(account_on(pds))
    with pds.lock:
        for token in [t for t, v in pds.tokens.items() if v.kind == "refresh"]:
            del pds.tokens[token]
    pds.expire_access_tokens()
    assert network.verify(account_on(pds)).handle == "alice.test"
    assert pds.sessions_created == 2


def test_threads_sharing_an_expired_session_refresh_it_once(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    network.verify(account_on(pds))
    pds.expire_access_tokens()
    errors: list[BaseException] = []

    def verify() -> None:
        try:
            network.verify(account_on(pds))
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=verify) for _ in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(pds.requests_to("com.atproto.server.refreshSession")) == 1


def test_a_bad_app_password_means_the_account_must_be_reconnected(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    with pytest.raises(AuthExpired, match="app password"):
        network.publish(account_on(pds, password="wrong"), Draft(text="Hi"), KEY)
    with pytest.raises(AuthExpired):
        network.verify(account_on(pds, password="wrong"))


def test_verify_names_the_account(network: BlueskyNetwork, pds: FakePds, alice: FakeAccount) -> None:
    profile = network.verify(account_on(pds))
    assert profile.handle == "alice.test"
    assert profile.url == "https://bsky.app/profile/alice.test"


def test_secrets_stay_out_of_reprs(network: BlueskyNetwork, pds: FakePds, alice: FakeAccount) -> None:
    network.verify(account_on(pds))
    assert "app-password" not in repr(network._sessions._by_key)
    assert "access-" not in repr(network._sessions._by_key)


# -- Errors --------------------------------------------------------------------------------------------


def test_429_is_rate_limited_until_the_reset_the_pds_names(
    network: BlueskyNetwork, alice: FakeAccount
) -> None:
    server = FakePds(points_per_hour=3).start()
    try:
        server.add_account("alice.test", "app-password")
        network.publish(account_on(server), Draft(text="One"), KEY)
        with pytest.raises(RateLimited) as caught:
            network.publish(account_on(server), Draft(text="Two"), KEY + "-2")
        now = datetime.now(UTC).timestamp()
        assert caught.value.reset_at == datetime.fromtimestamp((int(now) // 3600 + 1) * 3600, UTC)
    finally:
        server.stop()


def test_invalid_request_is_rejected(network: BlueskyNetwork, pds: FakePds, alice: FakeAccount) -> None:
    pds.write_errors = [(400, "InvalidRequest", "Invalid app.bsky.feed.post record")]
    with pytest.raises(Rejected, match="InvalidRequest"):
        network.publish(account_on(pds), Draft(text="Hi"), KEY)


def test_a_5xx_to_a_write_is_checked_and_the_retry_posts_once(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    pds.write_errors = [(502, "InternalServerError", "Bad Gateway")]
    with pytest.raises(OutcomeUnknown, match="502: InternalServerError: Bad Gateway"):
        network.publish(account_on(pds), Draft(text="Hi"), KEY)
    assert network.find_published(account_on(pds), KEY) is None
    network.publish(account_on(pds), Draft(text="Hi"), KEY)
    assert len(pds.posts_of(alice)) == 1


def test_a_504_after_forwarding_is_outcome_unknown(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    pds.write_errors = [(504, "UpstreamTimeout", "Gateway Timeout")]
    with pytest.raises(OutcomeUnknown, match="504"):
        network.publish(account_on(pds), Draft(text="Hi"), KEY)


def test_a_pds_that_cannot_be_reached_is_transient(network: BlueskyNetwork) -> None:
    account = Account(
        channel_id="c",
        handle="alice.test",
        settings={"pds_url": "http://127.0.0.1:9"},
        credentials={"identifier": "alice.test", "app_password": "x"},
    )
    with pytest.raises(Transient, match="no connection could be made"):
        network.publish(account, Draft(text="Hi"), KEY)


def test_a_draft_over_a_limit_is_refused_before_anything_is_sent(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    with pytest.raises(Rejected, match="graphemes"):
        network.publish(account_on(pds), Draft(text="a" * 301), KEY)
    assert pds.requests_to("com.atproto.repo.createRecord") == []


# -- find_published, metrics, delete -------------------------------------------------------------------


def test_find_published_finds_the_post_or_says_there_is_none(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    assert network.find_published(account, KEY) is None
    published = network.publish(account, Draft(text="Hi", thread=("More",)), KEY)
    found = network.find_published(account, KEY, draft=Draft(text="Hi", thread=("More",)))
    assert found == published


def test_metrics_are_read_in_batches_of_25_and_missing_posts_are_gone(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    uris = [network.publish(account, Draft(text=f"Post {n}"), f"{KEY}-{n}").external_id for n in range(30)]
    pds.add_counts(uris[0], likeCount=5, repostCount=2, replyCount=1, quoteCount=3, bookmarkCount=4)
    network.delete(account, uris[29])

    counts = network.fetch_engagement(account, uris)

    assert len(pds.requests_to("app.bsky.feed.getPosts")) == 2
    assert counts[uris[0]] == Engagement(
        likes=5,
        reposts=2,
        replies=1,
        quotes=3,
        bookmarks=4,
        raw={
            "uri": uris[0],
            "likeCount": 5,
            "repostCount": 2,
            "replyCount": 1,
            "quoteCount": 3,
            "bookmarkCount": 4,
        },
    )
    second = counts[uris[1]]
    assert isinstance(second, Engagement)
    assert second.likes == 0
    assert isinstance(counts[uris[29]], PostGone)


@pytest.mark.parametrize("missing", [501, 404, 405])
def test_metrics_are_read_one_post_at_a_time_where_get_posts_is_missing(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, missing: int
) -> None:
    account = account_on(pds)
    uris = [network.publish(account, Draft(text=f"Post {n}"), f"{KEY}-{n}").external_id for n in range(3)]
    pds.add_counts(uris[0], likeCount=5)
    network.delete(account, uris[2])
    pds.get_posts_missing = missing

    counts = network.fetch_engagement(account, uris)
    network.fetch_engagement(account, uris[:1])

    first = counts[uris[0]]
    assert isinstance(first, Engagement)
    assert first.likes == 5
    assert isinstance(counts[uris[2]], PostGone)
    assert len(pds.requests_to("app.bsky.feed.getPosts")) == 1, "asked once, then remembered"
    assert len(pds.requests_to("app.bsky.feed.getPostThread")) == 4


def test_a_proxys_502_after_the_pds_stored_the_post_is_settled_at_once_by_its_key(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    # The failed createRecord is followed by a read of its key, which holds the post: it was made.
    pds.answer_after_storing = [502]
    published = network.publish(account_on(pds), Draft(text="Hi"), KEY)
    assert list(pds.posts_of(alice)) == [published.external_id]
    assert network.publish(account_on(pds), Draft(text="Hi"), KEY) == published


def test_a_count_the_adapter_does_not_map_yet_is_kept_in_the_raw_reading(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    uri = network.publish(account, Draft(text="Seen"), KEY).external_id
    pds.add_counts(uri, viewCount=900)  # as a count added to postView later would arrive

    [reading] = network.fetch_engagement(account, [uri]).values()

    assert isinstance(reading, Engagement)
    assert reading.views is None
    assert reading.raw["viewCount"] == 900


def test_the_account_s_followers_follows_and_posts_come_from_its_profile(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    alice.followers, alice.follows = 321, 12
    account = account_on(pds)
    network.publish(account, Draft(text="One"), KEY)

    audience = network.fetch_audience(account)

    assert (audience.followers, audience.following, audience.posts) == (321, 12, 1)
    assert audience.raw["did"] == alice.did
    assert isinstance(network, ReportsAudience)


def test_a_post_the_appview_has_not_indexed_yet_is_not_gone(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    uri = network.publish(account, Draft(text="Just now"), KEY).external_id
    pds.unindexed.add(uri)
    assert network.fetch_engagement(account, [uri])[uri] == Engagement(raw={"uri": uri, "indexed": False})


def test_delete_removes_the_post_and_a_second_delete_says_it_is_gone(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    published = network.publish(account, Draft(text="Soon gone"), KEY)
    network.delete(account, published.external_id)
    assert pds.posts_of(alice) == {}
    with pytest.raises(PostGone):
        network.delete(account, published.external_id)


# -- Preview and validation ----------------------------------------------------------------------------


def test_preview_counts_graphemes_and_names_the_limit_exceeded(network: BlueskyNetwork, pds: FakePds) -> None:
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    previews = network.preview(account_on(pds), Draft(text="a" * 300, thread=("a" * 301, family * 120)))
    assert [(p.length, p.limit) for p in previews] == [(300, 300), (301, 300), (120, 300)]
    assert previews[0].problems == ()
    assert previews[1].problems == ("the text is 301 graphemes long; Bluesky allows 300",)
    assert previews[2].problems == ()  # 3,000 bytes exactly: at the limit, not over it


def test_preview_names_the_byte_limit(network: BlueskyNetwork, pds: FakePds) -> None:
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    (preview,) = network.preview(account_on(pds), Draft(text=family * 121))
    assert preview.length == 121
    assert preview.problems == ("the text is 3025 bytes of UTF-8; Bluesky allows 3000",)


def test_validate_explains_media_and_empty_items(network: BlueskyNetwork) -> None:
    draft = Draft(
        text="",
        thread=(" ",),
        media=(*tuple(MediaItem("image/png", PNG) for _ in range(4)), MediaItem("video/mp4", b"x")),
    )
    problems = network.validate(draft)
    assert "thread item 1 is empty" in problems
    assert "5 attachments; Bluesky takes at most 4" in problems
    assert any("attachment 5" in problem for problem in problems)
    assert any(
        "1000000" in p
        for p in network.validate(Draft(text="x", media=(MediaItem("image/png", b"0" * 1_000_001),)))
    )
