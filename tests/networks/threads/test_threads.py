"""The Threads adapter against a fake Threads API over real HTTP: the container flow, threads resumed,
uncertain publishes settled exactly once, Meta's errors, insights, deleting, and connecting an account."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask, Response

from shared.config import Settings
from shared.networks.ports import (
    Account,
    AuthExpired,
    AuthorizesWithOAuth,
    CannotTell,
    Draft,
    Engagement,
    MediaItem,
    Network,
    OutcomeUnknown,
    PostGone,
    PublishedPart,
    RateLimited,
    RefreshesCredentials,
    Rejected,
    ReportsAudience,
    Transient,
)
from shared.networks.registry import NetworkRegistry
from shared.networks.threads.adapter import ThreadsNetwork
from shared.networks.threads.containers import Waiting
from shared.networks.threads.oauth import SCOPES
from tests.networks.fake_servers import FakeServer
from tests.networks.on_this_machine import allowing_here, outbound_here
from tests.networks.threads.fake import FakeThreads, FakeUser, serving_one_account

KEY = "5d0c7a52-0000-4000-8000-000000000013"
HERE = outbound_here()
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MP4 = b"\0\0\0\x18ftypmp42" + b"\0" * 64


class MediaHost(FakeServer):
    """Crier's public media address, as CRIER_PUBLIC_URL serves it: files by name, the rest 404."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        app = Flask(__name__)

        @app.get("/media/<name>")
        def media(name: str) -> Response:
            if name not in self.files:
                return Response("not found", status=404)
            data, content_type = self.files[name]
            return Response(data, content_type=content_type)

        super().__init__(app)

    def item(self, name: str, data: bytes, content_type: str, alt_text: str | None = None) -> MediaItem:
        self.files[name] = (data, content_type)
        return MediaItem(content_type, data, alt_text, public_url=f"{self.base_url}/media/{name}")


