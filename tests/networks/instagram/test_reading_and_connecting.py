"""The Instagram adapter reading back: counts in Crier's names, deletion, the account and its audience; and
connecting an account through Facebook Login."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.networks.instagram.adapter import InstagramNetwork
from shared.networks.ports import Account, AuthExpired, Engagement, PostGone, Rejected
from tests.networks.instagram.fake import FakeInstagram, IgAccount
from tests.networks.instagram.media_host import MediaHost
from tests.networks.instagram.support import account_of, key, make_network, photo

# -- Counts, deletion, the account -----------------------------------------------------------------


def test_counts_are_read_in_crier_names_and_a_retired_metric_blanks_only_itself(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    post = make_network(fake).publish(account_of(alice), photo(host), key())
    media = fake.media[post.external_id]
    media.update(like_count=12, comments_count=3)
    media["insights"].update(views=340, saved=5, shares=2, reach=300, likes=12, comments=3)
    fake.retired_metrics = {"views"}
    network = make_network(fake)

    [counts] = network.fetch_engagement(account_of(alice), [post.external_id]).values()

    assert isinstance(counts, Engagement)
    assert (counts.likes, counts.replies, counts.bookmarks, counts.views) == (12, 3, 5, None)
    assert (counts.reposts, counts.quotes) == (None, None)
    assert counts.raw["shares"] == 2


def test_hidden_likes_are_read_from_the_insights(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    post = make_network(fake).publish(account_of(alice), photo(host), key())
    fake.media[post.external_id]["insights"]["likes"] = 9
    fake.hidden_counts = True

    [counts] = make_network(fake).fetch_engagement(account_of(alice), [post.external_id]).values()

    assert isinstance(counts, Engagement)
    assert (counts.likes, counts.views) == (9, 0)


def test_a_deleted_post_is_gone_for_counts_and_for_a_second_delete(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network = make_network(fake)
    post = network.publish(account_of(alice), photo(host), key())

    network.delete(account_of(alice), post.external_id)

    assert fake.media_of(alice) == []
    with pytest.raises(PostGone):
        network.delete(account_of(alice), post.external_id)
    [counts] = network.fetch_engagement(account_of(alice), [post.external_id]).values()
    assert isinstance(counts, PostGone)


def test_verify_names_the_account_and_its_audience_is_counted(fake: FakeInstagram, alice: IgAccount) -> None:
    network = make_network(fake)

    profile = network.verify(account_of(alice))
    audience = network.fetch_audience(account_of(alice))

    assert (profile.handle, profile.url) == ("alice.makes", "https://www.instagram.com/alice.makes/")
    assert (audience.followers, audience.following, audience.posts) == (120, 40, 0)
    fake.token_expired = True
    with pytest.raises(AuthExpired):
        network.verify(account_of(alice))


# -- Connecting through Facebook Login -------------------------------------------------------------

REDIRECT = "https://crier.example/oauth/callback"


def connect(
    fake: FakeInstagram, network: InstagramNetwork, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    start = network.begin_authorization(settings or {}, redirect_uri=REDIRECT, state="s1", code_challenge="c")
    back = httpx.URL(fake.approve(start.url))
    return network.complete_authorization(
        settings or {},
        start.app_credentials,
        code=back.params["code"],
        redirect_uri=REDIRECT,
        code_verifier="v",
    )


def test_connecting_gives_the_page_token_and_the_instagram_account(
    fake: FakeInstagram, alice: IgAccount
) -> None:
    network = make_network(fake)
    start = network.begin_authorization({}, redirect_uri=REDIRECT, state="s1", code_challenge="c")
    assert start.url.startswith(f"{fake.base_url}/v24.0/dialog/oauth?")
    query = httpx.URL(start.url).params
    assert (query["client_id"], query["state"], query["redirect_uri"]) == (fake.client_id, "s1", REDIRECT)
    assert "instagram_content_publish" in query["scope"]

    credentials = connect(fake, network)

    assert credentials == {"access_token": alice.token, "ig_user_id": alice.ig_user_id}
    assert network.verify(Account("c", "", credentials=credentials)).handle == "alice.makes"


def test_several_linked_pages_need_the_page_id_setting(fake: FakeInstagram, alice: IgAccount) -> None:
    other = fake.add_account("alice.shop")
    network = make_network(fake)

    with pytest.raises(Rejected, match="page_id"):
        connect(fake, network)
    assert connect(fake, network, {"page_id": other.page_id})["ig_user_id"] == other.ig_user_id


def test_without_the_operators_app_connecting_says_which_settings_to_set(fake: FakeInstagram) -> None:
    network = make_network(fake, client_id=None, client_secret=None)

    with pytest.raises(Rejected, match="CRIER_INSTAGRAM_CLIENT_ID"):
        network.begin_authorization({}, redirect_uri=REDIRECT, state="s", code_challenge="c")


def test_a_code_used_twice_is_refused(fake: FakeInstagram, alice: IgAccount) -> None:
    network = make_network(fake)
    start = network.begin_authorization({}, redirect_uri=REDIRECT, state="s", code_challenge="c")
    code = httpx.URL(fake.approve(start.url)).params["code"]
    network.complete_authorization({}, {}, code=code, redirect_uri=REDIRECT, code_verifier="v")

    with pytest.raises(Rejected, match="36009"):
        network.complete_authorization({}, {}, code=code, redirect_uri=REDIRECT, code_verifier="v")


def test_the_shape_of_credentials_and_settings_is_checked_without_a_call(fake: FakeInstagram) -> None:
    network = make_network(fake)

    assert network.check_credentials({"access_token": "EAAB", "ig_user_id": "178414"}) == []
    assert len(network.check_credentials({"access_token": "has space", "ig_user_id": "alice"})) == 2
    assert network.check_settings({"page_id": "123"}) == []
    assert network.check_settings({"page_id": "abc", "colour": 1}) == [
        "unknown option 'colour'",
        "page_id must be the numeric id of a Facebook page",
    ]
