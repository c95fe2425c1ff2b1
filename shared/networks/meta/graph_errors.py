"""Meta's Graph API errors, read once for every network on it: Facebook Pages, Instagram and Threads.

Every Graph error is one JSON object (graph-api/guides/error-handling):
`{"error": {"message", "type", "code", "error_subcode", "is_transient", "error_user_title",
"error_user_msg", "fbtrace_id"}}`, usually with HTTP 400 (403 for a missing permission, 500 for codes 1
and 2); Threads' OAuth endpoints answer a flatter `{"error_type", "code", "error_message"}`. What the code
means decides the error before the status does, and Meta's codes mean the same on all three networks:

- 190 (an access token expired, revoked or invalid, whatever its subcode: 458 app not installed, 459 user
  checkpointed, 460 password changed, 463 expired, 464 unconfirmed user, 467 invalid token, 492 invalid
  session), 102 (API session) and 104 (no token) → AuthExpired.
- 10 and 200-299 (a permission not granted or removed; "handle the missing permissions": the person
  approves Crier again, granting it) → AuthExpired, as the ladder's "short of the scopes needed".
- 4 (the app's calls), 17 (the user's), 32 (a page's), 341 (the application's limit), 613 (a custom limit)
  and the business use case codes 80000-80099 are rate limits → RateLimited, reset when the usage headers
  say access is regained (`estimated_time_to_regain_access`, in minutes, in X-Business-Use-Case-Usage,
  X-Page-Usage or X-App-Usage), else at Retry-After.
- 1 and 2 (an unknown or service error) and 100 with subcode 33 (an object that does not exist, or cannot
  be seen) are read here, but what they mean for a call differs by network (a passing failure of a write
  may have made the post; a missing object is a post gone, or a Page's post not seen): each network says
  so in its own package, with the codes only it has (Instagram's 2207xxx, Facebook's 506).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.networks.ports import AuthExpired, NetworkError, RateLimited
from shared.networks.toolkit.answers import retry_at, sanitized
from shared.networks.toolkit.calls import Dialect

CREDENTIAL_CODES = frozenset({102, 104, 190})
CREDENTIAL_SUBCODES = frozenset({458, 459, 460, 463, 464, 467, 492})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80100)})
TRANSIENT_CODES = frozenset({1, 2})
INVALID_PARAMETER = 100
OBJECT_MISSING_SUBCODE = 33
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage")
# An estimate beyond a week is not one Crier waits for: the ladder's default wait applies.
LONGEST_REGAIN_MINUTES = 10_000


@dataclass(frozen=True)
class GraphError:
    """One Graph error object, as the answer gave it."""

    code: int
    subcode: int | None
    message: str
    user_message: str = ""
    type: str = ""
    # Meta's own word on retrying, where it gives one: None when the error does not say.
    is_transient: bool | None = None
    fbtrace_id: str | None = None

    @property
    def words(self) -> str:
        """What Meta said, with its codes and trace id, for a person and Meta's support:
        `OAuthException: Error validating access token (code 190, subcode 463, fbtrace_id AbC): Log in`."""
        codes = [f"code {self.code}"]
        if self.subcode is not None:
            codes.append(f"subcode {self.subcode}")
        if self.fbtrace_id:
            codes.append(f"fbtrace_id {self.fbtrace_id}")
        said = f"{self.type}: " if self.type else ""
        said += f"{self.message} ({', '.join(codes)})".lstrip()
        if self.user_message and self.user_message != self.message:
            said += f": {self.user_message}"
        return sanitized(said)

    @property
    def object_missing(self) -> bool:
        """100/33: the object asked about does not exist, or this token cannot see it."""
        return self.code == INVALID_PARAMETER and self.subcode == OBJECT_MISSING_SUBCODE


def graph_error(response: httpx.Response) -> GraphError | None:
    """The Graph error object of an answer; None when the body is not one (a proxy's page, other JSON)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        if "error_message" not in body and "error_type" not in body:
            return None
        # Threads' OAuth endpoints: the same error, flattened.
        error = {
            "message": body.get("error_message"),
            "type": body.get("error_type"),
            "code": body.get("code"),
        }
    code = _whole(error.get("code"))
    if code is None:
        return None
    trace = error.get("fbtrace_id")
    transient = error.get("is_transient")
    return GraphError(
        code=code,
        subcode=_whole(error.get("error_subcode")),
        message=_text(error.get("message")),
        user_message=_text(error.get("error_user_msg")),
        type=_text(error.get("type")),
        is_transient=transient if isinstance(transient, bool) else None,
        fbtrace_id=sanitized(trace) if isinstance(trace, str) and trace else None,
    )


def object_missing(response: httpx.Response) -> bool:
    """Whether the answer says the object (a post, a media, a comment) does not exist, or not for this
    token."""
    if response.status_code in (404, 410):
        return True
    error = graph_error(response)
    return error is not None and error.object_missing


def credentials_refused(error: GraphError, said: str) -> AuthExpired | None:
    """AuthExpired when the token is dead or short of a permission; only connecting again helps."""
    if error.code in CREDENTIAL_CODES or error.subcode in CREDENTIAL_SUBCODES:
        return AuthExpired(said)
    if error.code in PERMISSION_CODES:
        return AuthExpired(said + " (a permission Crier needs was not granted, or was removed: reconnect)")
    return None


def throttled(
    response: httpx.Response, error: GraphError, said: str, codes: Collection[int] = RATE_LIMIT_CODES
) -> RateLimited | None:
    """RateLimited for a rate limit's code, until the usage headers say access is regained, else
    Retry-After; `codes` where a network has more of them."""
    if error.code not in codes:
        return None
    now = datetime.now(UTC)
    return RateLimited(said, usage_reset_at(response.headers, now) or retry_at(response.headers, now))


def usage_reset_at(headers: httpx.Headers, now: datetime) -> datetime | None:
    """When the usage headers say calls are no longer throttled: the latest `estimated_time_to_regain_access`
    (minutes) of any of them; None when none says.

    X-Business-Use-Case-Usage maps each business object's id to a list of usages, one per type
    (`{"1234": [{"type": "pages", "call_count": 100, ..., "estimated_time_to_regain_access": 19}]}`); the
    platform's X-App-Usage and X-Page-Usage are one usage each. A wait of 0 says nothing of when: the
    ladder's default wait applies rather than asking again at once.
    """
    minutes: list[float] = []
    for name in USAGE_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        try:
            usage = json.loads(value)
        except ValueError:
            continue
        for entry in _usages(usage):
            regain = entry.get("estimated_time_to_regain_access")
            if isinstance(regain, bool) or not isinstance(regain, int | float):
                continue
            if 0 < regain < LONGEST_REGAIN_MINUTES:
                minutes.append(float(regain))
    if not minutes:
        return None
    return now + timedelta(minutes=max(minutes))


class GraphDialect(Dialect):
    """Meta's codes read before the ladder: they say more than the HTTP status, which is 400 for most
    refusals (an expired token and a rate limit alike). A network adds the codes only it has in `by_code`."""

    def own_error(self, response: httpx.Response, what: str) -> NetworkError | None:
        error = graph_error(response)
        if error is None:
            return None
        return self.by_code(response, error, f"{what} answered {response.status_code}: {error.words}")

    def by_code(self, response: httpx.Response, error: GraphError, said: str) -> NetworkError | None:
        """The error a Graph error object means; None leaves it to the ladder, with Meta's words."""
        return credentials_refused(error, said) or throttled(response, error, said)

    def words(self, response: httpx.Response) -> str | None:
        error = graph_error(response)
        return error.words if error is not None else None

    def reset_at(self, response: httpx.Response) -> datetime | None:
        return usage_reset_at(response.headers, datetime.now(UTC))


def _usages(usage: Any) -> list[Mapping[str, Any]]:
    if not isinstance(usage, dict):
        return []
    if any(isinstance(value, list) for value in usage.values()):
        return [
            entry
            for value in usage.values()
            if isinstance(value, list)
            for entry in value
            if isinstance(entry, dict)
        ]
    return [usage]


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: object) -> str:
    return sanitized(value) if isinstance(value, str) else ""
