"""How many requests a client may make: per API token, per client address, and fewer sign-ins and tokens.

Flask-Limiter counts, in Redis when CRIER_REDIS_URL is set (shared by every API process of the
installation) and in the process's memory otherwise (each gunicorn worker then counts on its own, so the
installation as a whole lets through up to a limit per worker). A request over a limit is a 429 problem
document with `Retry-After` and the RateLimit header fields of the IETF httpapi draft
(draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "token";q=600;w=60` and
`RateLimit: "token";r=0;t=17`); every other answer that counts against a limit carries them too, for the
limit nearest to running out. When Redis cannot be reached, the limits
are counted in memory until it is back: a broken limiter never takes the API down.

A token is counted by a digest of the Authorization header, before the token is looked up, so a flood of
wrong tokens is limited as a flood of right ones. An address is the connection's, or the one
CRIER_TRUSTED_PROXY_HOPS proxies back in X-Forwarded-For.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import weakref

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded, RequestLimit
from limits.storage import MemoryStorage
from werkzeug.middleware.proxy_fix import ProxyFix

from services.api.problems import problem
from shared.config import Settings

log = logging.getLogger(__name__)

# Asked by load balancers and Prometheus every few seconds, from one address: never limited.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SIGN_IN_ENDPOINT = "dashboard.sign_in_with_token"
TOKENS_ENDPOINT = "tokens.Tokens"
# What each limit is called in the RateLimit fields and in the 429's words.
WHAT_IS_COUNTED = {
    "token": "requests with this API token",
    "address": "requests from your address",
    "sign-in": "sign-in attempts from your address",
    "token-creation": "tokens made with this API token",
}


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage with its expired counts swept once a second by one thread, instead of by a
    threading.Timer started anew whenever the last one (10 ms) has run out: under load that was a thread
    start every few requests, each making its request wait for the new thread to get the interpreter
    (2.3 ms per POST /v1/posts on average in issue 16's profile). The counts are as exact either way:
    MemoryStorage.get drops an expired count as it reads it; the sweep only gives the memory back."""

    STORAGE_SCHEME = ["crier-memory"]
    SWEEP_EVERY_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        # The sweeper holds the storage weakly: an app dropped (every test makes some) takes its thread.
        threading.Thread(
            target=_sweep, args=(weakref.ref(self),), name="rate-limit-sweeper", daemon=True
        ).start()

    def _MemoryStorage__schedule_expiry(self) -> None:  # MemoryStorage's private hook, called per count
        pass

    def sweep(self) -> None:
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _sweep(storage: weakref.ref[SweptMemoryStorage]) -> None:
    while True:
        time.sleep(SweptMemoryStorage.SWEEP_EVERY_SECONDS)
        alive = storage()
        if alive is None:
            return
        alive.sweep()
        del alive


def install_rate_limits(app: Flask, settings: Settings) -> Limiter | None:
    """Count the app's requests against the settings' limits; None when they are turned off."""
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]
    if not settings.rate_limits_enabled:
        return None
    limiter = Limiter(
        client_address,
        app=app,
        application_limits=[
            ApplicationLimit(
                settings.rate_limit_per_address,
                key_function=client_address,
                scope="address",
                exempt_when=lambda: request.path in UNLIMITED_PATHS,
            ),
            ApplicationLimit(
                settings.rate_limit_per_token, key_function=token_digest, scope="token", exempt_when=no_token
            ),
            ApplicationLimit(
                settings.rate_limit_sign_in,
                key_function=client_address,
                scope="sign-in",
                exempt_when=lambda: not _is(SIGN_IN_ENDPOINT, "POST"),
            ),
            ApplicationLimit(
                settings.rate_limit_token_creation,
                key_function=token_digest,
                scope="token-creation",
                exempt_when=lambda: no_token() or not _is(TOKENS_ENDPOINT, "POST"),
            ),
        ],
        storage_uri=settings.redis_url or f"{SweptMemoryStorage.STORAGE_SCHEME[0]}://",
        # Counts a window as the weighted sum of this one and the last: no burst of twice the limit across
        # the edge of a fixed window, for two counters per key.
        strategy="sliding-window-counter",
        key_prefix="crier-requests",
        # Its own X-RateLimit-* headers (a reset as a timestamp, a Retry-After on every answer) are replaced
        # by the draft's fields below.
        headers_enabled=False,
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(_error: RateLimitExceeded) -> Response:
        breached = limiter.current_limit
        if breached is None:  # not a limit of these (a network's 429 is not answered this way)
            return problem(429, "Too many requests: try again later.", headers={"Retry-After": "60"})
        wait = seconds_until_reset(breached)
        scope = scope_of(breached)
        return problem(
            429,
            f"Too many {WHAT_IS_COUNTED.get(scope, 'requests')}: at most {breached.limit}. "
            f"Try again in {wait} s.",
            headers={"Retry-After": str(wait), **ratelimit_fields(breached)},
        )

    @app.after_request
    def say_what_is_left(response: Response) -> Response:
        if limiter.current_limits and "RateLimit" not in response.headers:
            try:
                nearest = min(limiter.current_limits, key=lambda limit: limit.remaining / limit.limit.amount)
                response.headers.update(ratelimit_fields(nearest))
            except Exception as error:  # the counts' storage failing must not fail the answer
                log.warning("rate limit counts unreadable, answered without RateLimit fields: %r", error)
        return response

    return limiter


def client_address() -> str:
    """The client's address: the connection's, or X-Forwarded-For's as ProxyFix read it."""
    return request.remote_addr or "unknown"


def no_token() -> bool:
    """Whether the request came without a bearer token: the per-token limits are not asked (an empty key
    would also skip them, but Flask-Limiter logs an error for each)."""
    credentials = request.authorization
    return credentials is None or credentials.type != "bearer" or not credentials.token


def token_digest() -> str:
    """A digest of the bearer token sent (the limits that use it are exempt when there is none)."""
    credentials = request.authorization
    token = credentials.token if credentials else None
    assert token, "asked only when no_token() is False"
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def scope_of(limit: RequestLimit) -> str:
    """The name this module gave the limit (`token`, `address`, …): the last part of its key."""
    return str(limit.request_args[-1])


def seconds_until_reset(limit: RequestLimit) -> int:
    """Whole seconds until the limit lets a request through again: at least 1, at most its window (the
    sliding window's reset can fall a fraction of a second past it, which rounding up made 61 of 60)."""
    return min(limit.limit.get_expiry(), max(1, math.ceil(limit.reset_at - time.time())))


def ratelimit_fields(limit: RequestLimit) -> dict[str, str]:
    """The draft's RateLimit-Policy and RateLimit fields for one limit."""
    name = scope_of(limit)
    return {
        "RateLimit-Policy": f'"{name}";q={limit.limit.amount};w={limit.limit.get_expiry()}',
        "RateLimit": f'"{name}";r={max(limit.remaining, 0)};t={seconds_until_reset(limit)}',
    }


def _is(endpoint: str, method: str) -> bool:
    return request.endpoint == endpoint and request.method == method
