"""Meta's Graph error object and usage headers, read once for Facebook, Instagram and Threads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.networks.meta.graph_errors import (
    GraphDialect,
    credentials_refused,
    graph_error,
    object_missing,
    throttled,
    usage_reset_at,
)
from shared.networks.ports import AuthExpired, RateLimited

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def answer(status: int = 400, headers: dict[str, str] | None = None, **error: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": "Meta says no", **error}}, headers=headers)


def test_an_error_object_is_read_with_every_field_meta_gives() -> None:
    error = graph_error(
        answer(
            code=190,
            error_subcode=463,
            type="OAuthException",
            is_transient=False,
            error_user_msg="Log in again",
            fbtrace_id="AbC",
        )
    )
    assert error is not None
    assert (error.code, error.subcode, error.type, error.is_transient) == (190, 463, "OAuthException", False)
    assert error.words == "OAuthException: Meta says no (code 190, subcode 463, fbtrace_id AbC): Log in again"


def test_the_words_say_the_message_and_the_code_when_that_is_all_there_is() -> None:
    error = graph_error(answer(code=100))
    assert error is not None
    assert error.words == "Meta says no (code 100)"
    assert error.is_transient is None


def test_the_oauth_endpoints_flat_error_is_the_same_error() -> None:
    flat = {"error_type": "OAuthException", "code": 190, "error_message": "Session has expired"}
    error = graph_error(httpx.Response(400, json=flat))
    assert error is not None
    assert (error.code, error.type, error.message) == (190, "OAuthException", "Session has expired")


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "no code"}},
        {"error": "invalid_token"},
        {"error": {"code": True}},
        ["no"],
        "text",
    ],
)
def test_a_body_that_is_no_graph_error_object_is_none(body: Any) -> None:
    assert graph_error(httpx.Response(400, json=body)) is None


def test_a_code_written_as_digits_is_read_as_a_number() -> None:
    error = graph_error(answer(code="190", error_subcode="460"))
    assert error is not None
    assert (error.code, error.subcode) == (190, 460)


def test_a_missing_object_is_100_33_or_a_404_or_410() -> None:
    assert object_missing(answer(code=100, error_subcode=33))
    assert object_missing(httpx.Response(404))
    assert object_missing(httpx.Response(410))
    assert not object_missing(answer(code=100))
    assert not object_missing(httpx.Response(400, text="<html>Bad Request</html>"))


@pytest.mark.parametrize("fields", [{"code": 190, "error_subcode": 467}, {"code": 104}, {"code": 230}])
def test_dead_credentials_and_missing_permissions_mean_reconnecting(fields: dict[str, Any]) -> None:
    error = graph_error(answer(**fields))
    assert error is not None
    assert isinstance(credentials_refused(error, "said"), AuthExpired)


def test_an_error_of_the_request_is_not_one_of_the_credentials() -> None:
    error = graph_error(answer(code=100))
    assert error is not None
    assert credentials_refused(error, "said") is None


def test_a_throttle_waits_for_the_usage_headers_then_retry_after() -> None:
    usage = {"9": [{"type": "pages", "estimated_time_to_regain_access": 7}]}
    response = answer(headers={"X-Business-Use-Case-Usage": json.dumps(usage)}, code=80001)
    error = graph_error(response)
    assert error is not None
    before = datetime.now(UTC)
    limited = throttled(response, error, "said")
    assert isinstance(limited, RateLimited)
    assert limited.reset_at is not None
    assert before + timedelta(minutes=7) <= limited.reset_at <= datetime.now(UTC) + timedelta(minutes=7)
    retry = answer(headers={"Retry-After": "30"}, code=4)
    limited = throttled(retry, graph_error(retry) or error, "said")
    assert isinstance(limited, RateLimited)
    assert limited.reset_at is not None
    assert limited.reset_at <= datetime.now(UTC) + timedelta(seconds=30)


def test_a_network_may_count_more_codes_as_throttles() -> None:
    response = answer(code=9)
    error = graph_error(response)
    assert error is not None
    assert throttled(response, error, "said") is None
    assert isinstance(throttled(response, error, "said", {9}), RateLimited)


@pytest.mark.parametrize(
    ("headers", "minutes"),
    [
        ({"X-App-Usage": json.dumps({"call_count": 100, "estimated_time_to_regain_access": 3})}, 3),
        ({"X-Page-Usage": json.dumps({"estimated_time_to_regain_access": 4.5})}, 4.5),
        (
            {
                "X-Business-Use-Case-Usage": json.dumps(
                    {
                        "1": [{"estimated_time_to_regain_access": 2}],
                        "2": [{"estimated_time_to_regain_access": 9}],
                    }
                )
            },
            9,
        ),
    ],
)
def test_the_latest_regain_time_of_any_usage_header_is_the_reset(
    headers: dict[str, str], minutes: float
) -> None:
    assert usage_reset_at(httpx.Headers(headers), NOW) == NOW + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"call_count": 100}),
        json.dumps({"estimated_time_to_regain_access": 0}),
        json.dumps({"estimated_time_to_regain_access": -5}),
        json.dumps({"estimated_time_to_regain_access": 10**6}),
        json.dumps({"estimated_time_to_regain_access": True}),
        "not json",
    ],
)
def test_usage_that_says_no_wait_leaves_the_reset_to_retry_after(value: str) -> None:
    assert usage_reset_at(httpx.Headers({"X-App-Usage": value}), NOW) is None


def test_the_dialect_reads_metas_words_and_its_reset_for_the_ladder() -> None:
    dialect = GraphDialect()
    usage = json.dumps({"estimated_time_to_regain_access": 5})
    response = answer(429, headers={"X-App-Usage": usage}, code=4)
    assert dialect.words(response) == "Meta says no (code 4)"
    assert dialect.reset_at(response) is not None
    assert dialect.words(httpx.Response(502, text="<html>Bad Gateway</html>")) is None
    limited = dialect.own_error(response, "Threads")
    assert isinstance(limited, RateLimited)
    assert str(limited).startswith("Threads answered 429: Meta says no (code 4)")
