"""The Facebook adapter against a fake Graph API over real HTTP, and its reading of Graph's errors exactly."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.networks.facebook.adapter import FacebookNetwork
from shared.networks.meta.graph_errors import usage_reset_at
from shared.networks.ports import (
    Account,
    AuthExpired,
    AuthorizesWithOAuth,
    CannotTell,
    Draft,
    EditsPosts,
    MediaItem,
    Network,
    OutcomeUnknown,
    PostGone,
    PublishedPart,
    RateLimited,
    Rejected,
    ReportsAudience,
    Transient,
)
from shared.networks.registry import NetworkRegistry
from tests.networks.facebook.fake import Failure, FakeGraph, Page, serving_one_account
from tests.networks.on_this_machine import allowing_here, outbound_here

KEY = "6c1e2f1d-0000-4000-8000-000000000001"
HERE = outbound_here()
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
REDIRECT = "https://crier.example/v1/oauth/callback"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def page(graph: FakeGraph) -> Page:
    return graph.add_page("Crier Café")


def make_network(graph: FakeGraph, read_timeout: float = 0.5, **options: Any) -> FacebookNetwork:
    http = HERE.client(httpx.Timeout(2.0, read=read_timeout))
    defaults: dict[str, Any] = {
        "graph_url": graph.base_url,
        "dialog_url": graph.base_url,
        "client_id": graph.client_id,
        "client_secret": graph.client_secret,
        "settle": timedelta(0),
    }
    return FacebookNetwork(HERE, http=http, **(defaults | options))


@pytest.fixture
def network(graph: FakeGraph) -> FacebookNetwork:
    return make_network(graph)


def account_of(page: Page, token: str | None = None) -> Account:
    return Account(
        channel_id="channel-1",
        handle=page.username,
        settings={"page_id": page.id},
        credentials={"page_access_token": token or page.token},
    )


def publish(network: FacebookNetwork, page: Page, draft: Draft, **kwargs: Any):  # type: ignore[no-untyped-def]
    return network.publish(account_of(page), draft, KEY, **kwargs)


# -- The adapter as Crier loads it ---------------------------------------------------------------------


def test_the_entry_point_builds_the_adapter_from_the_settings(settings: Settings) -> None:
    network = NetworkRegistry(settings).get("facebook")
    assert isinstance(network, Network)
    assert isinstance(network, AuthorizesWithOAuth)
    assert isinstance(network, ReportsAudience)
    assert isinstance(network, EditsPosts)
    assert network.info.supports_first_comment
    assert not network.info.supports_threads


def test_every_call_goes_to_the_configured_graph_version(graph: FakeGraph, page: Page) -> None:
    network = make_network(graph)
    publish(network, page, Draft(text="Hello"))
    assert graph.requests
    assert all(path.startswith(f"/{graph.version}/") for _, path in graph.requests)


def test_a_channel_names_its_page_by_its_numeric_id(network: FacebookNetwork) -> None:
    assert network.check_settings({"page_id": "1234"}) == []
    assert network.check_settings({"page_id": 1234}) == []
    assert network.check_settings({}) != []
    assert network.check_settings({"page_id": "my-page"}) != []
    assert network.check_settings({"page_id": "1", "base_url": "x"}) == ["unknown option 'base_url'"]


def test_drafts_facebook_would_refuse_are_refused_before_sending(network: FacebookNetwork) -> None:
    assert network.validate(Draft(text="Hi", options={"first_comment": "More below"})) == []
    assert network.validate(Draft(text="")) != []
    assert network.validate(Draft(text="x" * 63_206)) == []
    assert network.validate(Draft(text="\U0001f600" * 31_604)) != []  # 63,208 UTF-16 units
    assert network.validate(Draft(text="Hi", thread=("more",))) != []
    assert network.validate(Draft(text="Hi", options={"first_comment": "x" * 8_001})) != []
    assert network.validate(Draft(text="Hi", media=(MediaItem("video/mp4", b"0"),))) != []
    photo = MediaItem("image/jpeg", JPEG)
    assert network.validate(Draft(text="Hi", media=(photo,), options={"link": "https://a.example"})) != []
    assert network.validate(Draft(text="Hi", options={"link": "javascript:alert(1)"})) != []


def test_the_preview_counts_the_post_and_the_first_comment(network: FacebookNetwork, page: Page) -> None:
    draft = Draft(text="Hi \U0001f600", options={"first_comment": "x" * 8_001})
    post, comment = network.preview(account_of(page), draft)
    assert (post.length, post.limit, post.problems) == (5, 63_206, ())
    assert (comment.length, comment.limit) == (8_001, 8_000)
    assert comment.problems


# -- Publishing ----------------------------------------------------------------------------------------


def test_a_text_post_with_a_link_goes_to_the_page_feed(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(network, page, Draft(text="Read this", options={"link": "https://blog.example/a"}))
    [stored] = graph.posts_of(page)
    assert post.external_id == stored["id"]
    assert stored["link"] == "https://blog.example/a"
    assert post.url == f"{graph.base_url}/{stored['id']}"


def test_one_photo_is_posted_with_the_text_as_its_caption(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(
        network, page, Draft(text="Look", media=(MediaItem("image/jpeg", JPEG, alt_text="A cup"),))
    )
    [stored] = graph.posts_of(page)
    [photo] = graph.photos.values()
    assert post.external_id == stored["id"]
    assert stored["photos"] == [photo["id"]]
    assert (photo["bytes"], photo["alt_text"], photo["published"]) == (JPEG, "A cup", True)


def test_several_photos_are_uploaded_unpublished_and_attached_to_one_post(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    media = tuple(MediaItem("image/png", bytes([number]) * 10) for number in range(3))
    post = publish(network, page, Draft(text="Three", media=media))
    [stored] = graph.posts_of(page)
    assert post.external_id == stored["id"]
    assert len(stored["photos"]) == 3
    assert [graph.photos[photo]["bytes"] for photo in stored["photos"]] == [item.data for item in media]


def test_a_first_comment_is_the_posts_next_part(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(network, page, Draft(text="Launch", options={"first_comment": "Link in here"}))
    [stored] = graph.posts_of(page)
    [comment] = stored["comments"]
    assert post.thread_ids == (comment["id"],)
    assert comment["from"] == page.id
    assert comment["message"] == "Link in here"


def test_a_comment_refused_after_the_post_carries_the_post_and_resumes_with_the_comment_only(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    draft = Draft(text="Launch", options={"first_comment": "Details"})
    failing = Failure(code=1, status=500, message="An unknown error occurred", is_transient=True)

    # The post goes through; the comment meets Graph's passing failure.
    original_store = graph._store_post

    def store_then_fail(*args: Any, **kwargs: Any) -> dict[str, Any]:
        graph.fail_next_writes.append(failing)
        return original_store(*args, **kwargs)

    graph._store_post = store_then_fail  # type: ignore[method-assign]
    with pytest.raises(OutcomeUnknown) as failure:
        network.publish(account_of(page), draft, KEY)
    graph._store_post = original_store  # type: ignore[method-assign]
    [stored] = graph.posts_of(page)
    assert [part.external_id for part in failure.value.published] == [stored["id"]]
    assert stored["comments"] == []

    # The check finds the post and no comment; the next attempt makes only the comment.
    found = network.find_published(
        account_of(page), KEY, draft=draft, attempted_at=datetime.now(UTC), published=failure.value.published
    )
    assert found is not None
    assert found.external_id == stored["id"]
    assert found.thread == ()
    post = network.publish(account_of(page), draft, KEY, published=found.parts)
    assert len(graph.posts_of(page)) == 1
    assert len(stored["comments"]) == 1
    assert post.thread_ids == (stored["comments"][0]["id"],)


# -- Graph's errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("subcode", [458, 459, 460, 463, 464, 467])
def test_a_token_graph_calls_invalid_means_reconnect(
    network: FacebookNetwork, graph: FakeGraph, page: Page, subcode: int
) -> None:
    graph.invalidate(page.token, subcode)
    with pytest.raises(AuthExpired, match=f"code 190, subcode {subcode}"):
        publish(network, page, Draft(text="Hello"))
    assert graph.posts_of(page) == []


def test_a_token_graph_cannot_parse_means_reconnect(network: FacebookNetwork, page: Page) -> None:
    with pytest.raises(AuthExpired, match="code 190"):
        network.publish(account_of(page, token="EAAnot-a-token"), Draft(text="Hello"), KEY)


def test_a_permission_removed_means_reconnect(network: FacebookNetwork, page: Page) -> None:
    page.can_post = False
    with pytest.raises(AuthExpired, match="code 200"):
        publish(network, page, Draft(text="Hello"))


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_throttling_waits_until_the_usage_headers_say_access_is_regained(
    network: FacebookNetwork, graph: FakeGraph, page: Page, code: int
) -> None:
    graph.throttle(code, minutes=19)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as limited:
        publish(network, page, Draft(text="Hello"))
    assert limited.value.reset_at is not None
    assert (
        before + timedelta(minutes=19) <= limited.value.reset_at <= datetime.now(UTC) + timedelta(minutes=19)
    )
    assert graph.posts_of(page) == []


def test_throttling_without_usage_headers_waits_the_ladders_default(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    graph.usage_headers = False
    graph.throttle(80001)
    with pytest.raises(RateLimited) as limited:
        publish(network, page, Draft(text="Hello"))
    assert limited.value.reset_at is None


def test_the_latest_regain_time_of_any_usage_header_is_the_reset() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    headers = httpx.Headers(
        {
            "X-Business-Use-Case-Usage": json.dumps(
                {"1": [{"type": "pages", "estimated_time_to_regain_access": 5}], "2": [{"type": "pages"}]}
            ),
            "X-App-Usage": json.dumps({"call_count": 100, "estimated_time_to_regain_access": 12}),
            "X-Page-Usage": "not json",
        }
    )
    assert usage_reset_at(headers, now) == now + timedelta(minutes=12)
    assert usage_reset_at(httpx.Headers({"X-App-Usage": '{"call_count": 100}'}), now) is None


@pytest.mark.parametrize(
    "failure",
    [
        Failure(code=1, status=500, message="An unknown error occurred", is_transient=True),
        Failure(code=2, status=500, message="An unexpected error has occurred. Please retry later."),
        Failure(code=9004, status=400, message="A passing failure", is_transient=True),
    ],
)
def test_a_passing_graph_failure_to_a_write_is_checked_before_sending_again(
    network: FacebookNetwork, graph: FakeGraph, page: Page, failure: Failure
) -> None:
    graph.fail_next_writes = [failure]
    with pytest.raises(OutcomeUnknown):
        publish(network, page, Draft(text="Hello"))


def test_a_passing_graph_failure_to_a_read_is_retried(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    graph.fail_next_reads = [Failure(code=2, status=500, message="Service temporarily unavailable")]
    with pytest.raises(Transient, match=r"code 2\b"):
        network.verify(account_of(page))


def test_a_passing_graph_failure_to_a_delete_is_checked(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(network, page, Draft(text="Hello"))
    graph.fail_next_writes = [Failure(code=2, status=500)]
    with pytest.raises(OutcomeUnknown):
        network.delete(account_of(page), post.external_id)


def test_an_invalid_parameter_is_a_refusal(network: FacebookNetwork, graph: FakeGraph, page: Page) -> None:
    graph.fail_next_writes = [Failure(code=100, message="(#100) Invalid parameter")]
    with pytest.raises(Rejected, match="code 100"):
        publish(network, page, Draft(text="Hello"))


@pytest.mark.parametrize("status", [502, 503, 504, 524])
def test_a_proxys_page_instead_of_graphs_answer_is_checked(
    network: FacebookNetwork, graph: FakeGraph, page: Page, status: int
) -> None:
    graph.fail_next_writes = [status]
    graph.failure_body = "html"
    with pytest.raises(OutcomeUnknown):
        publish(network, page, Draft(text="Hello"))
    graph.fail_next_writes = [503]
    graph.failure_body = "text"
    with pytest.raises(OutcomeUnknown, match="Service Unavailable"):
        publish(network, page, Draft(text="Hello"))


# -- An uncertain write, reconciled --------------------------------------------------------------------


@pytest.mark.parametrize("lost", [502, 504, "disconnect", "stall"])
def test_a_post_whose_answer_was_lost_is_found_and_never_made_twice(
    network: FacebookNetwork, graph: FakeGraph, page: Page, lost: int | str
) -> None:
    draft = Draft(text=f"Lost answer {lost}")
    attempted_at = datetime.now(UTC)
    graph.answer_after_storing = [lost]
    with pytest.raises(OutcomeUnknown):
        publish(network, page, draft)
    [stored] = graph.posts_of(page)

    found = network.find_published(
        account_of(page), KEY, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
    )

    assert found is not None
    assert found.external_id == stored["id"]
    assert found.created_at == stored["created"].replace(tzinfo=UTC)
    assert len(graph.posts_of(page)) == 1


@pytest.mark.parametrize("lost", [502, "disconnect"])
def test_a_first_comment_whose_answer_was_lost_is_found_and_never_made_twice(
    network: FacebookNetwork, graph: FakeGraph, page: Page, lost: int | str
) -> None:
    draft = Draft(text="With a comment", options={"first_comment": "The details"})
    attempted_at = datetime.now(UTC)
    graph.answer_after_storing = [None, lost]
    with pytest.raises(OutcomeUnknown) as failure:
        publish(network, page, draft)
    [stored] = graph.posts_of(page)
    assert [part.external_id for part in failure.value.published] == [stored["id"]]

    found = network.find_published(
        account_of(page), KEY, draft=draft, attempted_at=attempted_at, published=failure.value.published
    )
    assert found is not None
    assert found.thread_ids == (stored["comments"][0]["id"],)
    again = publish(network, page, draft, published=found.parts)
    assert again.parts == found.parts
    assert len(stored["comments"]) == 1


def test_two_comments_that_read_as_the_first_comment_are_for_a_person(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    draft = Draft(text="Post", options={"first_comment": "Same"})
    post = publish(network, page, draft)
    graph.posts[post.external_id]["comments"].append(
        {**graph.posts[post.external_id]["comments"][0], "id": "x_1"}
    )
    with pytest.raises(CannotTell) as undecided:
        network.find_published(
            account_of(page), KEY, draft=draft, attempted_at=datetime.now(UTC), published=post.parts[:1]
        )
    assert [part.external_id for part in undecided.value.published] == [post.external_id]


def test_a_post_that_never_arrived_is_not_found(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    graph.add_post(page, "Something else")
    graph.add_post(page, "Same words", created=datetime.now(UTC) - timedelta(hours=2))
    attempted_at = datetime.now(UTC)
    found = network.find_published(
        account_of(page), KEY, draft=Draft(text="Same words"), attempted_at=attempted_at
    )
    assert found is None


def test_absence_is_not_trusted_until_the_attempt_has_settled(graph: FakeGraph, page: Page) -> None:
    network = make_network(graph, settle=timedelta(minutes=2))
    attempted_at = datetime.now(UTC)
    with pytest.raises(Transient):
        network.find_published(
            account_of(page),
            KEY,
            draft=Draft(text="Soon"),
            attempted_at=attempted_at,
            last_attempted_at=attempted_at,
        )


def test_two_posts_that_read_as_the_draft_are_for_a_person(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    attempted_at = datetime.now(UTC)
    graph.add_post(page, "Twice")
    graph.add_post(page, "Between")
    graph.add_post(page, "Twice")
    with pytest.raises(CannotTell):
        network.find_published(account_of(page), KEY, draft=Draft(text="Twice"), attempted_at=attempted_at)


def test_the_page_is_read_back_page_by_page_of_results(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    attempted_at = datetime.now(UTC)
    graph.add_post(page, "Ours")
    for number in range(150):
        graph.add_post(page, f"Later {number}", created=datetime.now(UTC) + timedelta(seconds=1))
    found = network.find_published(account_of(page), KEY, draft=Draft(text="Ours"), attempted_at=attempted_at)
    assert found is not None
    assert graph.posts[found.external_id]["message"] == "Ours"


def test_a_duplicate_refused_after_a_lost_answer_is_the_post_made_before(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    draft = Draft(text="Only once")
    graph.answer_after_storing = ["disconnect"]
    with pytest.raises(OutcomeUnknown):
        publish(network, page, draft)
    [stored] = graph.posts_of(page)

    post = publish(network, page, draft)  # Graph answers 506: it repeats the Page's latest post

    assert post.external_id == stored["id"]
    assert len(graph.posts_of(page)) == 1


def test_a_duplicate_of_a_post_crier_did_not_make_is_refused(graph: FakeGraph, page: Page) -> None:
    graph.add_post(page, "Hand made", created=datetime.now(UTC) - timedelta(hours=3))
    network = make_network(graph)
    with pytest.raises(Rejected, match="code 506"):
        publish(network, page, Draft(text="Hand made"))


# -- Counts, audience, edit, delete, verify ------------------------------------------------------------


def test_counts_map_reactions_comments_shares_and_views(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    shared = publish(network, page, Draft(text="One", options={"first_comment": "c"}))
    quiet = network.publish(account_of(page), Draft(text="Two"), "key-2")
    graph.posts[shared.external_id].update(reactions=7, shares=3, views=120)

    counts = network.fetch_engagement(account_of(page), [shared.external_id, quiet.external_id])

    first, second = counts[shared.external_id], counts[quiet.external_id]
    assert not isinstance(first, PostGone)
    assert not isinstance(second, PostGone)
    assert (first.likes, first.replies, first.reposts, first.views) == (7, 1, 3, 120)
    # Graph leaves `shares` out of a post nobody shared: none, not unknown.
    assert (second.likes, second.replies, second.reposts, second.views) == (0, 0, 0, 0)
    assert first.quotes is None
    assert first.bookmarks is None


def test_a_retired_views_metric_leaves_views_unknown_and_the_other_counts_read(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(network, page, Draft(text="One"))
    graph.posts[post.external_id].update(reactions=4, shares=2, views=99)
    graph.retire_views()

    [counts] = network.fetch_engagement(account_of(page), [post.external_id]).values()

    assert not isinstance(counts, PostGone)
    assert (counts.likes, counts.replies, counts.reposts, counts.views) == (4, 0, 2, None)
    asked = [path for method, path in graph.requests if method == "GET"]
    # Asked once with the metric, then without it; later readings no longer ask for it.
    network.fetch_engagement(account_of(page), [post.external_id])
    assert len([path for method, path in graph.requests if method == "GET"]) == len(asked) + 1


def test_a_deleted_post_among_others_is_gone_and_the_others_are_read(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    kept = publish(network, page, Draft(text="Kept"))
    deleted = network.publish(account_of(page), Draft(text="Deleted"), "key-2")
    del graph.posts[deleted.external_id]

    counts = network.fetch_engagement(account_of(page), [kept.external_id, deleted.external_id])

    assert isinstance(counts[deleted.external_id], PostGone)
    assert not isinstance(counts[kept.external_id], PostGone)


def test_the_audience_is_the_pages_followers(network: FacebookNetwork, page: Page) -> None:
    page.followers_count, page.fan_count = 1200, 1000
    audience = network.fetch_audience(account_of(page))
    assert (audience.followers, audience.following, audience.posts) == (1200, None, None)


def test_an_edit_changes_the_message_and_reads_back(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(network, page, Draft(text="Tpyo"))
    assert not network.reads_as(account_of(page), post.external_id, Draft(text="Typo"))
    part = network.edit(account_of(page), post.external_id, Draft(text="Typo"))
    assert part.external_id == post.external_id
    assert graph.posts[post.external_id]["message"] == "Typo"
    assert network.reads_as(account_of(page), post.external_id, Draft(text="Typo"))


def test_delete_removes_the_post_and_then_says_it_is_gone(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = publish(network, page, Draft(text="Bye"))
    network.delete(account_of(page), post.external_id)
    assert graph.posts_of(page) == []
    with pytest.raises(PostGone):
        network.delete(account_of(page), post.external_id)


def test_verify_names_the_page(network: FacebookNetwork, graph: FakeGraph, page: Page) -> None:
    profile = network.verify(account_of(page))
    assert (profile.handle, profile.display_name) == (page.username, "Crier Café")
    graph.invalidate(page.token, 463)
    with pytest.raises(AuthExpired):
        network.verify(account_of(page))


# -- Connecting a Page ---------------------------------------------------------------------------------


def test_connecting_gets_the_pages_own_token_from_a_long_lived_user_token(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    other = graph.add_page("Other Page")
    person = graph.add_user("Ada", {other: [], page: []})
    settings = {"page_id": page.id}

    start = network.begin_authorization(settings, redirect_uri=REDIRECT, state="st4te", code_challenge="ch")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.url).query))
    assert start.url.startswith(f"{graph.base_url}/{graph.version}/dialog/oauth?")
    assert query["state"] == "st4te"
    assert "pages_manage_posts" in query["scope"].split(",")
    assert "code_challenge" not in query  # Facebook Login takes none outside its OIDC flow
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(graph.approve(start.url, person)).query))

    credentials = network.complete_authorization(
        settings, start.app_credentials, code=back["code"], redirect_uri=REDIRECT, code_verifier="v"
    )

    assert credentials == {"page_access_token": page.token}
    assert all("secret" not in path for _, path in graph.requests)  # the secret never goes in a URL
    with pytest.raises(Rejected, match="used"):
        network.complete_authorization(
            settings, start.app_credentials, code=back["code"], redirect_uri=REDIRECT, code_verifier="v"
        )


def test_connecting_a_page_the_person_does_not_manage_names_the_ones_they_do(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    other = graph.add_page("Other Page")
    person = graph.add_user("Ada", {other: []})
    start = network.begin_authorization(
        {"page_id": page.id}, redirect_uri=REDIRECT, state="s", code_challenge="c"
    )
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(graph.approve(start.url, person)).query))
    with pytest.raises(Rejected, match=f"Other Page \\({other.id}\\)"):
        network.complete_authorization(
            {"page_id": page.id}, {}, code=back["code"], redirect_uri=REDIRECT, code_verifier="v"
        )


def test_connecting_with_a_wrong_app_secret_is_refused(graph: FakeGraph, page: Page) -> None:
    network = make_network(graph, client_secret="wrong")
    person = graph.add_user("Ada", {page: []})
    start = network.begin_authorization(
        {"page_id": page.id}, redirect_uri=REDIRECT, state="s", code_challenge="c"
    )
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(graph.approve(start.url, person)).query))
    with pytest.raises(Rejected, match="client secret"):
        network.complete_authorization(
            {"page_id": page.id}, {}, code=back["code"], redirect_uri=REDIRECT, code_verifier="v"
        )


def test_without_the_operators_app_connecting_says_which_setting_to_set(graph: FakeGraph, page: Page) -> None:
    network = make_network(graph, client_id=None)
    with pytest.raises(Rejected, match="CRIER_FACEBOOK_CLIENT_ID"):
        network.begin_authorization(
            {"page_id": page.id}, redirect_uri=REDIRECT, state="s", code_challenge="c"
        )


def test_page_tokens_do_not_expire_so_there_is_nothing_to_refresh(network: FacebookNetwork) -> None:
    assert not hasattr(network, "refresh_credentials")


# -- For other tests -----------------------------------------------------------------------------------


def test_one_ready_account_can_be_published_to_through_the_settings(settings: Settings) -> None:
    fake, channel = serving_one_account()
    try:
        environment = channel["environment"]
        configured = allowing_here(settings).model_copy(
            update={
                "facebook_graph_url": environment["CRIER_FACEBOOK_GRAPH_URL"],
                "facebook_dialog_url": environment["CRIER_FACEBOOK_DIALOG_URL"],
            }
        )
        network = FacebookNetwork.from_settings(configured)
        account = Account("c", "page", settings=channel["settings"], credentials=channel["credentials"])
        post = network.publish(account, Draft(text="Hello from Crier"), KEY)
        assert [stored["id"] for stored in fake.posts.values()] == [post.external_id]
        assert network.verify(account).display_name == "Crier Café"
    finally:
        fake.stop()


def test_published_parts_are_passed_through_unchanged(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    made = PublishedPart("1_2", "https://www.facebook.com/1_2")
    post = publish(network, page, Draft(text="Done"), published=(made,))
    assert post.external_id == "1_2"
    assert graph.posts_of(page) == []
