"""The Mastodon adapter's side of connecting by authorization, against the fake server over real HTTP."""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.networks.mastodon.adapter import MastodonNetwork
from shared.networks.ports import Account, AuthorizationStart, AuthorizesWithOAuth, Rejected, Transient
from shared.networks.registry import NetworkRegistry
from shared.oauth.services import code_challenge, new_code_verifier
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon, serve
from tests.networks.on_this_machine import outbound_here

REDIRECT_URI = "https://crier.example.org/oauth/callback"
STATE = "the-state-crier-made-for-this-authorization"


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def alice(server: FakeMastodon) -> FakeAccount:
    return server.add_account("alice")


@pytest.fixture
def network() -> MastodonNetwork:
    here = outbound_here()
    return MastodonNetwork(here, http=here.client(httpx.Timeout(2.0)))


@pytest.fixture
def verifier() -> str:
    return new_code_verifier()


def settings_for(server: FakeMastodon) -> dict[str, Any]:
    return {"base_url": server.base_url}


def begin(network: MastodonNetwork, server: FakeMastodon, verifier: str) -> AuthorizationStart:
    return network.begin_authorization(
        settings_for(server), redirect_uri=REDIRECT_URI, state=STATE, code_challenge=code_challenge(verifier)
    )


def complete(
    network: MastodonNetwork, server: FakeMastodon, start: AuthorizationStart, code: str, verifier: str
) -> dict[str, Any]:
    return network.complete_authorization(
        settings_for(server),
        start.app_credentials,
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_mastodon_offers_authorization_and_the_networks_that_take_credentials_do_not(tmp_path: Path) -> None:
    networks = NetworkRegistry(Settings(data_dir=tmp_path)).all()

    offering = {network.info.name for network in networks if isinstance(network, AuthorizesWithOAuth)}

    # Networks connected by OAuth come and go (Instagram's Facebook Login, …); those that take pasted
    # secrets never offer it.
    assert "mastodon" in offering
    assert offering.isdisjoint({"bluesky", "discord", "slack", "webhook", "sandbox"})


def test_the_authorization_page_carries_the_state_and_the_s256_challenge(
    server: FakeMastodon, network: MastodonNetwork, verifier: str
) -> None:
    start = begin(network, server, verifier)

    [app] = server.apps.values()
    assert start.url.startswith(f"{server.base_url}/oauth/authorize?")
    assert query_of(start.url) == {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "read write",
        "state": STATE,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    assert app["redirect_uris"] == [REDIRECT_URI]
    assert start.app_credentials["client_secret"] == app["client_secret"]
    assert app["client_secret"] not in repr(start)


def test_the_approved_code_and_its_verifier_give_a_token_that_posts_as_the_person(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, verifier: str
) -> None:
    start = begin(network, server, verifier)
    back = query_of(server.approve(start.url, alice))

    credentials = complete(network, server, start, back["code"], verifier)

    assert back["state"] == STATE
    assert set(credentials) == {"access_token"}
    account = Account(channel_id="", handle="", settings=settings_for(server), credentials=credentials)
    assert network.verify(account).handle == "alice"


def test_an_intercepted_code_is_useless_without_its_verifier(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, verifier: str
) -> None:
    start = begin(network, server, verifier)
    code = query_of(server.approve(start.url, alice))["code"]

    with pytest.raises(Rejected, match="authorization grant is invalid"):
        complete(network, server, start, code, new_code_verifier())

    # As Doorkeeper does, the refusal leaves the code to whoever holds the verifier.
    assert complete(network, server, start, code, verifier)["access_token"]


def test_a_code_is_exchanged_once(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, verifier: str
) -> None:
    start = begin(network, server, verifier)
    code = query_of(server.approve(start.url, alice))["code"]
    complete(network, server, start, code, verifier)

    with pytest.raises(Rejected, match="authorization grant is invalid"):
        complete(network, server, start, code, verifier)


def test_crier_registers_once_per_server_and_again_after_the_server_forgot_it(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, verifier: str
) -> None:
    first = begin(network, server, verifier)
    second = begin(network, server, verifier)
    assert first.app_credentials == second.app_credentials
    assert len(server.requests_to("POST", "/api/v1/apps")) == 1
    code = query_of(server.approve(second.url, alice))["code"]

    server.remove_app(str(second.app_credentials["client_id"]))
    with pytest.raises(Rejected, match="401"):
        complete(network, server, second, code, verifier)

    third = begin(network, server, verifier)
    assert third.app_credentials["client_id"] != second.app_credentials["client_id"]
    assert len(server.requests_to("POST", "/api/v1/apps")) == 2


def test_a_server_older_than_4_3_is_authorized_without_pkce(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork, verifier: str
) -> None:
    server.pkce_supported = False
    start = begin(network, server, verifier)
    code = query_of(server.approve(start.url, alice))["code"]

    credentials = complete(network, server, start, code, verifier)

    assert "code_challenge" not in query_of(start.url)
    assert "code_verifier" not in server.requests_to("POST", "/oauth/token")[-1].form
    assert credentials["access_token"]


def test_a_server_that_cannot_be_reached_is_transient(network: MastodonNetwork, verifier: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = {"base_url": f"http://127.0.0.1:{port}"}

    with pytest.raises(Transient):
        network.begin_authorization(
            settings, redirect_uri=REDIRECT_URI, state=STATE, code_challenge=code_challenge(verifier)
        )


def test_a_challenge_is_the_unpadded_base64url_sha256_of_the_verifier() -> None:
    # The example of RFC 7636, appendix B.
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    assert 43 <= len(new_code_verifier()) <= 128
