"""The misbehaving proxy itself: it passes everything on untouched, and mishandles just what it is told to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request

from tests.networks.fake_servers import FakeServer, serving
from tests.networks.misbehaving_proxy import (
    Answer,
    Forwarded,
    MisbehavingProxy,
    Mode,
    Rule,
    cloudflare_page,
    nginx_page,
)


class Echo(FakeServer):
    """An upstream that keeps each request and answers with what it got."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        app = Flask("echo")
        app.add_url_rule("/<path:path>", view_func=self.echo, methods=["GET", "POST", "DELETE"])
        super().__init__(app)

    def echo(self, path: str) -> Response:
        got = {
            "method": request.method,
            "path": request.full_path.rstrip("?"),
            "body": request.get_data(as_text=True),
            "header": request.headers.get("X-Test", ""),
        }
        self.got.append(got)
        headers = {"X-Upstream": "yes"}
        return Response(json.dumps(got), status=201, mimetype="application/json", headers=headers)


@pytest.fixture
def echo() -> Iterator[Echo]:
    with serving(Echo()) as upstream:
        yield upstream


@pytest.fixture
def proxy(echo: Echo) -> Iterator[MisbehavingProxy]:
    with MisbehavingProxy(echo.base_url) as started:
        yield started


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def test_everything_is_passed_on_untouched_both_ways(
    echo: Echo, proxy: MisbehavingProxy, http: httpx.Client
) -> None:
    answer = http.post(
        f"{proxy.base_url}/api/v1/statuses?x=1&y=%C3%A9", content="Café", headers={"X-Test": "kept"}
    )

    sent = {"method": "POST", "path": "/api/v1/statuses?x=1&y=%C3%A9", "body": "Café", "header": "kept"}
    assert echo.got == [sent]
    assert (answer.status_code, answer.json(), answer.headers["X-Upstream"]) == (201, sent, "yes")
    assert proxy.forwarded == [Forwarded("POST", "/api/v1/statuses")]


def test_an_answer_of_its_own_goes_only_to_the_method_and_path_named_and_only_as_often_as_told(
    echo: Echo, proxy: MisbehavingProxy, http: httpx.Client
) -> None:
    rule = proxy.add(Rule("POST", "/api/v1/statuses", Mode.ANSWER, nginx_page(503), times=2))

    statuses = [http.post(f"{proxy.base_url}/api/v1/statuses").status_code for _ in range(3)]
    other_method = http.get(f"{proxy.base_url}/api/v1/statuses").status_code
    other_path = http.post(f"{proxy.base_url}/api/v1/media").status_code

    assert statuses == [503, 503, 201]
    assert (other_method, other_path, rule.hits) == (201, 201, 2)
    assert [got["path"] for got in echo.got] == ["/api/v1/statuses", "/api/v1/statuses", "/api/v1/media"]


def test_an_answer_after_forwarding_replaces_the_servers_and_the_server_got_the_request(
    echo: Echo, proxy: MisbehavingProxy, http: httpx.Client
) -> None:
    proxy.add(Rule("POST", "/hooks", Mode.ANSWER_AFTER_FORWARDING, cloudflare_page(524)))

    answer = http.post(f"{proxy.base_url}/hooks/crier", content="the post")

    assert [got["body"] for got in echo.got] == ["the post"]
    assert answer.status_code == 524
    assert "524: A timeout occurred" in answer.text
    assert answer.headers["CF-RAY"]


def test_a_close_after_forwarding_leaves_the_client_without_an_answer_and_the_proxy_serving(
    echo: Echo, proxy: MisbehavingProxy, http: httpx.Client
) -> None:
    proxy.add(Rule("POST", "/hooks", Mode.CLOSE_AFTER_FORWARDING))

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        http.post(f"{proxy.base_url}/hooks/crier", content="the post")
    again = http.post(f"{proxy.base_url}/hooks/crier", content="again")

    assert [got["body"] for got in echo.got] == ["the post", "again"]
    assert again.status_code == 201


def test_reset_forwards_everything_again(echo: Echo, proxy: MisbehavingProxy, http: httpx.Client) -> None:
    proxy.add(Rule("POST", "/", Mode.ANSWER, Answer(500, "down"), times=None))
    assert http.post(f"{proxy.base_url}/a").status_code == 500

    proxy.reset()

    assert http.post(f"{proxy.base_url}/a").status_code == 201
    assert proxy.forwarded == [Forwarded("POST", "/a")]


def test_a_rule_that_closes_takes_no_answer_and_one_that_answers_needs_one() -> None:
    with pytest.raises(ValueError, match="an answer is needed"):
        Rule("POST", "/", Mode.CLOSE_AFTER_FORWARDING, nginx_page(502))
    with pytest.raises(ValueError, match="an answer is needed"):
        Rule("POST", "/", Mode.ANSWER)
