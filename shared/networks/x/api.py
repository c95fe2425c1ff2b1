"""Reading X's answers: its error bodies, its rate-limit headers, a post as a delivery's part, its counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.networks.ports import Account, AuthExpired, Engagement, PublishedPart
from shared.networks.toolkit.answers import identifier, sanitized
from shared.networks.toolkit.calls import Dialect

# X's problem types (docs.x.com/x-api/fundamentals/response-codes-and-errors): the URI's last segment.
PROBLEMS = "https://api.twitter.com/2/problems/"
NOT_FOUND = "resource-not-found"
# The 403 X answers a post whose text the account posted recently (no problem type: about:blank).
DUPLICATE_WORDS = "duplicate content"

RATE_WINDOW = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
USER_DAY = ("x-user-limit-24hour-limit", "x-user-limit-24hour-remaining", "x-user-limit-24hour-reset")
APP_DAY = ("x-app-limit-24hour-limit", "x-app-limit-24hour-remaining", "x-app-limit-24hour-reset")


def problem_type(body: object) -> str:
    """The last segment of a problem's `type` ("client-forbidden", "resource-not-found"); "" for none."""
    if not isinstance(body, Mapping):
        return ""
    kind = body.get("type")
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) and kind != "about:blank" else ""


def problem_words(body: object) -> str | None:
    """What an X error body says: a problem's title and detail, its `reason` (client-not-enrolled…), and the
    messages of its `errors`; None when the body has none of them (the ladder then reads it generically)."""
    if not isinstance(body, Mapping):
        return None
    parts: list[str] = []
    title, detail = body.get("title"), body.get("detail")
    if isinstance(title, str) and title.strip():
        parts.append(title.strip())
    if isinstance(detail, str) and detail.strip() and detail.strip() != (title or "").strip():
        parts.append(detail.strip())
    reason = body.get("reason")
    if isinstance(reason, str) and reason.strip():
        parts.append(f"({reason.strip()})")
    errors = body.get("errors")
    if isinstance(errors, list):
        for error in errors[:3]:
            if isinstance(error, Mapping):
                message = error.get("message") or error.get("detail")
                if isinstance(message, str) and message.strip():
                    parts.append(message.strip())
    if not parts:
        return None
    return sanitized(": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if parts[2:] else ""))


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def is_duplicate(response: httpx.Response) -> bool:
    """Whether X refused a post because the account posted the same text recently."""
    if response.status_code != 403:
        return False
    words = problem_words(_body(response)) or ""
    return DUPLICATE_WORDS in words.lower()


def _epoch(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        return None
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _exhausted(headers: httpx.Headers, names: tuple[str, str, str]) -> datetime | None:
    """The reset of this limit when the answer says it has nothing left; None otherwise."""
    _, remaining, reset = names
    left = headers.get(remaining)
    if left is None or left.strip() != "0":
        return None
    return _epoch(headers.get(reset))


def rate_limit_reset(headers: httpx.Headers) -> datetime | None:
    """When a 429 says to come back: the reset of the limit it exhausted.

    X sends the endpoint's 15-minute window (x-rate-limit-*) and, on posting, the account's and the app's
    24-hour limits (x-user-limit-24hour-*, x-app-limit-24hour-*), each reset in epoch seconds. The one
    with nothing left is the one that refused; where several are spent, the latest reset, since every one
    must have reset for a post to go through. Where none says it is spent, the window's reset.
    """
    spent = [when for names in (RATE_WINDOW, USER_DAY, APP_DAY) if (when := _exhausted(headers, names))]
    if spent:
        return max(spent)
    return _epoch(headers.get(RATE_WINDOW[2]))


class XDialect(Dialect):
    """X's words (problem details, `errors`), and its rate-limit resets."""

    def words(self, response: httpx.Response) -> str | None:
        return problem_words(_body(response))

    def reset_at(self, response: httpx.Response) -> datetime | None:
        return rate_limit_reset(response.headers)


def token(account: Account) -> str:
    """The channel's access token; AuthExpired when it has none."""
    value = account.credentials.get("access_token")
    if not isinstance(value, str) or not value:
        raise AuthExpired("the X channel has no access token: connect the account again")
    return value


def post_url(handle: str, post_id: str) -> str:
    """A post's address: under the account's name where Crier knows it, else X's address by id alone."""
    if handle and handle.isascii() and all(char.isalnum() or char == "_" for char in handle):
        return f"https://x.com/{handle}/status/{post_id}"
    return f"https://x.com/i/web/status/{post_id}"


def created_at(tweet: Mapping[str, Any]) -> datetime | None:
    value = tweet.get("created_at")
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def part_of(tweet: Mapping[str, Any], handle: str) -> PublishedPart:
    """A post as one part of a delivery."""
    post_id = identifier(tweet["id"])
    return PublishedPart(external_id=post_id, url=post_url(handle, post_id), created_at=created_at(tweet))


# Crier's names for public_metrics (docs.x.com, data dictionary: Tweet object). impression_count and
# bookmark_count came later than the rest: a post read without them leaves those None.
METRICS = {
    "like_count": "likes",
    "retweet_count": "reposts",
    "reply_count": "replies",
    "quote_count": "quotes",
    "bookmark_count": "bookmarks",
    "impression_count": "views",
}


def engagement(tweet: Mapping[str, Any]) -> Engagement:
    metrics = tweet.get("public_metrics")
    counts = {
        key: value
        for key, value in (metrics.items() if isinstance(metrics, Mapping) else ())
        if key in METRICS and isinstance(value, int) and not isinstance(value, bool)
    }
    return Engagement(
        **{METRICS[key]: value for key, value in counts.items()},
        raw={"id": identifier(tweet["id"]), **counts},
    )
