"""An OAuth 2 token answer as the credentials Crier keeps, their expiry read back, and a token's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.networks.ports import Transient
from shared.networks.toolkit.tokens import (
    expiry_after,
    is_token,
    stored_expiry,
    token_credentials,
    token_problems,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_token_answer_keeps_the_token_and_when_it_ends() -> None:
    answer = {"access_token": "a", "expires_in": 7200, "token_type": "bearer", "scope": "x"}
    assert token_credentials(answer, NOW, what="X") == {
        "access_token": "a",
        "expires_at": "2026-12-06T14:00:00+00:00",
    }


def test_a_refresh_token_is_kept_where_the_answer_gives_one() -> None:
    answer = {"access_token": "a", "expires_in": 60, "refresh_token": "r"}
    assert token_credentials(answer, NOW, what="X")["refresh_token"] == "r"


@pytest.mark.parametrize(
    "answer",
    [
        {"expires_in": 60},
        {"access_token": "", "expires_in": 60},
        {"access_token": "a"},
        {"access_token": "a", "expires_in": 0},
        {"access_token": "a", "expires_in": "60"},
        {"access_token": "a", "expires_in": True},
        {"access_token": "a", "expires_in": 60, "refresh_token": 5},
    ],
)
def test_an_answer_crier_cannot_read_is_asked_again(answer: dict[str, Any]) -> None:
    with pytest.raises(Transient, match="LinkedIn answered with something Crier cannot read"):
        token_credentials(answer, NOW, what="LinkedIn")


def test_the_end_is_written_in_utc_whatever_the_clocks_zone() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert expiry_after(paris, 30) == "2026-12-06T12:00:30+00:00"


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({"expires_at": "2026-12-06T14:00:00+00:00"}, NOW + timedelta(hours=2)),
        ({"expires_at": "2026-12-06T14:00:00"}, NOW + timedelta(hours=2)),
        ({"expires_at": "tomorrow"}, None),
        ({"expires_at": 1765000000}, None),
        ({}, None),
    ],
)
def test_the_stored_expiry_is_read_back_as_utc(
    credentials: dict[str, Any], expected: datetime | None
) -> None:
    assert stored_expiry(credentials) == expected


@pytest.mark.parametrize(
    ("value", "shaped"), [("abc.DEF-1", True), ("", False), ("a b", False), (" a", False), (5, False)]
)
def test_a_token_is_some_text_without_spaces(value: object, shaped: bool) -> None:
    assert is_token(value) is shaped


def test_each_credential_that_is_not_a_token_is_named() -> None:
    credentials = {"access_token": "ok", "refresh_token": "not ok"}
    assert token_problems(credentials, ("access_token", "refresh_token", "id_token"), "X") == [
        "refresh_token must be the token X issued, without spaces",
        "id_token must be the token X issued, without spaces",
    ]
