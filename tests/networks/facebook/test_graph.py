"""Graph's error objects read by code before status, as Meta's error-handling guide tells what each means."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.networks.facebook.graph import (
    DuplicatePost,
    GraphCalls,
    ObjectMissing,
    RetiredMetric,
)
from shared.networks.meta.graph_errors import graph_error
from shared.networks.ports import (
    AuthExpired,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
)
from tests.networks.on_this_machine import outbound_here

CALLS = GraphCalls(outbound_here(), graph_url="https://graph.example/", version="v24.0")


def answer(status: int, headers: dict[str, str] | None = None, **error: Any) -> httpx.Response:
    body = {"error": {"message": "words", "type": "OAuthException", "fbtrace_id": "AbC123", **error}}
    return httpx.Response(status, json=body, headers=headers)


def read(response: httpx.Response, *, write: bool = True) -> NetworkError:
    return CALLS.refusal(response, what="Facebook", write=write)


def test_every_address_is_the_graph_version_then_the_path() -> None:
    assert CALLS.url("123", "feed") == "https://graph.example/v24.0/123/feed"
    assert CALLS.url() == "https://graph.example/v24.0"


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"code": 190}, AuthExpired),
        (400, {"code": 190, "error_subcode": 463}, AuthExpired),
        (400, {"code": 102}, AuthExpired),
        (400, {"code": 104}, AuthExpired),
        (403, {"code": 10}, AuthExpired),
        (403, {"code": 200}, AuthExpired),
        (403, {"code": 299}, AuthExpired),
        (400, {"code": 4}, RateLimited),
        (400, {"code": 17}, RateLimited),
        (400, {"code": 32}, RateLimited),
        (400, {"code": 341}, RateLimited),
        (400, {"code": 613}, RateLimited),
        (400, {"code": 80001}, RateLimited),
        (500, {"code": 1}, OutcomeUnknown),
        (500, {"code": 2}, OutcomeUnknown),
        (400, {"code": 9007, "is_transient": True}, OutcomeUnknown),
        (400, {"code": 506}, DuplicatePost),
        (400, {"code": 100, "error_subcode": 33}, ObjectMissing),
        (400, {"code": 100, "message": "(#100) The value must be a valid insights metric"}, RetiredMetric),
        (400, {"code": 100, "message": "(#100) Invalid parameter"}, Rejected),
        (400, {"code": 368, "message": "Temporarily blocked for policy violations"}, Rejected),
        (500, {"code": 368}, OutcomeUnknown),
    ],
)
def test_a_write_meets_each_graph_code_as_the_guide_says(
    status: int, error: dict[str, Any], kind: type[NetworkError]
) -> None:
    assert type(read(answer(status, **error))) is kind


def test_a_passing_failure_to_a_read_is_retried() -> None:
    assert type(read(answer(500, code=2), write=False)) is Transient
    assert type(read(answer(400, code=9007, is_transient=True), write=False)) is Transient


def test_the_words_carry_the_code_the_subcode_and_the_trace_for_meta_support() -> None:
    error = read(answer(400, code=190, error_subcode=460, error_user_msg="Log in again"))
    assert "OAuthException: words (code 190, subcode 460, fbtrace_id AbC123): Log in again" in str(error)


def test_a_throttle_waits_for_the_usage_headers_then_retry_after() -> None:
    usage = {"9": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    before = datetime.now(UTC)
    limited = read(answer(400, {"X-Business-Use-Case-Usage": json.dumps(usage)}, code=80001))
    assert isinstance(limited, RateLimited)
    assert limited.reset_at is not None
    assert before + timedelta(minutes=7) <= limited.reset_at <= datetime.now(UTC) + timedelta(minutes=7)
    limited = read(answer(400, {"Retry-After": "30"}, code=32))
    assert isinstance(limited, RateLimited)
    assert limited.reset_at is not None
    assert limited.reset_at <= datetime.now(UTC) + timedelta(seconds=30)


@pytest.mark.parametrize(
    "body",
    [
        {"error": "The access token is invalid"},  # not Graph's shape: the ladder reads the words
        {"error": {"message": "no code"}},
        ["not", "an", "object"],
    ],
)
def test_a_body_that_is_not_a_graph_error_object_is_left_to_the_ladder(body: Any) -> None:
    assert graph_error(httpx.Response(400, json=body)) is None


def test_an_html_page_is_left_to_the_ladder() -> None:
    page = httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>")
    assert graph_error(page) is None
    assert type(read(page)) is OutcomeUnknown
