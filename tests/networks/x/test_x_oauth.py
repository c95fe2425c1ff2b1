"""Connecting an X account (OAuth 2 with PKCE, the operator's app); renewing its one-use refresh token."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.networks.ports import (
    Account,
    AuthExpired,
    AuthorizesWithOAuth,
    Draft,
    OutcomeUnknown,
    RefreshesCredentials,
    Rejected,
)
from shared.networks.x.adapter import XNetwork
from tests.networks.x.conftest import make_network
from tests.networks.x.fake import FakeUser, FakeX

REDIRECT = "https://crier.example/v1/oauth/callback"
VERIFIER = "a-verifier-of-at-least-forty-three-characters-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def authorize(server: FakeX, network: XNetwork, user: FakeUser) -> str:
    """The code X gives back once `user` approves Crier."""
    start = network.begin_authorization({}, redirect_uri=REDIRECT, state="s-1", code_challenge=CHALLENGE)
    back = urllib.parse.urlsplit(server.approve(start.url, user))
    query = dict(urllib.parse.parse_qsl(back.query))
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    assert query["state"] == "s-1"
    return query["code"]


def test_the_adapter_connects_with_oauth_and_renews_its_tokens(network: XNetwork) -> None:
    assert isinstance(network, AuthorizesWithOAuth)
    assert isinstance(network, RefreshesCredentials)


def test_the_authorize_page_asks_for_posting_reading_liking_hiding_and_staying_connected(
    server: FakeX, network: XNetwork
) -> None:
    start = network.begin_authorization({}, redirect_uri=REDIRECT, state="s-1", code_challenge=CHALLENGE)

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.url).query))
    assert start.url.startswith(f"{server.base_url}/i/oauth2/authorize?")
    assert query == {
        "response_type": "code",
        "client_id": server.client_id,
        "redirect_uri": REDIRECT,
        "scope": "tweet.read tweet.write users.read offline.access media.write like.write "
        "tweet.moderate.write",
        "state": "s-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }


def test_a_code_becomes_credentials_that_post_and_expire_in_two_hours(
    server: FakeX, alice: FakeUser, network: XNetwork
) -> None:
    code = authorize(server, network, alice)
    before = datetime.now(UTC)

    credentials = network.complete_authorization(
        {}, {}, code=code, redirect_uri=REDIRECT, code_verifier=VERIFIER
    )

    assert (
        set(credentials)
        == set(network.info.credential_keys)
        == {"access_token", "refresh_token", "expires_at"}
    )
    expires = network.expires_at(credentials)
    assert expires is not None
    assert before + timedelta(seconds=7200) <= expires <= datetime.now(UTC) + timedelta(seconds=7200)
    account = Account("c", "alice", credentials=credentials)
    assert network.verify(account).handle == "alice"
    network.publish(account, Draft(text="connected"), "k")
    assert [t.sent_text for t in server.posts_of(alice)] == ["connected"]


def test_a_wrong_verifier_or_a_used_code_is_refused(
    server: FakeX, alice: FakeUser, network: XNetwork
) -> None:
    code = authorize(server, network, alice)
    with pytest.raises(Rejected, match="refused the authorization code: Value passed for the authorization"):
        network.complete_authorization({}, {}, code=code, redirect_uri=REDIRECT, code_verifier="x" * 43)
    # A code is good for one exchange (RFC 6749, 4.1.2): the fake spends it on its first, right or wrong.
    with pytest.raises(Rejected):
        network.complete_authorization({}, {}, code=code, redirect_uri=REDIRECT, code_verifier=VERIFIER)


def test_without_an_app_configured_the_operator_is_told_which_setting_to_set(server: FakeX) -> None:
    network = make_network(server, client_id=None)
    with pytest.raises(Rejected, match="CRIER_X_CLIENT_ID"):
        network.begin_authorization({}, redirect_uri=REDIRECT, state="s", code_challenge=CHALLENGE)


def test_a_wrong_client_secret_is_the_operators_to_fix(server: FakeX, alice: FakeUser) -> None:
    network = make_network(server, client_secret="not-the-secret")
    code = authorize(server, network, alice)
    with pytest.raises(Rejected, match="CRIER_X_CLIENT_SECRET") as refused:
        network.complete_authorization({}, {}, code=code, redirect_uri=REDIRECT, code_verifier=VERIFIER)
    assert "not-the-secret" not in str(refused.value)


def test_a_public_client_sends_its_id_instead_of_a_secret() -> None:
    with FakeX(client_secret=None) as server:
        user = server.add_account("bob")
        network = make_network(server, client_secret=None)
        code = authorize(server, network, user)
        credentials = network.complete_authorization(
            {}, {}, code=code, redirect_uri=REDIRECT, code_verifier=VERIFIER
        )
        assert network.verify(Account("c", "bob", credentials=credentials)).handle == "bob"


def test_a_refresh_returns_a_new_pair_and_the_old_refresh_token_stops_working(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    exchanges = server.token_exchanges

    renewed = network.refresh_credentials(account)

    assert renewed["refresh_token"] != "alice-refresh"
    assert renewed["access_token"] != "alice-access"
    expires = network.expires_at(renewed)
    assert expires is not None
    assert expires > datetime.now(UTC) + timedelta(seconds=7100)
    assert (server.token_exchanges, server.refreshes) == (exchanges + 1, 1)
    assert network.verify(replace(account, credentials=renewed)).handle == "alice"
    # The refresh token it replaced is refused: a second process renewing with it is locked out.
    with pytest.raises(AuthExpired, match="Value passed for the token was invalid"):
        network.refresh_credentials(account)
    # The new one works, once.
    again = network.refresh_credentials(replace(account, credentials=renewed))
    assert again["refresh_token"] not in (renewed["refresh_token"], "alice-refresh")
    assert server.refreshes == 2


def test_the_fake_refuses_a_reused_refresh_token_as_x_does(server: FakeX, alice: FakeUser) -> None:
    basic = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    form = {"grant_type": "refresh_token", "refresh_token": "alice-refresh"}
    headers = {"Authorization": f"Basic {basic}"}
    first = httpx.post(f"{server.base_url}/2/oauth2/token", data=form, headers=headers)
    second = httpx.post(f"{server.base_url}/2/oauth2/token", data=form, headers=headers)

    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (400, "invalid_request")
    assert server.refreshes == 1


def test_a_channel_without_a_refresh_token_must_be_connected_again(network: XNetwork) -> None:
    with pytest.raises(AuthExpired, match="no refresh token"):
        network.refresh_credentials(Account("c", "alice", credentials={"access_token": "t"}))


def test_credentials_say_when_they_expire_as_an_iso_8601_time(network: XNetwork) -> None:
    assert network.expires_at({"access_token": "t"}) is None
    assert network.expires_at({"expires_at": "2026-12-06T13:05:00+00:00"}) == datetime(
        2026, 12, 6, 13, 5, tzinfo=UTC
    )
    assert network.check_credentials({"access_token": "t", "refresh_token": "r", "expires_at": "soon"}) == [
        "expires_at must be an ISO 8601 time, when the access token stops working"
    ]
    assert (
        network.check_credentials(
            {"access_token": "t", "refresh_token": "r", "expires_at": "2026-12-06T13:05:00+00:00"}
        )
        == []
    )


def test_a_refresh_whose_answer_was_lost_is_uncertain_since_x_may_have_spent_the_token(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.lose_next_token_answers = 1

    with pytest.raises(OutcomeUnknown, match="X token endpoint"):
        network.refresh_credentials(account)

    # X issued a pair Crier never saw, and the refresh token it spent is refused from then on.
    assert server.refreshes == 1
    with pytest.raises(AuthExpired):
        network.refresh_credentials(account)
