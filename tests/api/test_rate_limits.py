"""Rate limits, attacked: a burst from one token or one address, sign-in guessing, token minting."""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter

from services.api.app import create_app
from services.api.rate_limits import SweptMemoryStorage, seconds_until_reset
from shared.bootstrap import Services
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from tests.api.conftest import ServeApi
from tests.factories import make_member_token

POLICY = re.compile(r'^"(?P<name>[a-z-]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
LEFT = re.compile(r'^"(?P<name>[a-z-]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')

LimitedApp = Callable[..., Flask]


@pytest.fixture
def limited_app(services: Services) -> LimitedApp:
    """The API with rate limits on, as the settings given say."""

    def make(**limits: Any) -> Flask:
        settings = services.settings.model_copy(update={"rate_limits_enabled": True, **limits})
        return create_app(services=Services(**{**services.__dict__, "settings": settings}))

    return make


@pytest.fixture
def flushed_redis(redis_url: str) -> Iterator[str]:
    """The test Redis, without the request counts of earlier tests."""
    client = redis.Redis.from_url(redis_url)

    def flush() -> None:
        for key in client.scan_iter(match="*crier-requests*"):
            client.delete(key)

    flush()
    yield redis_url
    flush()
    client.close()


def as_client(app: Flask, token: str | None = None, address: str = "192.0.2.10") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if token:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def burst(
    client: FlaskClient, count: int, path: str = "/v1/posts", method: str = "GET", **kwargs: Any
) -> list[Any]:
    return [client.open(path, method=method, **kwargs) for _ in range(count)]


def assert_limited(response: Any, name: str, quota: int, window: int) -> None:
    """A 429 problem document with Retry-After and the draft's RateLimit fields for the limit `name`."""
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 429
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= window
    policy = POLICY.match(response.headers["RateLimit-Policy"])
    left = LEFT.match(response.headers["RateLimit"])
    assert policy is not None, response.headers
    assert left is not None, response.headers
    assert (policy["name"], int(policy["q"]), int(policy["w"])) == (name, quota, window)
    assert (left["name"], int(left["r"])) == (name, 0)
    assert int(left["t"]) == wait
    assert f"Try again in {wait} s." in response.json["detail"]


def test_a_burst_of_200_requests_from_one_token_gets_429s_past_the_limit(
    limited_app: LimitedApp, workspace_and_token: tuple[Workspace, str]
) -> None:
    app = limited_app(rate_limit_per_token="50/minute")
    client = as_client(app, workspace_and_token[1])

    answers = burst(client, 200)
    statuses = [response.status_code for response in answers]

    assert Counter(statuses) == {200: 50, 429: 150}
    assert statuses[:50] == [200] * 50
    assert_limited(answers[-1], "token", 50, 60)
    assert "requests with this API token" in answers[-1].json["detail"]
    # The answers before carry what was left.
    assert LEFT.match(answers[0].headers["RateLimit"])["r"] == "49"  # type: ignore[index]
    assert LEFT.match(answers[48].headers["RateLimit"])["r"] == "1"  # type: ignore[index]


def test_wrong_tokens_are_limited_as_right_ones_are_before_any_lookup(limited_app: LimitedApp) -> None:
    app = limited_app(rate_limit_per_token="20/minute")
    guesser = as_client(app, "crier_guess")

    statuses = Counter(response.status_code for response in burst(guesser, 50))

    assert statuses == {401: 20, 429: 30}


def test_one_address_is_limited_whatever_tokens_it_sends_and_others_are_not(
    limited_app: LimitedApp, services: Services, workspace: Workspace
) -> None:
    app = limited_app(rate_limit_per_address="30/minute")
    tokens = [make_member_token(services, workspace, role) for role in (Role.OWNER, Role.EDITOR, Role.VIEWER)]

    answers = [as_client(app, tokens[n % 3]).get("/v1/posts") for n in range(40)]
    elsewhere = as_client(app, tokens[0], address="198.51.100.7").get("/v1/posts")

    assert Counter(answer.status_code for answer in answers) == {200: 30, 429: 10}
    assert_limited(answers[-1], "address", 30, 60)
    assert elsewhere.status_code == 200


def test_health_checks_and_metrics_are_never_limited(limited_app: LimitedApp) -> None:
    app = limited_app(rate_limit_per_address="5/minute")
    prober = as_client(app)

    statuses = {
        path: Counter(r.status_code for r in burst(prober, 20, path)) for path in ("/healthz", "/metrics")
    }

    assert statuses == {"/healthz": {200: 20}, "/metrics": {200: 20}}


def test_requests_without_a_token_are_counted_by_address_alone_and_log_no_error(
    limited_app: LimitedApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited_app(rate_limit_per_token="5/minute", rate_limit_per_address="30/minute")
    browser = as_client(app)

    with caplog.at_level(logging.WARNING):
        answers = burst(browser, 10, "/docs")

    assert Counter(answer.status_code for answer in answers) == {200: 10}
    assert LEFT.match(answers[-1].headers["RateLimit"])["name"] == "address"  # type: ignore[index]
    assert caplog.records == []


def test_guessing_tokens_at_the_dashboard_sign_in_is_slowed_to_its_own_limit(limited_app: LimitedApp) -> None:
    app = limited_app(rate_limit_sign_in="10/minute")
    guesser = as_client(app)

    attempts = burst(guesser, 15, "/dashboard/sign-in", "POST", data={"token": "crier_guess"})
    form = guesser.get("/dashboard/sign-in")

    assert [answer.status_code for answer in attempts[10:]] == [429] * 5
    assert 429 not in [answer.status_code for answer in attempts[:10]]
    assert_limited(attempts[-1], "sign-in", 10, 60)
    assert form.status_code == 200  # only the attempts are counted so strictly


def test_a_token_may_make_only_so_many_tokens(
    limited_app: LimitedApp, workspace_and_token: tuple[Workspace, str]
) -> None:
    app = limited_app(rate_limit_token_creation="3/hour")
    client = as_client(app, workspace_and_token[1])

    made = burst(client, 5, "/v1/tokens", "POST", json={"name": "bot"})
    listed = client.get("/v1/tokens")

    assert [answer.status_code for answer in made] == [201, 201, 201, 429, 429]
    assert_limited(made[-1], "token-creation", 3, 3600)
    assert listed.status_code == 200


def test_x_forwarded_for_is_read_only_behind_the_proxies_said(limited_app: LimitedApp) -> None:
    direct = as_client(limited_app(rate_limit_per_address="5/minute"))
    proxied = as_client(limited_app(rate_limit_per_address="5/minute", trusted_proxy_hops=1))

    # Without a trusted proxy, a forged X-Forwarded-For changes nothing.
    spoofed = [direct.get("/", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(10)]
    # Behind one, each client behind the proxy has its own count.
    behind = [proxied.get("/", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(10)]

    assert Counter(spoofed) == {200: 5, 429: 5}
    assert Counter(behind) == {200: 10}


def test_in_memory_each_process_counts_alone_and_in_redis_they_count_together(
    limited_app: LimitedApp, workspace_and_token: tuple[Workspace, str], flushed_redis: str
) -> None:
    token = workspace_and_token[1]
    alone = [limited_app(rate_limit_per_token="10/minute") for _ in range(2)]
    together = [limited_app(rate_limit_per_token="10/minute", redis_url=flushed_redis) for _ in range(2)]

    in_memory = Counter(r.status_code for app in alone for r in burst(as_client(app, token), 15))
    in_redis = Counter(r.status_code for app in together for r in burst(as_client(app, token), 15))

    assert in_memory == {200: 20, 429: 10}
    assert in_redis == {200: 10, 429: 20}


def test_a_limiter_whose_redis_is_gone_counts_in_memory_and_never_fails_a_request(
    limited_app: LimitedApp, workspace_and_token: tuple[Workspace, str]
) -> None:
    app = limited_app(rate_limit_per_token="10/minute", redis_url="redis://127.0.0.1:1/0")
    client = as_client(app, workspace_and_token[1])

    statuses = Counter(response.status_code for response in burst(client, 15))

    assert statuses == {200: 10, 429: 5}


def test_under_gunicorn_two_workers_share_their_counts_in_redis(
    serve_api: ServeApi, services: Services, workspace: Workspace, flushed_redis: str
) -> None:
    served = serve_api(workers=2, redis_url=flushed_redis, rate_limit_per_token="50/minute")
    token = make_member_token(services, workspace, Role.VIEWER, Scope.READ)
    statuses: Counter[int] = Counter()
    began = time.monotonic()
    for _ in range(200):  # a new connection each time, so the kernel spreads them over both workers
        statuses[
            httpx.get(f"{served.base_url}/v1/posts", headers={"Authorization": f"Bearer {token}"}).status_code
        ] += 1

    assert statuses == {200: 50, 429: 150}, served.log()[-2000:]
    assert time.monotonic() - began < 60


@pytest.mark.parametrize(("after", "said"), [(60.4, 60), (59.2, 60), (0.2, 1), (-3.0, 1)])
def test_the_wait_said_is_whole_seconds_within_the_window(after: float, said: int) -> None:
    window = SimpleNamespace(get_expiry=lambda: 60)
    breached = SimpleNamespace(limit=window, reset_at=time.time() + after)

    assert seconds_until_reset(breached) == said  # type: ignore[arg-type]


def test_counting_in_memory_starts_no_thread_per_request_and_gives_expired_counts_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """limits' own memory storage starts a threading.Timer whenever its last one has run out (10 ms): under
    load, a thread start every few requests, each waiting for the interpreter. Crier's counts with one
    sweeper thread per storage, exactly as before, and the sweep frees what expired."""
    storage = SweptMemoryStorage()
    starts: list[str] = []
    original_start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        starts.append(thread.name)
        original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted_start)
    limit = parse("3/second")
    window = SlidingWindowCounterRateLimiter(storage)

    # Within one second of the clock: across its edge, the sliding window would weigh the last one's count.
    time.sleep(1 - time.time() % 1)
    answers = []
    for _ in range(5):
        answers.append(window.hit(limit, "token", "a"))
        time.sleep(0.02)  # past limits' own Timer of 10 ms each time: it would have started a thread
    assert answers == [True, True, True, False, False]
    assert starts == []
    assert storage.storage, "the counts are held"

    time.sleep(2 * 1 + SweptMemoryStorage.SWEEP_EVERY_SECONDS + 0.5)  # two windows expired, one sweep
    assert not storage.storage, "expired counts are swept"
    assert not storage.expirations
    assert window.hit(limit, "token", "a"), "a new window counts afresh"


def test_the_sweeper_ends_with_its_storage() -> None:
    storage = SweptMemoryStorage()
    sweeper = next(thread for thread in threading.enumerate() if thread.name == "rate-limit-sweeper")
    del storage
    gc.collect()
    sweeper.join(timeout=SweptMemoryStorage.SWEEP_EVERY_SECONDS * 3)
    assert not sweeper.is_alive()
