"""OAuth 2 tokens as Crier keeps them: a token answer read into credentials, and their expiry read back.

A token answer (RFC 6749 section 5.1) gives `access_token`, its lifetime `expires_in` in seconds and, where
the network renews tokens that way, a `refresh_token`. Crier keeps the lifetime as the moment it ends,
`expires_at` in ISO 8601 UTC, so that the core renews ahead of it (shared/channels/refreshing.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.networks.toolkit.answers import as_utc, reading, required_text


def is_token(value: object) -> bool:
    """Whether a credential has the shape of a token as networks issue them: some text without spaces."""
    return isinstance(value, str) and bool(value) and not any(char.isspace() for char in value)


def token_problems(credentials: Mapping[str, Any], keys: Sequence[str], issuer: str) -> list[str]:
    """Each of `keys` whose value is not a token's shape; whether `issuer` takes them, verify() asks."""
    return [
        f"{key} must be the token {issuer} issued, without spaces"
        for key in keys
        if not is_token(credentials.get(key))
    ]


def token_credentials(answer: Mapping[str, Any], now: datetime, *, what: str) -> dict[str, Any]:
    """A token answer as credentials: `access_token`, `expires_at`, and `refresh_token` where given.

    An answer without a token, or with a lifetime that is not a positive whole number of seconds, is one
    Crier cannot read: Transient (see toolkit.answers.reading).
    """
    with reading(what, write=False):
        credentials: dict[str, Any] = {
            "access_token": required_text(answer["access_token"]),
            "expires_at": expiry_after(now, answer["expires_in"]),
        }
        if answer.get("refresh_token"):
            credentials["refresh_token"] = required_text(answer["refresh_token"])
    return credentials


def expiry_after(now: datetime, seconds: object) -> str:
    """The moment a lifetime of `seconds` from `now` ends, in ISO 8601 UTC; TypeError (read inside
    `reading`) for anything but a positive whole number of seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise TypeError(f"expected a positive number of seconds, not {seconds!r}")
    return (now.astimezone(UTC) + timedelta(seconds=seconds)).isoformat()


def stored_expiry(credentials: Mapping[str, Any]) -> datetime | None:
    """When the credentials' access token stops working, as they keep it; None when they do not say."""
    value = credentials.get("expires_at")
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None
