"""Meta's Graph API errors read as the ladder's kinds: its codes first, since most refusals are HTTP 400."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.networks.instagram.graph import InstagramDialect
from shared.networks.meta.graph_errors import object_missing
from shared.networks.ports import (
    AuthExpired,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.toolkit.calls import Calls
from tests.networks.on_this_machine import outbound_here

CALLS = Calls(outbound_here(), dialect=InstagramDialect())


def graph_error(status: int, code: int, subcode: int | None = None, **headers: str) -> httpx.Response:
    error: dict[str, Any] = {"message": "Meta says no", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return httpx.Response(status, json={"error": error}, headers=headers)


def met(response: httpx.Response, *, write: bool = True) -> NetworkError:
    return CALLS.refusal(response, what="Instagram", write=write)


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (graph_error(400, 190, 463), AuthExpired),
        (graph_error(400, 102), AuthExpired),
        (graph_error(403, 10), AuthExpired),
        (graph_error(403, 200), AuthExpired),
        (graph_error(400, 4), RateLimited),
        (graph_error(400, 17), RateLimited),
        (graph_error(400, 32), RateLimited),
        (graph_error(400, 613), RateLimited),
        (graph_error(400, 9), RateLimited),
        (graph_error(400, 80002), RateLimited),
        (graph_error(400, 9, 2207042), RateLimited),
        (graph_error(400, 36000, 2207004), Rejected),
        (graph_error(400, 9004, 2207009), Rejected),
        (graph_error(400, 4, 2207051), Rejected),
        (graph_error(400, -2, 2207003), Transient),
        (graph_error(400, 9007, 2207027), Transient),
        (graph_error(400, 1), Transient),
        (graph_error(400, 2), Transient),
        (graph_error(500, 1), OutcomeUnknown),
        (graph_error(400, 100), Rejected),
        (httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>"), OutcomeUnknown),
    ],
    ids=lambda value: "" if isinstance(value, type) else None,
)
def test_each_documented_code_means_its_kind(response: httpx.Response, kind: type[NetworkError]) -> None:
    assert type(met(response)) is kind


def test_a_read_that_fails_on_the_server_is_only_retried() -> None:
    assert type(met(graph_error(500, 2), write=False)) is Transient


def test_the_words_are_metas_with_the_codes_and_the_message_for_people() -> None:
    response = httpx.Response(
        400,
        json={
            "error": {
                "message": "The image size is too large.",
                "code": 36000,
                "error_subcode": 2207004,
                "error_user_msg": "It should be less than 8 MiB.",
            }
        },
    )

    assert str(met(response)) == (
        "Instagram answered 400: The image size is too large. (code 36000, subcode 2207004): "
        "It should be less than 8 MiB."
    )


def test_a_rate_limit_lifts_when_the_business_use_case_usage_says() -> None:
    usage = {"1784": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 12}]}
    before = datetime.now(UTC)

    limited = met(graph_error(400, 80002, **{"X-Business-Use-Case-Usage": json.dumps(usage)}))

    assert isinstance(limited, RateLimited)
    assert limited.reset_at is not None
    assert timedelta(minutes=11) < limited.reset_at - before < timedelta(minutes=13)
    # X-App-Usage gives percentages only: Crier's default wait applies.
    app_limited = met(graph_error(400, 4, **{"X-App-Usage": '{"call_count": 100}'}))
    assert isinstance(app_limited, RateLimited)
    assert app_limited.reset_at is None


def test_an_object_that_does_not_exist_is_recognised() -> None:
    assert object_missing(graph_error(400, 100, 33))
    assert not object_missing(graph_error(400, 100))
