"""Reading Discord's answers: its JSON errors (a code, a message, the fields at fault), the codes that mean a
message or a webhook is gone, and its rate-limit headers and body."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.networks.ports import NetworkError, OutcomeUnknown, PostGone
from shared.networks.toolkit.answers import retry_at, sanitized
from shared.networks.toolkit.calls import Dialect

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027


class DiscordDialect(Dialect):
    """Discord's JSON errors name a code and the fields at fault; anything else (a proxy's page, another
    server's JSON) is read as it comes, so its words count too: a token said to be invalid is one."""

    def own_error(self, response: httpx.Response, what: str) -> NetworkError | None:
        body = _error_body(response)
        if response.status_code == 404 and body.get("code") == UNKNOWN_MESSAGE:
            return PostGone(f"{what}: the message no longer exists ({_describe(body)}).")
        return None

    def words(self, response: httpx.Response) -> str | None:
        body = _error_body(response)
        words = (_describe(body) if body else "") or None
        if response.status_code == 429:
            scope = response.headers.get("X-RateLimit-Scope") or (
                "global" if body.get("global") else "webhook"
            )
            words = f"rate limited ({scope} limit): {words or 'You are being rate limited.'}"
        return words

    def credentials_refused(self, response: httpx.Response) -> bool:
        # A deleted webhook (10015) or a reset token (50027): only a new webhook URL helps.
        code = _error_body(response).get("code")
        return (response.status_code == 404 and code == UNKNOWN_WEBHOOK) or code == INVALID_WEBHOOK_TOKEN

    def reset_at(self, response: httpx.Response) -> datetime | None:
        seconds = _retry_after_seconds(response, _error_body(response))
        return retry_at(response.headers, datetime.now(UTC), seconds)


def message_of(response: httpx.Response) -> dict[str, Any]:
    """The message a successful write answered: what was sent is probably out even when it cannot be read."""
    body = _json(response)
    if not isinstance(body, dict):
        raise OutcomeUnknown("Discord: answered 2xx with an unreadable body; the message is probably out.")
    return body


def object_of(response: httpx.Response) -> dict[str, Any]:
    """A successful read's JSON object; an empty one when it is not one."""
    body = _json(response)
    return body if isinstance(body, dict) else {}


def pause_after(response: httpx.Response) -> float:
    """How long to wait before the next message, when Discord says the bucket is empty."""
    if response.headers.get("X-RateLimit-Remaining") != "0":
        return 0.0
    try:
        return max(float(response.headers.get("X-RateLimit-Reset-After", "0")), 0.0)
    except ValueError:
        return 0.0


def _error_body(response: httpx.Response) -> dict[str, Any]:
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    return object_of(response) if is_json else {}


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after_seconds(response: httpx.Response, body: Mapping[str, Any]) -> float | None:
    """The wait a 429 asks for: the body's `retry_after` (to the millisecond), else X-RateLimit-Reset-After.

    None leaves retry_at to read the Retry-After header, in whole seconds.
    """
    seconds = body.get("retry_after")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    try:
        return float(response.headers["X-RateLimit-Reset-After"])
    except (KeyError, ValueError):
        return None


def _describe(body: Mapping[str, Any]) -> str:
    """`code 50035: Invalid Form Body (content: Must be 2000 or fewer in length.)`"""
    said = f"code {body['code']}" if "code" in body else ""
    if isinstance(body.get("message"), str):
        said += f": {body['message']}" if said else body["message"]
    details = list(_field_errors(body.get("errors"), ""))
    if details:
        said += " (" + "; ".join(details[:3]) + ")"
    return sanitized(said)


def _field_errors(errors: object, path: str) -> list[str]:
    """The leaf messages of Discord's nested `errors` object, each with its field path."""
    if not isinstance(errors, dict):
        return []
    found: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            found += [f"{path or 'body'}: {item.get('message')}" for item in value if isinstance(item, dict)]
        else:
            found += _field_errors(value, f"{path}.{key}" if path else str(key))
    return found
