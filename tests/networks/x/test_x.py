"""The X adapter against a fake X API v2 over real HTTP: publishing, threads, media, X's errors, finding an
uncertain post, counts, delete and verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint

import pytest

from shared.config import Settings
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
from shared.networks.x.adapter import XNetwork
from shared.networks.x.api import XDialect
from tests.networks.x.conftest import HERE, make_network
from tests.networks.x.fake import FakeUser, FakeX, serving_one_account

KEY = "4b1d6c1e-0000-4000-8000-000000000013"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MP4 = b"\0\0\0\x18ftypmp42" + b"\1" * (9 * 1024 * 1024)


def test_the_entry_point_builds_the_adapter_from_the_operators_settings(settings: Settings) -> None:
    entry = EntryPoint("x", "shared.networks.x.adapter:XNetwork.from_settings", ENTRY_POINT_GROUP)
    network = entry.load()(settings)
    assert isinstance(network, Network)
    assert isinstance(network, ReportsAudience)
    assert network.info.name == "x"
    assert NetworkRegistry(settings).get("x").info.text_limit == 280


def test_validate_counts_as_x_counts_and_names_media_x_refuses(network: XNetwork) -> None:
    assert network.validate(Draft(text="\u4e2d" * 140)) == []
    assert network.validate(Draft(text="", media=(MediaItem("image/png", PNG),))) == []
    problems = network.validate(
        Draft(
            text="\u4e2d" * 141,
            thread=("ok", " "),
            media=(MediaItem("video/mp4", b"v"), MediaItem("image/png", PNG, alt_text="a" * 1001)),
        )
    )
    assert problems == [
        "the text is 282 characters long as X counts them (each URL 23, CJK characters and emoji 2); "
        "X allows 280",
        "thread item 2 is empty",
        "a video/mp4 attachment must be the only one on X",
        "attachment 2: the description is over 1000 characters",
    ]


def test_preview_counts_each_part_with_urls_at_23(network: XNetwork, account: Account) -> None:
    previews = network.preview(account, Draft(text="Read https://example.com/" + "a" * 300, thread=("é",)))
    assert [(p.length, p.limit, p.problems) for p in previews] == [(28, 280, ()), (1, 280, ())]


def test_a_thread_is_posted_as_replies_each_to_the_part_before(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    post = network.publish(account, Draft(text="one", thread=("two", "three")), KEY)

    tweets = server.posts_of(alice)
    assert [t.sent_text for t in tweets] == ["one", "two", "three"]
    assert [t.reply_to for t in tweets] == [None, tweets[0].id, tweets[1].id]
    assert [part.external_id for part in post.parts] == [t.id for t in tweets]
    assert post.url == f"https://x.com/alice/status/{tweets[0].id}"


def test_a_thread_stopped_midway_goes_on_from_its_last_part(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    draft = Draft(text="one", thread=("two", "three"))
    attempted_at = datetime.now(UTC)
    # The first reply is answered 503 by X itself, in its problem JSON, before it is stored.
    server.fail_next_posts(503, after=1)
    with pytest.raises(OutcomeUnknown) as failed:
        network.publish(account, draft, KEY)
    (root,) = server.posts_of(alice)
    assert [part.external_id for part in failed.value.published] == [root.id]

    # The check finds the post and no reply (settled), so publishing goes on from the post.
    found = network.find_published(
        account, KEY, draft=draft, attempted_at=attempted_at, published=failed.value.published
    )
    assert found is not None
    assert (found.external_id, found.thread) == (root.id, ())
    done = network.publish(account, draft, KEY, published=found.parts)

    tweets = server.posts_of(alice)
    assert [t.sent_text for t in tweets] == ["one", "two", "three"]
    assert [t.reply_to for t in tweets] == [None, tweets[0].id, tweets[1].id]
    assert [part.external_id for part in done.parts] == [t.id for t in tweets]


def test_images_are_uploaded_at_once_with_their_alt_text(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    network.publish(account, Draft(text="look", media=(MediaItem("image/png", PNG, alt_text="a dog"),)), KEY)

    (tweet,) = server.posts_of(alice)
    (media,) = (server.media[key.split("_", 1)[1]] for key in tweet.media_keys)
    assert (media.received[0], media.alt_text, media.state) == (PNG, "a dog", "succeeded")


def test_a_video_is_sent_in_chunks_and_polled_until_processed(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.media_processing_polls = 3

    network.publish(account, Draft(text="watch", media=(MediaItem("video/mp4", MP4),)), KEY)

    (tweet,) = server.posts_of(alice)
    media = server.media[tweet.media_keys[0].split("_", 1)[1]]
    assert len(media.received) == 3  # 9 MiB in chunks of 4 MiB
    assert b"".join(media.received[i] for i in sorted(media.received)) == MP4
    assert (media.state, media.polls_left) == ("succeeded", 0)


def test_media_x_fails_to_process_is_refused_and_nothing_is_posted(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.media_fails = True
    with pytest.raises(Rejected, match="Unsupported video format"):
        network.publish(account, Draft(text="watch", media=(MediaItem("video/mp4", MP4),)), KEY)
    assert server.posts_of(alice) == []


def test_media_still_processing_after_every_check_is_transient(
    server: FakeX, alice: FakeUser, account: Account
) -> None:
    server.media_processing_polls = 10
    with pytest.raises(Transient, match="still processing after 2 checks"):
        make_network(server, media_poll_attempts=2).publish(
            account, Draft(text="w", media=(MediaItem("video/mp4", b"v" * 10),)), KEY
        )
    assert server.posts_of(alice) == []


# -- X's errors ---------------------------------------------------------------------------------------


def test_an_expired_or_revoked_token_means_reconnecting(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.advance(7201)
    with pytest.raises(AuthExpired, match="401: Unauthorized"):
        network.publish(account, Draft(text="hi"), KEY)


def test_an_app_outside_a_project_is_a_refusal_that_says_why(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.client_not_enrolled = True
    with pytest.raises(
        Rejected, match=r"403: Client Forbidden: When authenticating.*\(client-not-enrolled\)"
    ):
        network.publish(account, Draft(text="hi"), KEY)


def test_a_400_keeps_the_messages_of_its_errors(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.media_expires_at_once = True
    with pytest.raises(Rejected, match=r"400: Invalid Request: .*; Your media IDs are invalid\."):
        network.publish(account, Draft(text="look", media=(MediaItem("image/png", PNG),)), KEY)
    assert server.posts_of(alice) == []


def test_x_refusing_a_long_text_is_a_refusal_in_its_own_words(server: FakeX, alice: FakeUser) -> None:
    # Crier counts as X does and never sends such a text; were the counts to differ, X's words are kept.
    calls = Calls(HERE, dialect=XDialect())
    response = calls.send(
        "POST", f"{server.base_url}/2/tweets", token="alice-access", json={"text": "a" * 281}
    )
    with pytest.raises(Rejected, match="403: Forbidden: Your Tweet text is too long"):
        calls.check(response, what="X", write=True)


def test_a_429_waits_for_the_window_to_reset(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.window_limit = 1
    network.publish(account, Draft(text="first"), KEY)
    with pytest.raises(RateLimited) as limited:
        network.publish(account, Draft(text="second"), KEY + "2")
    window_end = datetime.fromtimestamp(datetime.now(UTC).timestamp() // 900 * 900 + 900, UTC)
    assert limited.value.reset_at == window_end


def test_a_429_for_the_24_hour_limit_waits_for_that_limit_not_the_window(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.user_day_limit = 1
    network.publish(account, Draft(text="first"), KEY)
    with pytest.raises(RateLimited) as limited:
        network.publish(account, Draft(text="second"), KEY + "2")
    assert limited.value.reset_at is not None
    assert limited.value.reset_at > datetime.now(UTC) + timedelta(hours=23)


def test_a_429_without_x_headers_falls_back_to_retry_after_or_a_minute(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.window_limit, server.rate_headers = 0, False
    with pytest.raises(RateLimited) as limited:
        network.publish(account, Draft(text="hi"), KEY)
    assert limited.value.reset_at is None


@pytest.mark.parametrize("body", ["json", "text", "html"])
def test_a_5xx_to_a_post_may_have_stored_it_whatever_its_body(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account, body: str
) -> None:
    server.fail_next_posts(503, body=body)
    with pytest.raises(OutcomeUnknown, match="503"):
        network.publish(account, Draft(text="hi"), KEY)


def test_a_refused_connection_is_transient(account: Account) -> None:
    with FakeX() as gone:
        address = gone.base_url
    network = make_network(gone, api_url=address)
    with pytest.raises(Transient, match="nothing was sent"):
        network.publish(account, Draft(text="hi"), KEY)


# -- Finding what an uncertain attempt made ------------------------------------------------------------


@pytest.mark.parametrize("lost", [502, 504, "disconnect", "stall", "not-json"])
def test_a_post_whose_answer_was_lost_is_found_once_and_not_posted_again(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account, lost: int | str
) -> None:
    draft = Draft(
        text="Read https://example.com/a?b=1 & <smile> and example.org",
        media=(MediaItem("image/png", PNG),),
    )
    attempted_at = datetime.now(UTC)
    server.lose_next_answers(lost)
    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)

    found = network.find_published(account, KEY, draft=draft, attempted_at=attempted_at)

    (tweet,) = server.posts_of(alice)
    assert "https://t.co/" in tweet.text
    assert "&amp;" in tweet.text
    assert found is not None
    assert found.external_id == tweet.id
    assert found.created_at is not None
    assert abs(found.created_at - tweet.created_at) < timedelta(milliseconds=1)
    assert len(server.posts_of(alice)) == 1


def test_a_post_refused_before_it_was_stored_is_found_absent(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.post_by_hand(alice, "something else")
    server.fail_next_posts(502, body="html")
    attempted_at = datetime.now(UTC)
    with pytest.raises(OutcomeUnknown):
        network.publish(account, Draft(text="hi"), KEY)
    assert network.find_published(account, KEY, draft=Draft(text="hi"), attempted_at=attempted_at) is None


def test_absence_is_not_claimed_while_a_late_write_could_still_show(
    server: FakeX, alice: FakeUser, account: Account
) -> None:
    network = make_network(server, settle=timedelta(minutes=2))
    now = datetime.now(UTC)
    with pytest.raises(Transient, match="ask again later"):
        network.find_published(account, KEY, draft=Draft(text="hi"), attempted_at=now, last_attempted_at=now)


def test_without_the_draft_x_cannot_recognise_a_post(network: XNetwork, account: Account) -> None:
    with pytest.raises(CannotTell, match="cannot look a post up by a key"):
        network.find_published(account, KEY)


def test_two_matching_posts_leave_the_decision_to_a_person(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    attempted_at = datetime.now(UTC)
    server.duplicate_window = timedelta(0)
    server.post_by_hand(alice, "same words")
    server.post_by_hand(alice, "same  words")
    with pytest.raises(CannotTell, match="2 posts"):
        network.find_published(account, KEY, draft=Draft(text="same words"), attempted_at=attempted_at)


def test_a_thread_found_in_part_comes_back_with_the_replies_that_are_there(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    attempted_at = datetime.now(UTC)
    root = server.post_by_hand(alice, "one")
    reply = server.post_by_hand(alice, "two", reply_to=root.id)
    server.post_by_hand(alice, "three")  # not a reply to "two": not the thread's third part

    found = network.find_published(
        account, KEY, draft=Draft(text="one", thread=("two", "three")), attempted_at=attempted_at
    )

    assert found is not None
    assert [part.external_id for part in found.parts] == [root.id, reply.id]


def test_a_duplicate_refusal_after_a_lost_answer_is_the_post_itself(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.lose_next_answers(502)
    with pytest.raises(OutcomeUnknown):
        network.publish(account, Draft(text="only once"), KEY)

    post = network.publish(account, Draft(text="only once"), KEY)

    (tweet,) = server.posts_of(alice)
    assert post.external_id == tweet.id


def test_a_duplicate_of_a_post_in_another_place_is_x_refusing_it(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    parent = server.post_by_hand(alice, "parent")
    server.post_by_hand(alice, "same", reply_to=parent.id)
    with pytest.raises(Rejected, match="duplicate content"):
        network.publish(account, Draft(text="same"), KEY)


# -- Counts, delete, verify ---------------------------------------------------------------------------


def test_counts_map_to_criers_names_and_a_deleted_post_is_gone(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    kept, deleted = server.post_by_hand(alice, "kept"), server.post_by_hand(alice, "deleted")
    kept.metrics.update(like_count=3, retweet_count=2, reply_count=1, quote_count=4, bookmark_count=5)
    kept.metrics["impression_count"] = 100
    deleted.deleted = True

    counts = network.fetch_engagement(account, [kept.id, deleted.id])

    assert counts[kept.id] == Engagement(
        likes=3, reposts=2, replies=1, quotes=4, bookmarks=5, views=100, raw=counts[kept.id].raw
    )
    assert isinstance(counts[deleted.id], PostGone)


def test_a_metric_x_no_longer_gives_is_none_and_blanks_no_other(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    tweet = server.post_by_hand(alice, "kept")
    tweet.metrics["like_count"] = 7
    server.retired_metrics = {"impression_count", "bookmark_count"}

    (counts,) = network.fetch_engagement(account, [tweet.id]).values()

    assert isinstance(counts, Engagement)
    assert (counts.likes, counts.views, counts.bookmarks, counts.reposts) == (7, None, None, 0)


def test_counts_are_read_a_hundred_posts_a_request(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.duplicate_window = timedelta(0)
    ids = [server.post_by_hand(alice, f"post {n}").id for n in range(150)]
    assert len(network.fetch_engagement(account, ids)) == 150


def test_audience_comes_from_the_accounts_public_metrics(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    alice.followers_count, alice.following_count = 12, 3
    server.post_by_hand(alice, "hello")
    audience = network.fetch_audience(account)
    assert (audience.followers, audience.following, audience.posts) == (12, 3, 1)


def test_delete_removes_a_post_and_a_second_delete_finds_it_gone(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    post = network.publish(account, Draft(text="bye"), KEY)
    network.delete(account, post.external_id)
    assert server.posts_of(alice) == []
    with pytest.raises(PostGone):
        network.delete(account, post.external_id)


def test_verify_says_who_the_token_posts_as(alice: FakeUser, network: XNetwork, account: Account) -> None:
    profile = network.verify(account)
    assert (profile.handle, profile.display_name, profile.url) == ("alice", "Alice", "https://x.com/alice")


def test_verify_with_a_dead_token_asks_for_reconnection(network: XNetwork, alice: FakeUser) -> None:
    with pytest.raises(AuthExpired):
        network.verify(Account("c", "alice", credentials={"access_token": "nope"}))


def test_the_fake_serves_one_ready_account_for_an_end_to_end_test(settings: Settings) -> None:
    fake, channel = serving_one_account()
    try:
        environment = channel["environment"]
        network = XNetwork.from_settings(
            settings.model_copy(
                update={
                    "x_api_url": environment["CRIER_X_API_URL"],
                    "x_client_id": environment["CRIER_X_CLIENT_ID"],
                    "x_client_secret": environment["CRIER_X_CLIENT_SECRET"],
                    "allowed_private_hosts": "127.0.0.1",
                }
            )
        )
        account = Account("c", channel["handle"], channel["settings"], channel["credentials"])
        assert network.check_credentials(channel["credentials"]) == []
        assert network.verify(account).handle == channel["handle"]
        assert network.refresh_credentials(account)["refresh_token"]
        assert fake.refreshes == 1
    finally:
        fake.stop()
