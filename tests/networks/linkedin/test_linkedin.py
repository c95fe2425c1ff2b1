"""The LinkedIn adapter against a fake LinkedIn over real HTTP: little text, images, the first comment, every
documented error, reconciliation after a lost answer, counts, editing, deleting, verifying, OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.networks.linkedin.adapter import LinkedInNetwork
from shared.networks.ports import (
    Account,
    Audience,
    AuthExpired,
    CannotTell,
    Draft,
    EditsPosts,
    Engagement,
    MediaItem,
    OutcomeUnknown,
    PostGone,
    RateLimited,
    RefreshesCredentials,
    Rejected,
    ReportsAudience,
    Transient,
)
from shared.networks.registry import NetworkRegistry
from shared.text.linkedin import commentary
from tests.networks.linkedin.fake import (
    MEMBER_SCOPES,
    PAGE_SCOPES,
    VERSION,
    FakeLinkedIn,
    Member,
    reserved_characters,
    serving_one_account,
)
from tests.networks.on_this_machine import allowing_here, outbound_here

HERE = outbound_here()
KEY = "6b0f7d0e-0000-4000-8000-000000000001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def fake() -> Iterator[FakeLinkedIn]:
    server = FakeLinkedIn().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ada(fake: FakeLinkedIn) -> Member:
    member = fake.add_member("Ada Lovelace")
    fake.issue(member, "ada-token", MEMBER_SCOPES | {"r_member_social"})
    return member


def make_network(fake: FakeLinkedIn, read_timeout: float = 0.5, **options: Any) -> LinkedInNetwork:
    http = HERE.client(httpx.Timeout(2.0, read=read_timeout))
    defaults: dict[str, Any] = {
        "api_url": fake.base_url,
        "oauth_url": f"{fake.base_url}/oauth/v2",
        "version": VERSION,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "settle": timedelta(0),
    }
    return LinkedInNetwork(HERE, http=http, **(defaults | options))


@pytest.fixture
def network(fake: FakeLinkedIn) -> LinkedInNetwork:
    return make_network(fake)


def member_account(member: Member, token: str = "ada-token", **credentials: Any) -> Account:
    return Account(
        channel_id="linkedin-1",
        handle=member.urn,
        settings={"author": "member"},
        credentials={"access_token": token, "member_urn": member.urn, **credentials},
    )


def page_account(page: str, token: str = "ada-token") -> Account:
    return Account("linkedin-2", page, settings={"author": page}, credentials={"access_token": token})


def publish_or_error(network: LinkedInNetwork, account: Account, draft: Draft, key: str = KEY) -> Any:
    try:
        return network.publish(account, draft, key)
    except Exception as error:
        return error


# -- Registration and the text ---------------------------------------------------------------------------


def test_the_entry_point_builds_the_adapter_from_settings_and_it_keeps_the_optional_ports() -> None:
    network = NetworkRegistry(Settings()).get("linkedin")

    assert isinstance(network, LinkedInNetwork)
    assert isinstance(network, EditsPosts)
    assert isinstance(network, RefreshesCredentials)
    assert isinstance(network, ReportsAudience)
    assert network.info.supports_first_comment
    assert not network.info.supports_threads


def test_a_text_full_of_reserved_characters_arrives_whole(fake, ada, network) -> None:
    text = f"Q3 (draft) [v2] {{x}} a|b <tag> 50% off* ~ _under_ \\ {reserved_characters()} e-mail: a@b.c"

    post = network.publish(member_account(ada), Draft(text=text), KEY)

    stored = fake.posts[post.external_id]
    assert stored["displayed"] == text
    assert stored["commentary"] != text


def test_the_fake_cuts_an_unescaped_text_at_the_first_reserved_character_as_linkedin_does(fake, ada) -> None:
    post = fake.post_by_hand(ada.urn, "Launch day (finally) is here")

    assert post["displayed"] == "Launch day "


def test_hashtags_and_mentions_become_little_elements(fake, ada, network) -> None:
    text = "Hello @[Acme Corp](urn:li:organization:123) #launch #2026plans, not a#tag"

    post = network.publish(member_account(ada), Draft(text=text), KEY)

    stored = fake.posts[post.external_id]
    assert "{hashtag|\\#|launch}" in stored["commentary"]
    assert "@[Acme Corp](urn:li:organization:123)" in stored["commentary"]
    assert "a\\#tag" in stored["commentary"]
    assert stored["displayed"] == "Hello Acme Corp #launch #2026plans, not a#tag"


def test_every_call_sends_the_version_and_the_protocol_headers(fake, ada, network) -> None:
    image = MediaItem("image/png", PNG, "A dot")
    draft = Draft(text="Headers", media=(image,), options={"first_comment": "More"})
    network.publish(member_account(ada), draft, KEY)

    rest_calls = [recorded for recorded in fake.requests if recorded.path.startswith("/rest/")]
    assert {recorded.path.split("/")[2] for recorded in rest_calls} == {"posts", "images", "socialActions"}
    assert all(recorded.headers.get("Linkedin-Version") == VERSION for recorded in rest_calls)
    assert all(recorded.headers.get("X-Restli-Protocol-Version") == "2.0.0" for recorded in rest_calls)


def test_a_retired_version_is_refused_for_good(fake, ada) -> None:
    network = make_network(fake, version="202301")

    outcome = publish_or_error(network, member_account(ada), Draft(text="Old"))

    assert isinstance(outcome, Rejected)
    assert "NONEXISTENT_VERSION" in str(outcome)
    assert fake.posts == {}


def test_a_post_names_its_author_and_reads_as_linkedin_documents(fake, ada, network) -> None:
    post = network.publish(member_account(ada), Draft(text="Plain"), KEY)

    body = fake.requests_to("POST", "/rest/posts")[0].body
    assert body["author"] == ada.urn
    assert body["visibility"] == "PUBLIC"
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED"
    assert body["lifecycleState"] == "PUBLISHED"
    assert post.url == f"https://www.linkedin.com/feed/update/{post.external_id}/"


def test_a_member_urn_missing_from_the_credentials_is_asked_of_userinfo(fake, ada, network) -> None:
    account = Account("c", "ada", settings={}, credentials={"access_token": "ada-token"})

    post = network.publish(account, Draft(text="Who am I"), KEY)

    assert fake.posts[post.external_id]["author"] == ada.urn


def test_a_page_posts_as_the_organization(fake, ada, network) -> None:
    page = fake.add_organization(ada)
    fake.issue(ada, "page-token", MEMBER_SCOPES | PAGE_SCOPES)

    post = network.publish(page_account(page, "page-token"), Draft(text="From the page"), KEY)

    assert fake.posts[post.external_id]["author"] == page


# -- Images -----------------------------------------------------------------------------------------------


def test_one_image_goes_as_the_posts_media_with_its_alt_text(fake, ada, network) -> None:
    post = network.publish(
        member_account(ada), Draft(text="Look", media=(MediaItem("image/png", PNG, "A black dot"),)), KEY
    )

    content = fake.posts[post.external_id]["content"]
    assert content["media"]["altText"] == "A black dot"
    assert fake.images[content["media"]["id"]]["data"] == PNG


def test_several_images_go_as_a_multi_image(fake, ada, network) -> None:
    media = tuple(MediaItem("image/jpeg", bytes([n]) * 10, f"Image {n}") for n in range(3))

    post = network.publish(member_account(ada), Draft(text="Gallery", media=media), KEY)

    images = fake.posts[post.external_id]["content"]["multiImage"]["images"]
    assert [image["altText"] for image in images] == ["Image 0", "Image 1", "Image 2"]
    assert [fake.images[image["id"]]["data"] for image in images] == [item.data for item in media]


def test_the_token_goes_to_no_upload_address_but_linkedins(fake, ada, network) -> None:
    fake.upload_base = "http://127.0.0.2:9"
    draft = Draft(text="Look", media=(MediaItem("image/png", PNG),))

    outcome = publish_or_error(network, member_account(ada), draft)

    assert isinstance(outcome, Transient)
    assert "not LinkedIn's" in str(outcome)
    assert fake.posts == {}


def test_drafts_linkedin_would_refuse_are_refused_before_sending(fake, ada, network) -> None:
    assert network.validate(Draft(text="x" * 3001))
    assert network.validate(Draft(text="(" * 1501))  # escaped, it is 3002 long
    assert network.validate(Draft(text="Hi", thread=("more",)))
    assert network.validate(Draft(text="Hi", media=(MediaItem("video/mp4", b"v"),)))
    assert network.validate(Draft(text="x" * 3000)) == []

    outcome = publish_or_error(network, member_account(ada), Draft(text="(" * 1501))

    assert isinstance(outcome, Rejected)
    assert fake.requests_to("POST", "/rest/posts") == []


# -- The first comment ------------------------------------------------------------------------------------


def test_the_first_comment_is_the_posts_next_part(fake, ada, network) -> None:
    draft = Draft(text="The post", options={"first_comment": "Link: https://example.com (details)"})

    post = network.publish(member_account(ada), draft, KEY)

    (comment,) = post.thread
    [stored] = fake.comments_on(post.external_id)
    assert comment.external_id == stored["urn"]
    assert stored["message"]["text"] == "Link: https://example.com (details)"
    assert stored["actor"] == ada.urn


def test_a_comment_that_failed_is_resumed_alone(fake, ada, network) -> None:
    fake.misbehave_on = {"comment"}
    fake.fail_next_writes = [503]
    draft = Draft(text="Post then comment", options={"first_comment": "First!"})
    account = member_account(ada)

    with pytest.raises(OutcomeUnknown) as failed:
        network.publish(account, draft, KEY)
    made = failed.value.published
    assert len(made) == 1
    assert fake.comments_on(made[0].external_id) == []

    post = network.publish(account, draft, KEY, published=made)

    assert post.external_id == made[0].external_id
    assert len(fake.posts_of(ada.urn)) == 1
    assert len(fake.comments_on(post.external_id)) == 1


def test_a_comment_whose_answer_was_lost_is_found_not_sent_again(fake, ada, network) -> None:
    fake.misbehave_on = {"comment"}
    fake.answer_after_storing = [502]
    draft = Draft(text="Post, comment lost", options={"first_comment": "Here it is"})
    account = member_account(ada)
    attempted_at = datetime.now(UTC)

    with pytest.raises(OutcomeUnknown) as failed:
        network.publish(account, draft, KEY)
    found = network.find_published(
        account, KEY, draft=draft, attempted_at=attempted_at, published=failed.value.published
    )

    assert found is not None
    [stored] = fake.comments_on(found.external_id)
    assert found.thread_ids == (stored["urn"],)


# -- Errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dead", ["revoked", "expired"])
def test_a_dead_token_means_reconnect(fake, ada, network, dead) -> None:
    if dead == "revoked":
        fake.revoke("ada-token")
    else:
        fake.advance(timedelta(days=61))

    outcome = publish_or_error(network, member_account(ada), Draft(text="Hi"))

    assert isinstance(outcome, AuthExpired)
    assert f"{dead.upper()}_ACCESS_TOKEN" in str(outcome)
    with pytest.raises(AuthExpired):
        network.verify(member_account(ada))


def test_a_page_the_member_does_not_administer_is_a_refusal(fake, ada, network) -> None:
    outcome = publish_or_error(network, page_account("urn:li:organization:999"), Draft(text="Not mine"))

    assert isinstance(outcome, Rejected)
    assert not isinstance(outcome, AuthExpired)
    assert "Not enough permissions" in str(outcome)


def test_a_validation_error_is_a_refusal_with_linkedins_words(fake, ada, network) -> None:
    fake.fail_next_writes = [422]

    outcome = publish_or_error(network, member_account(ada), Draft(text="Hi"))

    assert isinstance(outcome, Rejected)
    assert fake.posts == {}


def test_a_daily_quota_waits_until_midnight_utc(fake, ada, network) -> None:
    fake.posts_per_day = 0

    outcome = publish_or_error(network, member_account(ada), Draft(text="Too many"))

    assert isinstance(outcome, RateLimited)
    now = datetime.now(UTC)
    assert outcome.reset_at == datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


@pytest.mark.parametrize("body", ["json", "text", "html"])
def test_a_server_error_may_have_posted(fake, ada, network, body) -> None:
    fake.failure_body = body
    fake.fail_next_writes = [500]

    outcome = publish_or_error(network, member_account(ada), Draft(text="Hi"))

    assert isinstance(outcome, OutcomeUnknown)


@pytest.mark.parametrize("status", [409, 422])
def test_a_duplicate_of_someone_elses_post_is_refused_naming_it(fake, ada, network, status) -> None:
    fake.duplicate_status = status
    by_hand = fake.post_by_hand(ada.urn, commentary("Same words"))
    fake.posts[by_hand["id"]]["createdAt"] -= 3_600_000

    outcome = publish_or_error(network, member_account(ada), Draft(text="Same words"))

    assert isinstance(outcome, Rejected)
    assert by_hand["id"] in str(outcome)


def test_a_duplicate_of_this_deliverys_lost_post_is_that_post(fake, ada, network) -> None:
    fake.stall_next_writes = 1
    fake.stall_mode = "disconnect"
    account = member_account(ada)
    draft = Draft(text="Once only")

    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)
    again = network.publish(account, draft, KEY)

    [stored] = fake.posts_of(ada.urn)
    assert again.external_id == stored["id"]


def test_a_201_without_the_posts_id_is_checked_and_found(fake, ada, network) -> None:
    fake.omit_restli_id = 1
    account = member_account(ada)
    draft = Draft(text="No header")
    attempted_at = datetime.now(UTC)

    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)
    found = network.find_published(account, KEY, draft=draft, attempted_at=attempted_at)

    [stored] = fake.posts_of(ada.urn)
    assert found is not None
    assert found.external_id == stored["id"]


# -- Reconciliation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lost", ["502", "504", "524", "timeout", "disconnect"])
def test_a_lost_answer_is_reconciled_to_exactly_one_post(fake, ada, network, lost) -> None:
    if lost.isdigit():
        fake.answer_after_storing = [int(lost)]
    else:
        fake.stall_next_writes, fake.stall_mode = 1, lost
    account = member_account(ada)
    draft = Draft(text=f"Lost answer ({lost})", media=(MediaItem("image/png", PNG),))
    attempted_at = datetime.now(UTC)

    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)
    found = network.find_published(account, KEY, draft=draft, attempted_at=attempted_at)

    [stored] = fake.posts_of(ada.urn)
    assert found is not None
    assert found.external_id == stored["id"]
    assert found.created_at is not None


def test_a_write_that_never_landed_is_found_absent(fake, ada, network) -> None:
    fake.fail_next_writes = [502]
    fake.failure_body = "html"
    account = member_account(ada)
    draft = Draft(text="Never stored")
    attempted_at = datetime.now(UTC)
    fake.post_by_hand(ada.urn, commentary("Something else"))

    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)

    assert network.find_published(account, KEY, draft=draft, attempted_at=attempted_at) is None


def test_an_absence_is_not_certain_while_the_attempt_is_recent(fake, ada) -> None:
    network = make_network(fake, settle=timedelta(minutes=5))
    now = datetime.now(UTC)

    with pytest.raises(Transient):
        network.find_published(member_account(ada), KEY, draft=Draft(text="Soon?"), attempted_at=now)


def test_two_matching_posts_are_for_a_person_to_tell_apart(fake, ada, network) -> None:
    attempted_at = datetime.now(UTC)
    for _ in range(2):
        fake.post_by_hand(ada.urn, commentary("Twice"))

    with pytest.raises(CannotTell):
        network.find_published(member_account(ada), KEY, draft=Draft(text="Twice"), attempted_at=attempted_at)


def test_a_post_from_before_the_attempt_is_not_taken_for_it(fake, ada, network) -> None:
    old = fake.post_by_hand(ada.urn, commentary("Again"))
    fake.posts[old["id"]]["createdAt"] -= 3_600_000
    fake.posts[old["id"]]["lastModifiedAt"] -= 3_600_000

    found = network.find_published(
        member_account(ada), KEY, draft=Draft(text="Again"), attempted_at=datetime.now(UTC)
    )

    assert found is None


def test_a_member_without_read_permission_is_for_a_person_to_check(fake, network) -> None:
    grace = fake.add_member("Grace Hopper", token="grace-token")

    with pytest.raises(CannotTell, match="r_member_social"):
        network.find_published(
            member_account(grace, "grace-token"), KEY, draft=Draft(text="x"), attempted_at=datetime.now(UTC)
        )


def test_a_comment_that_cannot_be_looked_for_is_for_a_person_with_the_post_kept(fake, network) -> None:
    grace = fake.add_member("Grace Hopper", token="grace-token")
    account = member_account(grace, "grace-token")
    fake.misbehave_on = {"comment"}
    fake.answer_after_storing = [504]
    draft = Draft(text="Members cannot read comments", options={"first_comment": "Lost"})
    with pytest.raises(OutcomeUnknown) as failed:
        network.publish(account, draft, KEY)
    post = failed.value.published

    with pytest.raises(CannotTell, match="r_member_social") as cannot:
        network.find_published(account, KEY, draft=draft, attempted_at=datetime.now(UTC), published=post)

    assert cannot.value.published == post


def test_without_the_draft_the_process_remembers_what_it_sent(fake, ada, network) -> None:
    fake.answer_after_storing = [504]
    account = member_account(ada)

    with pytest.raises(OutcomeUnknown):
        network.publish(account, Draft(text="Remembered"), KEY)

    found = network.find_published(account, KEY)
    assert found is not None
    assert found.external_id == fake.posts_of(ada.urn)[0]["id"]
    with pytest.raises(CannotTell):
        make_network(fake).find_published(account, KEY)


# -- Counts, edits, deletes, verify -----------------------------------------------------------------------


def test_a_members_counts_are_likes_and_comments_and_nothing_else(fake, ada, network) -> None:
    account = member_account(ada)
    post = network.publish(account, Draft(text="Count me", options={"first_comment": "c"}), KEY)
    fake.add_counts(post.external_id, likes=7)

    counts = network.fetch_engagement(account, [post.external_id])[post.external_id]

    assert isinstance(counts, Engagement)
    assert (counts.likes, counts.replies, counts.views, counts.reposts) == (7, 1, None, None)


def test_a_pages_counts_add_impressions_reshares_and_clicks(fake, ada, network) -> None:
    page = fake.add_organization(ada)
    fake.issue(ada, "page-token", MEMBER_SCOPES | PAGE_SCOPES)
    account = page_account(page, "page-token")
    post = network.publish(account, Draft(text="Page post"), KEY)
    fake.add_counts(post.external_id, likes=3, impressions=120, clicks=9, reshares=2)

    counts = network.fetch_engagement(account, [post.external_id])[post.external_id]

    assert isinstance(counts, Engagement)
    assert (counts.likes, counts.views, counts.reposts, counts.replies) == (3, 120, 2, 0)
    assert counts.raw["clicks"] == 9


def test_a_page_tells_its_followers_and_a_member_nothing(fake, ada, network) -> None:
    page = fake.add_organization(ada)
    fake.organizations[page]["followers"] = 1234

    assert network.fetch_audience(page_account(page)) == Audience(
        followers=1234, raw={"firstDegreeSize": 1234}
    )
    assert network.fetch_audience(member_account(ada)) == Audience()


def test_a_missing_count_leaves_only_that_field_empty_and_a_gone_post_is_gone(fake, ada, network) -> None:
    account = member_account(ada)
    kept = network.publish(account, Draft(text="Kept"), KEY)
    gone = network.publish(account, Draft(text="Gone"), "other-key")
    fake.add_counts(kept.external_id, likes=4)
    fake.with_comment_counts = False
    network.delete(account, gone.external_id)

    counts = network.fetch_engagement(account, [kept.external_id, gone.external_id])

    assert counts[kept.external_id] == Engagement(likes=4, raw={"urn": kept.external_id, "likes": 4})
    assert isinstance(counts[gone.external_id], PostGone)


def test_a_members_counts_need_linkedins_approval_and_say_so(fake, network) -> None:
    grace = fake.add_member("Grace Hopper", token="grace-token")
    account = member_account(grace, "grace-token")
    post = network.publish(account, Draft(text="Unread"), KEY)

    with pytest.raises(Rejected, match="r_member_social"):
        network.fetch_engagement(account, [post.external_id])


def test_a_post_and_its_comment_are_deleted_and_a_second_delete_finds_them_gone(fake, ada, network) -> None:
    account = member_account(ada)
    post = network.publish(account, Draft(text="Delete me", options={"first_comment": "me too"}), KEY)

    for part in reversed(post.parts):
        network.delete(account, part.external_id)

    assert fake.posts_of(ada.urn) == []
    assert fake.comments_on(post.external_id) == []
    for part in post.parts:
        with pytest.raises(PostGone):
            network.delete(account, part.external_id)


def test_an_edit_changes_the_commentary_and_reads_as_the_draft(fake, ada, network) -> None:
    account = member_account(ada)
    post = network.publish(account, Draft(text="Typo (v1)"), KEY)
    new = Draft(text="Fixed (v2) #news")

    assert not network.reads_as(account, post.external_id, new)
    edited = network.edit(account, post.external_id, new)

    assert edited.external_id == post.external_id
    assert fake.posts[post.external_id]["displayed"] == "Fixed (v2) #news"
    assert network.reads_as(account, post.external_id, new)
    assert fake.requests_to("POST", "/rest/posts/")[0].headers["X-Restli-Method"] == "PARTIAL_UPDATE"


def test_verify_names_the_member_or_the_page(fake, ada, network) -> None:
    page = fake.add_organization(ada, name="Acme Corp", vanity="acme")

    member = network.verify(member_account(ada))
    company = network.verify(page_account(page))

    assert (member.handle, member.display_name) == (ada.urn, "Ada Lovelace")
    assert (company.handle, company.display_name) == ("acme", "Acme Corp")
    assert company.url == "https://www.linkedin.com/company/acme/"


def test_settings_name_a_member_or_a_page(network) -> None:
    assert network.check_settings({}) == []
    assert network.check_settings({"author": "urn:li:organization:42"}) == []
    assert network.check_settings({"author": "urn:li:person:abc"})
    assert network.check_settings({"author": "member", "visibility": "x"})


# -- Connecting and renewing ------------------------------------------------------------------------------


def test_connecting_asks_for_a_pages_scopes_and_stores_the_token_its_expiry_and_the_member(fake, network):
    member = fake.add_member("Grace Hopper")
    start = network.begin_authorization(
        {"author": "urn:li:organization:5"},
        redirect_uri="https://crier.example/oauth/back",
        state="s1",
        code_challenge="ignored",
    )
    assert "w_organization_social" in start.url
    assert "code_challenge" not in start.url

    back = httpx.URL(fake.approve(start.url, member))
    credentials = network.complete_authorization(
        {"author": "urn:li:organization:5"},
        start.app_credentials,
        code=back.params["code"],
        redirect_uri="https://crier.example/oauth/back",
        code_verifier="ignored",
    )

    assert credentials["member_urn"] == member.urn
    expires = network.expires_at(credentials)
    assert expires is not None
    assert timedelta(days=59) < expires - datetime.now(UTC) <= timedelta(days=60)
    assert "refresh_token" not in credentials
    assert network.verify(member_account(member, credentials["access_token"])).handle == member.urn


def test_a_used_code_is_refused(fake, network) -> None:
    member = fake.add_member()
    start = network.begin_authorization({}, redirect_uri="https://c.example/b", state="s", code_challenge="c")
    code = httpx.URL(fake.approve(start.url, member)).params["code"]
    network.complete_authorization({}, {}, code=code, redirect_uri="https://c.example/b", code_verifier="v")

    with pytest.raises(Rejected, match=r"invalid_request|Unable to retrieve"):
        network.complete_authorization(
            {}, {}, code=code, redirect_uri="https://c.example/b", code_verifier="v"
        )


def test_without_an_app_connecting_says_which_setting_is_missing(fake) -> None:
    network = make_network(fake, client_id=None)

    with pytest.raises(Rejected, match="CRIER_LINKEDIN_CLIENT_ID"):
        network.begin_authorization({}, redirect_uri="https://c.example/b", state="s", code_challenge="c")


def test_a_refresh_token_renews_the_access_token(fake, network) -> None:
    fake.issues_refresh_tokens = True
    member = fake.add_member()
    start = network.begin_authorization({}, redirect_uri="https://c.example/b", state="s", code_challenge="c")
    code = httpx.URL(fake.approve(start.url, member)).params["code"]
    credentials = network.complete_authorization(
        {}, {}, code=code, redirect_uri="https://c.example/b", code_verifier="v"
    )

    renewed = network.refresh_credentials(member_account(member, **credentials))

    assert renewed["access_token"] != credentials["access_token"]
    assert renewed["refresh_token"] == credentials["refresh_token"]
    assert renewed["member_urn"] == member.urn
    fake.advance(timedelta(days=366))
    with pytest.raises(AuthExpired):
        network.refresh_credentials(member_account(member, **renewed))


def test_without_a_refresh_token_a_person_must_reconnect(ada, network) -> None:
    with pytest.raises(AuthExpired, match="connect the channel again"):
        network.refresh_credentials(member_account(ada, expires_at="2027-01-01T00:00:00+00:00"))


def test_the_fake_serves_one_ready_account_for_other_tests() -> None:
    fake, channel = serving_one_account()
    try:
        settings = allowing_here(
            Settings(
                linkedin_api_url=channel["environment"]["CRIER_LINKEDIN_API_URL"],
                linkedin_oauth_url=channel["environment"]["CRIER_LINKEDIN_OAUTH_URL"],
            )
        )
        network = LinkedInNetwork.from_settings(settings)
        account = Account("c", "ada", settings=channel["settings"], credentials=channel["credentials"])

        post = network.publish(account, Draft(text="End to end (ready)"), KEY)

        assert fake.posts[post.external_id]["displayed"] == "End to end (ready)"
    finally:
        fake.stop()
