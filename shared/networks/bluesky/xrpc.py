"""Reading a PDS's answers: XRPC's errors (`{"error", "message"}`), and what only the AT Protocol says its own
way: an expired session, a rate limit named in the body, a reset in epoch seconds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.networks.ports import Engagement, NetworkError, RateLimited
from shared.networks.toolkit.answers import network_words, required_text, sanitized
from shared.networks.toolkit.calls import Dialect


class BlueskyDialect(Dialect):
    """The PDS's words are XRPC's; an expired or unknown session is a refusal of the credentials."""

    def own_error(self, response: httpx.Response, what: str) -> NetworkError | None:
        if error_name(response) == "RateLimitExceeded" and response.status_code != 429:
            return RateLimited(
                f"{what} answered {response.status_code}: {error_text(response)}", self.reset_at(response)
            )
        return None

    def words(self, response: httpx.Response) -> str:
        return error_text(response)

    def credentials_refused(self, response: httpx.Response) -> bool:
        return session_refused(response)

    def reset_at(self, response: httpx.Response) -> datetime | None:
        # RateLimit-Reset is a Unix time in seconds on Bluesky's PDS.
        value = response.headers.get("RateLimit-Reset")
        if not value:
            return None
        try:
            return datetime.fromtimestamp(int(value.strip()), UTC)
        except (ValueError, OverflowError, OSError):
            return None


def session_refused(response: httpx.Response) -> bool:
    # An expired access token answers 400 ExpiredToken; a revoked or unknown one 401.
    return response.status_code == 401 or (
        response.status_code == 400 and error_name(response) in ("ExpiredToken", "InvalidToken")
    )


def read_missing(response: httpx.Response) -> bool:
    """Whether a read was refused for want of the route, not for the session or the pace."""
    if response.status_code in (404, 405, 501):
        return True
    if response.status_code == 429 or session_refused(response) or not 400 <= response.status_code < 500:
        return False
    return error_name(response) in (None, "MethodNotImplemented", "XRPCNotSupported")


def error_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    name = body.get("error") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def error_text(response: httpx.Response) -> str:
    """XRPC's `{"error", "message"}` as "error: message"; any other body as the network wrote it."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("message")]
        text = ": ".join(part for part in parts if isinstance(part, str) and part)
        if text:
            return sanitized(text)
    return network_words(response)


def engagement(post: Mapping[str, Any]) -> Engagement:
    # Every count the view carries is kept in raw, mapped or not (a `viewCount`, say), so that one added to
    # the lexicon later can be recovered from the samples already stored.
    counts = {
        key: value
        for key, value in post.items()
        if key.endswith("Count") and isinstance(value, int) and not isinstance(value, bool)
    }
    return Engagement(
        likes=counts.get("likeCount"),
        reposts=counts.get("repostCount"),
        replies=counts.get("replyCount"),
        quotes=counts.get("quoteCount"),
        bookmarks=counts.get("bookmarkCount"),
        raw={"uri": required_text(post["uri"]), **counts},
    )
