"""Scheduling checks a text as the channel's own server counts it: a Mastodon server's limit, via the API.

The server is tests/networks/mastodon/fake.py, serving over real HTTP on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.config import Settings
from shared.posts.models import Post
from tests.networks.mastodon.fake import FakeMastodon, serve
from tests.networks.misbehaving_proxy import Answer, MisbehavingProxy, Mode, Rule, nginx_page
from tests.networks.on_this_machine import allowing_here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake servers listen on 127.0.0.1, which the operator allows here.
    return allowing_here(settings)


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def mastodon_channel_id(workspace_client: FlaskClient, server: FakeMastodon) -> str:
    server.add_account("alice", token="alice-token")
    server.max_characters = 100
    response = workspace_client.post(
        "/v1/channels",
        json={
            "network": "mastodon",
            "name": "Alice on a small server",
            "handle": "alice",
            "settings": {"base_url": server.base_url},
            "credentials": {"access_token": "alice-token"},
        },
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def test_a_text_over_the_servers_own_limit_is_refused_when_scheduled_and_nothing_is_stored(
    workspace_client: FlaskClient, services: Services, mastodon_channel_id: str
) -> None:
    response = workspace_client.post(
        "/v1/posts", json={"text": "x" * 101, "channel_ids": [mastodon_channel_id]}
    )

    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["pointer"] == "/text"
    assert error["detail"].startswith("Alice on a small server (mastodon): ")
    assert "100" in error["detail"]
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0


def test_a_text_within_the_servers_limit_is_scheduled(
    workspace_client: FlaskClient, mastodon_channel_id: str
) -> None:
    response = workspace_client.post(
        "/v1/posts", json={"text": "x" * 100, "channel_ids": [mastodon_channel_id]}
    )

    assert response.status_code == 201


def test_refused_credentials_connect_nothing(workspace_client: FlaskClient, server: FakeMastodon) -> None:
    response = workspace_client.post(
        "/v1/channels",
        json={
            "network": "mastodon",
            "name": "Wrong token",
            "handle": "alice",
            "settings": {"base_url": server.base_url},
            "credentials": {"access_token": "not-a-token"},
        },
    )

    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["pointer"] == "/credentials"
    assert error["detail"].startswith("Mastodon refused these credentials:")
    assert "not-a-token" not in error["detail"]


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        (
            Answer(503, "upstream connect error or disconnect/reset before headers", "text/plain"),
            503,
            "upstream connect error",
        ),
        (nginx_page(502), 503, "502 Bad Gateway nginx"),
        (
            Answer(403, '{"error": "Your login is currently disabled"}', "application/json"),
            422,
            "Your login is currently disabled",
        ),
    ],
    ids=["envoy-plain-text", "nginx-html", "mastodon-json"],
)
def test_a_connect_error_keeps_the_servers_own_words_whatever_their_shape(
    workspace_client: FlaskClient, server: FakeMastodon, answer: Answer, status: int, words: str
) -> None:
    server.add_account("alice", token="alice-token")
    with MisbehavingProxy(server.base_url) as proxy:
        proxy.add(Rule("GET", "/api/v1/accounts/verify_credentials", Mode.ANSWER, answer))
        response = workspace_client.post(
            "/v1/channels",
            json={
                "network": "mastodon",
                "name": "Behind a proxy",
                "handle": "alice",
                "settings": {"base_url": proxy.base_url},
                "credentials": {"access_token": "alice-token"},
            },
        )

    assert response.status_code == status
    said = response.json["errors"][0]["detail"] if status == 422 else response.json["detail"]
    assert words in said
    assert "<" not in said
    assert "alice-token" not in said