class Sleeps:
    """The adapter's pauses, counted instead of slept."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    with FakeThreads() as started:
        yield started


@pytest.fixture
def media_host() -> Iterator[MediaHost]:
    with MediaHost() as started:
        yield started


@pytest.fixture
def alice(fake: FakeThreads) -> FakeUser:
    return fake.add_user("alice", token="alice-token", followers=7)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_network(
    fake: FakeThreads, sleeps: Sleeps | None = None, read_timeout: float = 2.0, **options: Any
) -> ThreadsNetwork:
    defaults: dict[str, Any] = {
        "api_url": fake.base_url,
        "authorize_url": f"{fake.base_url}/oauth/authorize",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "waiting": Waiting(first_pause=1.0, longest_pause=4.0, total=10.0),
        "sleep": sleeps or Sleeps(),
        "settle": timedelta(minutes=2),
    }
    http = HERE.client(httpx.Timeout(2.0, read=read_timeout))
    return ThreadsNetwork(HERE, http=http, **(defaults | options))


@pytest.fixture
def network(fake: FakeThreads, sleeps: Sleeps) -> ThreadsNetwork:
    return make_network(fake, sleeps)


def account_of(user: FakeUser, token: str = "alice-token", **settings: Any) -> Account:
    return Account(
        channel_id="channel-1",
        handle=user.username,
        settings=settings,
        credentials={"access_token": token, "user_id": user.id},
    )


def texts_of(fake: FakeThreads, user: FakeUser) -> list[str | None]:
    return [media.text for media in fake.posts_of(user)]


# -- The contract and the text ------------------------------------------------------------------------


def test_the_adapter_is_installed_under_threads_and_built_from_the_settings(settings: Settings) -> None:
    network = NetworkRegistry(allowing_here(settings)).get("threads")
    assert isinstance(network, ThreadsNetwork)
    assert isinstance(network, Network)
    assert isinstance(network, AuthorizesWithOAuth)
    assert isinstance(network, RefreshesCredentials)
    assert isinstance(network, ReportsAudience)
    assert network.info.supports_threads
    assert network.info.can_delete
    assert not network.info.can_edit


def test_the_preview_counts_as_threads_and_a_second_tag_is_no_problem(
    network: ThreadsNetwork, alice: FakeUser
) -> None:
    previews = network.preview(account_of(alice), Draft(text="\U0001f600 #one #two", thread=("a" * 501,)))
    assert [preview.length for preview in previews] == [4 + 1 + 4 + 1 + 4, 501]
    assert previews[0].problems == ()
    assert "Threads allows 500" in previews[1].problems[0]


def test_media_without_a_public_address_is_refused_plainly_before_anything_is_sent(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    draft = Draft(text="a picture", media=(MediaItem("image/png", PNG),))
    assert network.validate(draft) == [
        "attachment 1: Threads fetches media from a public address: set CRIER_PUBLIC_URL"
    ]
    with pytest.raises(Rejected, match="set CRIER_PUBLIC_URL"):
        network.publish(account_of(alice), draft, KEY)
    assert fake.containers == {}


# -- Publishing -----------------------------------------------------------------------------------------


def test_a_text_post_is_a_container_published_once(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    post = network.publish(account_of(alice, reply_control="accounts_you_follow"), Draft(text="Hello"), KEY)

    [media] = fake.posts_of(alice)
    assert post.external_id == media.id
    assert post.url == f"https://www.threads.com/@alice/post/{media.shortcode}"
    assert post.created_at == media.timestamp
    [container] = fake.containers.values()
    assert (container.media_type, container.status, fake.publishes) == ("TEXT", "PUBLISHED", [container.id])


def test_a_thread_is_each_reply_to_the_part_before(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    post = network.publish(account_of(alice), Draft(text="1/3", thread=("2/3", "3/3")), KEY)

    ids = [part.external_id for part in post.parts]
    assert [fake.media[media_id].text for media_id in ids] == ["1/3", "2/3", "3/3"]
    assert [fake.media[media_id].reply_to_id for media_id in ids] == [None, ids[0], ids[1]]


def test_a_thread_stopped_midway_is_finished_from_its_last_part(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    draft = Draft(text="1/3", thread=("2/3", "3/3"))
    fake.graph_code, fake.fail_next_publishes = 4, [None, 400]  # the reply meets Meta's rate limit

    with pytest.raises(RateLimited) as stopped:
        network.publish(account_of(alice), draft, KEY)
    assert [part.external_id for part in stopped.value.published] == [fake.posts_of(alice)[0].id]

    post = network.publish(account_of(alice), draft, KEY, published=stopped.value.published)
    assert texts_of(fake, alice) == ["1/3", "2/3", "3/3"]
    assert post.external_id == stopped.value.published[0].external_id
    assert fake.media[post.thread[0].external_id].reply_to_id == post.external_id


def test_an_image_is_fetched_by_threads_from_its_public_address(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost
) -> None:
    image = media_host.item("a.png", PNG, "image/png", alt_text="a square")
    network.publish(account_of(alice), Draft(text="look", media=(image,)), KEY)

    assert fake.fetched == [image.public_url]
    [media] = fake.posts_of(alice)
    assert (media.media_type, media.text) == ("IMAGE", "look")


def test_several_media_make_a_carousel_of_items(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost
) -> None:
    items = (media_host.item("a.png", PNG, "image/png"), media_host.item("b.mp4", MP4, "video/mp4"))
    network.publish(account_of(alice), Draft(text="", media=items), KEY)

    [media] = fake.posts_of(alice)
    assert media.media_type == "CAROUSEL_ALBUM"
    carousel = next(c for c in fake.containers.values() if c.media_type == "CAROUSEL")
    assert [fake.containers[child].media_type for child in carousel.children] == ["IMAGE", "VIDEO"]


def test_an_image_threads_cannot_fetch_is_refused_and_nothing_is_published(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost
) -> None:
    image = MediaItem("image/png", PNG, public_url=f"{media_host.base_url}/media/missing.png")
    with pytest.raises(Rejected, match="Media download has failed"):
        network.publish(account_of(alice), Draft(text="look", media=(image,)), KEY)
    assert fake.publishes == []


def test_a_video_is_published_once_threads_says_it_is_ready(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost, sleeps: Sleeps
) -> None:
    fake.processing_polls = 3
    video = media_host.item("v.mp4", MP4, "video/mp4")
    network.publish(account_of(alice), Draft(text="watch", media=(video,)), KEY)

    assert sleeps.pauses == [1.0, 2.0, 4.0]
    assert [media.media_type for media in fake.posts_of(alice)] == ["VIDEO"]
    assert len(fake.publishes) == 1


def test_a_video_still_processing_waits_for_a_later_attempt_which_publishes_the_same_container(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost, sleeps: Sleeps
) -> None:
    fake.processing_polls = 6  # longer than the 10 s the test's network waits
    draft = Draft(text="watch", media=(media_host.item("v.mp4", MP4, "video/mp4"),))
    with pytest.raises(Transient, match="still processing"):
        network.publish(account_of(alice), draft, KEY)
    assert sum(sleeps.pauses) <= 10.0
    assert fake.publishes == []

    network.publish(account_of(alice), draft, KEY)
    assert len(fake.containers) == 1
    assert len(fake.posts_of(alice)) == 1


def test_a_carousel_s_items_and_the_carousel_share_one_bounded_wait(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost, sleeps: Sleeps
) -> None:
    fake.processing_polls = 3  # 7 s of pauses for each item: two would wait 14 s of the part's 10
    videos = (media_host.item("a.mp4", MP4, "video/mp4"), media_host.item("b.mp4", MP4, "video/mp4"))
    with pytest.raises(Transient, match="still processing a carousel item"):
        network.publish(account_of(alice), Draft(text="two", media=videos), KEY)
    assert sum(sleeps.pauses) <= 10.0
    assert fake.publishes == []


def test_a_video_threads_could_not_download_is_made_anew_by_the_next_attempt(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost
) -> None:
    video = MediaItem("video/mp4", MP4, public_url=f"{media_host.base_url}/media/later.mp4")
    draft = Draft(text="watch", media=(video,))
    with pytest.raises(Transient, match="FAILED_DOWNLOADING_VIDEO"):
        network.publish(account_of(alice), draft, KEY)

    media_host.files["later.mp4"] = (MP4, "video/mp4")
    network.publish(account_of(alice), draft, KEY)
    assert len(fake.containers) == 2
    assert len(fake.posts_of(alice)) == 1


def test_a_video_threads_cannot_process_is_refused_for_good(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost
) -> None:
    fake.video_error = "INVALID_DURATION"
    draft = Draft(text="watch", media=(media_host.item("v.mp4", MP4, "video/mp4"),))
    with pytest.raises(Rejected, match="ERROR \\(INVALID_DURATION\\)"):
        network.publish(account_of(alice), draft, KEY)
    assert fake.publishes == []


def test_a_container_left_unpublished_for_a_day_has_expired_and_is_made_anew(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, media_host: MediaHost
) -> None:
    fake.processing_polls = 100
    draft = Draft(text="watch", media=(media_host.item("v.mp4", MP4, "video/mp4"),))
    with pytest.raises(Transient):
        network.publish(account_of(alice), draft, KEY)

    fake.processing_polls = 0
    fake.advance(timedelta(hours=25))
    network.publish(account_of(alice), draft, KEY)
    assert [container.status for container in fake.containers.values()] == ["EXPIRED", "PUBLISHED"]
    assert len(fake.posts_of(alice)) == 1


def test_a_used_up_quota_waits_without_making_a_container(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    fake.quota_usage[alice.id] = 250
    with pytest.raises(RateLimited, match="250 posts") as waiting:
        network.publish(account_of(alice), Draft(text="Hello"), KEY)
    assert waiting.value.reset_at is not None
    assert fake.containers == {}


def test_a_thread_longer_than_the_replies_left_waits_before_its_post(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    fake.reply_quota_usage[alice.id] = 999
    with pytest.raises(RateLimited, match="room for 1 more replies"):
        network.publish(account_of(alice), Draft(text="1/3", thread=("2/3", "3/3")), KEY)
    assert fake.containers == {}


# -- Meta's errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["unknown-token", "expired"])
def test_a_token_meta_refuses_with_190_means_reconnect(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, token: str
) -> None:
    if token == "expired":
        fake.expire(token := fake.issue(alice, "expired"))
    with pytest.raises(AuthExpired, match="code 190"):
        network.publish(account_of(alice, token), Draft(text="Hello"), KEY)
    with pytest.raises(AuthExpired):
        network.verify(account_of(alice, token))


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_meta_s_rate_limit_codes_mean_wait(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, code: int
) -> None:
    fake.rate_limited_code = code
    with pytest.raises(RateLimited, match=f"code {code}"):
        network.publish(account_of(alice), Draft(text="Hello"), KEY)


@pytest.mark.parametrize("code", [1, 2])
def test_meta_s_transient_codes_are_retried_where_nothing_can_have_been_posted(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, code: int
) -> None:
    fake.transient_code = code
    with pytest.raises(Transient, match=f"code {code}"):
        network.publish(account_of(alice), Draft(text="Hello"), KEY)
    with pytest.raises(Transient):
        network.verify(account_of(alice))


def test_a_transient_code_to_the_publish_itself_is_checked_not_retried_blind(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    fake.graph_code, fake.fail_next_publishes = 2, [500]
    with pytest.raises(OutcomeUnknown, match="code 2"):
        network.publish(account_of(alice), Draft(text="Hello"), KEY)


def test_a_parameter_meta_refuses_fails_with_its_words(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    gone = PublishedPart("404404", "")
    with pytest.raises(Rejected, match=r"does not exist.*code 100, subcode 33"):
        network.publish(account_of(alice), Draft(text="1/2", thread=("2/2",)), KEY, published=[gone])


@pytest.mark.parametrize(
    ("body", "words"), [("text", "Invalid OAuth access token"), ("html", "502 Bad Gateway")]
)
def test_a_refusal_that_is_not_graph_json_is_read_as_it_comes(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, body: str, words: str
) -> None:
    fake.error_body = body
    with pytest.raises(Rejected if body == "text" else Transient, match=words):
        network.verify(account_of(alice, "unknown-token"))


# -- An answer lost: the publish settled exactly once ----------------------------------------------------


@pytest.mark.parametrize("lost", [502, 504, 524, "disconnect", "stall", "html200"])
def test_a_post_whose_answer_was_lost_is_found_and_not_made_again(
    fake: FakeThreads, alice: FakeUser, lost: int | str
) -> None:
    network = make_network(fake, read_timeout=0.5)
    fake.answer_after_publishing, fake.stall_seconds = [lost], 2.0
    draft = Draft(text="Hello")
    attempted_at = datetime.now(UTC)
    with pytest.raises(OutcomeUnknown):
        network.publish(account_of(alice), draft, KEY)

    found = network.find_published(
        account_of(alice), KEY, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
    )
    [media] = fake.posts_of(alice)
    assert found is not None
    assert found.external_id == media.id
    assert network.publish(account_of(alice), draft, KEY, published=found.parts).external_id == media.id
    assert len(fake.posts_of(alice)) == 1


def test_a_success_without_a_content_type_is_still_the_post(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    fake.answer_after_publishing = ["no content type"]
    post = network.publish(account_of(alice), Draft(text="Hello"), KEY)
    assert post.external_id == fake.posts_of(alice)[0].id


def test_a_publish_refused_before_it_landed_is_certainly_not_out_and_its_container_is_published_next(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    fake.fail_next_publishes = [503]
    draft = Draft(text="Hello")
    began = datetime.now(UTC)
    with pytest.raises(OutcomeUnknown):
        network.publish(account_of(alice), draft, KEY)

    # The container says so at once: no waiting out the settle time.
    found = network.find_published(
        account_of(alice), KEY, draft=draft, attempted_at=began, last_attempted_at=began
    )
    assert found is None
    network.publish(account_of(alice), draft, KEY)
    [container] = fake.containers.values()
    assert fake.publishes == [container.id, container.id]
    assert len(fake.posts_of(alice)) == 1


def test_a_blind_retry_after_a_lost_answer_makes_no_second_post(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    fake.answer_after_publishing = [502]
    with pytest.raises(OutcomeUnknown):
        network.publish(account_of(alice), Draft(text="Hello"), KEY)
    with pytest.raises(OutcomeUnknown, match="published by an earlier attempt"):
        network.publish(account_of(alice), Draft(text="Hello"), KEY)
    assert len(fake.posts_of(alice)) == 1


def test_another_process_finds_the_post_by_its_text_and_trusts_absence_only_once_settled(
    fake: FakeThreads, alice: FakeUser
) -> None:
    now = [datetime.now(UTC)]
    elsewhere = make_network(fake, clock=lambda: now[0])
    attempted_at = now[0]
    draft = Draft(text="#Launch day is here", thread=("more soon",))
    with pytest.raises(OutcomeUnknown):
        elsewhere.find_published(account_of(alice), KEY, draft=draft, attempted_at=attempted_at)

    now[0] += timedelta(minutes=3)
    assert elsewhere.find_published(account_of(alice), KEY, draft=draft, attempted_at=attempted_at) is None

    post_id = make_network(fake).publish(account_of(alice), Draft(text=draft.text), "other-key").external_id
    found = elsewhere.find_published(account_of(alice), KEY, draft=draft, attempted_at=attempted_at)
    assert found is not None
    assert found.external_id == post_id
    assert found.thread == ()


def test_two_posts_reading_alike_are_for_a_person_to_tell_apart(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    attempted_at = datetime.now(UTC)
    for key in ("one", "two"):
        network.publish(account_of(alice), Draft(text="Same words"), key)
    elsewhere = make_network(fake)
    with pytest.raises(CannotTell, match="2 posts"):
        elsewhere.find_published(
            account_of(alice), KEY, draft=Draft(text="Same words"), attempted_at=attempted_at
        )


def test_a_reply_whose_answer_was_lost_is_found_under_the_part_before(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    draft = Draft(text="1/3", thread=("2/3", "3/3"))
    # The post's answer is lost; on the next attempt, the first reply's goes through and the second's is lost.
    fake.answer_after_publishing = ["disconnect", None, 502]
    attempted_at = datetime.now(UTC)
    with pytest.raises(OutcomeUnknown) as lost:
        network.publish(account_of(alice), draft, KEY)
    # The post's own answer was lost: nothing is recorded yet.
    assert lost.value.published == ()

    found = network.find_published(
        account_of(alice), KEY, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
    )
    # The post is found, and its first reply, which the attempt never sent, is certainly not out.
    assert found is not None
    assert found.thread == ()
    second_began = datetime.now(UTC)
    with pytest.raises(OutcomeUnknown) as second:
        network.publish(account_of(alice), draft, KEY, published=found.parts)
    found = network.find_published(
        account_of(alice),
        KEY,
        draft=draft,
        attempted_at=attempted_at,
        last_attempted_at=second_began,
        published=second.value.published,
    )
    assert found is not None
    assert [part.external_id for part in found.parts] == [media.id for media in fake.posts_of(alice)]
    assert len(found.parts) == 3
    assert network.publish(account_of(alice), draft, KEY, published=found.parts).parts == found.parts
    assert texts_of(fake, alice) == ["1/3", "2/3", "3/3"]


# -- Counts, deleting, who the token is ----------------------------------------------------------------


def test_insights_map_to_crier_s_names_and_shares_stay_raw(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    post = network.publish(account_of(alice), Draft(text="Hello"), KEY)
    fake.set_counts(post.external_id, views=120, likes=9, replies=3, reposts=2, quotes=1, shares=4)

    counts = network.fetch_engagement(account_of(alice), [post.external_id])
    assert counts == {
        post.external_id: Engagement(
            likes=9,
            reposts=2,
            replies=3,
            quotes=1,
            views=120,
            raw={
                "id": post.external_id,
                "views": 120,
                "likes": 9,
                "replies": 3,
                "reposts": 2,
                "quotes": 1,
                "shares": 4,
            },
        )
    }


def test_a_metric_meta_retired_leaves_its_field_none_and_the_others_read(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    post = network.publish(account_of(alice), Draft(text="Hello"), KEY)
    fake.set_counts(post.external_id, views=120, likes=9)
    fake.retired_metrics = {"views"}

    for _ in range(2):  # the second read no longer asks for it
        counts = network.fetch_engagement(account_of(alice), [post.external_id])[post.external_id]
        assert isinstance(counts, Engagement)
        assert (counts.views, counts.likes, counts.bookmarks) == (None, 9, None)


def test_a_deleted_post_is_gone_for_counts_and_for_a_second_delete(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    post = network.publish(account_of(alice), Draft(text="Hello"), KEY)
    network.delete(account_of(alice), post.external_id)
    assert fake.posts_of(alice) == []

    assert isinstance(
        network.fetch_engagement(account_of(alice), [post.external_id])[post.external_id], PostGone
    )
    with pytest.raises(PostGone):
        network.delete(account_of(alice), post.external_id)


def test_verify_names_the_account_and_the_audience_counts_its_followers(
    network: ThreadsNetwork, alice: FakeUser
) -> None:
    profile = network.verify(account_of(alice))
    assert (profile.handle, profile.display_name, profile.url) == (
        "alice",
        "Alice",
        "https://www.threads.com/@alice",
    )
    assert network.fetch_audience(account_of(alice)).followers == 7


# -- Connecting an account, and renewing its token ----------------------------------------------------


def test_an_account_connects_through_the_authorization_window_with_a_long_lived_token(
    fake: FakeThreads, alice: FakeUser
) -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    network = make_network(fake, clock=lambda: now)
    redirect_uri = "https://crier.example/v1/oauth/callback"
    start = network.begin_authorization({}, redirect_uri=redirect_uri, state="s-1", code_challenge="ignored")

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.url).query))
    assert query == {
        "client_id": fake.client_id,
        "redirect_uri": redirect_uri,
        "scope": ",".join(SCOPES),
        "response_type": "code",
        "state": "s-1",
    }
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(fake.approve(start.url, alice)).query))
    credentials = network.complete_authorization(
        {}, start.app_credentials, code=back["code"], redirect_uri=redirect_uri, code_verifier="v"
    )

    assert credentials["user_id"] == alice.id
    assert fake.tokens[credentials["access_token"]].long_lived
    assert network.expires_at(credentials) == now + timedelta(days=60)
    assert network.check_credentials(credentials) == []
    assert network.verify(account_of(alice, credentials["access_token"])).handle == "alice"

    with pytest.raises(Rejected, match="Matching code was not found or was already used"):
        network.complete_authorization(
            {}, start.app_credentials, code=back["code"], redirect_uri=redirect_uri, code_verifier="v"
        )


def test_tokens_and_the_app_secret_in_oauth_queries_stay_out_of_the_http_log(
    fake: FakeThreads, alice: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    network = make_network(fake, clock=lambda: fake.now())
    start = network.begin_authorization(
        {}, redirect_uri="https://x.example/cb", state="s", code_challenge="c"
    )
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(fake.approve(start.url, alice)).query))["code"]
    with caplog.at_level("INFO", logger="httpx"):
        credentials = network.complete_authorization(
            {}, {}, code=code, redirect_uri="https://x.example/cb", code_verifier="v"
        )
        fake.advance(timedelta(days=2))
        renewed = network.refresh_credentials(account_of(alice, credentials["access_token"]))

    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "httpx")
    assert "access_token=[redacted]" in logged
    for secret in (fake.client_secret, credentials["access_token"], renewed["access_token"]):
        assert secret not in logged


def test_an_app_secret_meta_does_not_take_is_a_refusal(fake: FakeThreads, alice: FakeUser) -> None:
    network = make_network(fake, client_secret="not-the-secret")
    start = network.begin_authorization(
        {}, redirect_uri="https://x.example/cb", state="s", code_challenge="c"
    )
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(fake.approve(start.url, alice)).query))["code"]
    with pytest.raises(Rejected, match="Error validating client secret"):
        network.complete_authorization(
            {}, {}, code=code, redirect_uri="https://x.example/cb", code_verifier="v"
        )


def test_without_the_operator_s_app_connecting_says_which_setting_to_set(fake: FakeThreads) -> None:
    network = make_network(fake, client_id=None)
    with pytest.raises(Rejected, match="CRIER_THREADS_CLIENT_ID"):
        network.begin_authorization({}, redirect_uri="https://x.example/cb", state="s", code_challenge="c")


def test_a_long_lived_token_a_day_old_is_renewed_for_60_days(fake: FakeThreads, alice: FakeUser) -> None:
    network = make_network(fake, clock=lambda: fake.now())
    fake.advance(timedelta(days=30))
    renewed = network.refresh_credentials(account_of(alice))

    assert renewed["user_id"] == alice.id
    assert renewed["access_token"] != "alice-token"
    expires_at = network.expires_at(renewed)
    assert expires_at is not None
    assert abs(expires_at - (fake.now() + timedelta(days=60))) < timedelta(seconds=5)
    with pytest.raises(AuthExpired):
        network.refresh_credentials(account_of(alice))  # the old token was replaced


def test_an_expired_token_cannot_be_renewed(fake: FakeThreads, alice: FakeUser) -> None:
    fake.expire("alice-token")
    with pytest.raises(AuthExpired):
        make_network(fake).refresh_credentials(account_of(alice))


def test_one_ready_account_publishes_with_the_settings_it_hands_out(settings: Settings) -> None:
    fake, channel = serving_one_account()
    try:
        env = channel["environment"]
        network = ThreadsNetwork(
            HERE, api_url=env["CRIER_THREADS_API_URL"], client_id=env["CRIER_THREADS_CLIENT_ID"]
        )
        account = Account("c", "crier", channel["settings"], channel["credentials"])
        assert network.verify(account).handle == "crier"
        network.publish(account, Draft(text="Hello from Crier"), KEY)
        assert [media.text for media in fake.media.values()] == ["Hello from Crier"]
    finally:
        fake.stop()
