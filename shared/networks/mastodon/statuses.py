"""Reading Mastodon's answers: a status as a part of a delivery, its counts, and what only Mastodon says its
own way (a rate limit's reset as an ISO 8601 time)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from shared.networks.mastodon.channel import ChannelSettings
from shared.networks.ports import Account, AuthExpired, Engagement, PublishedPart, Transient
from shared.networks.toolkit.answers import (
    as_utc,
    identifier,
    network_words,
    required_text,
    says_credentials_refused,
)
from shared.networks.toolkit.calls import Calls, Dialect


class MastodonDialect(Dialect):
    """Mastodon's words are the generic ones (JSON `error_description` or `error`); its reset is its own."""

    def reset_at(self, response: httpx.Response) -> datetime | None:
        value = response.headers.get("X-RateLimit-Reset")
        if not value:
            return None
        try:
            return as_utc(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None


def token(account: Account) -> str:
    """The channel's access token; AuthExpired when it has none."""
    token = account.credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthExpired("the Mastodon channel has no access token: connect the account again")
    return token


def get_json(
    calls: Calls, channel: ChannelSettings, token: str, path: str, params: Mapping[str, Any] | None = None
) -> Any:
    """The JSON a GET of `path` answers on the channel's server (an object, a list…)."""
    response = calls.send("GET", f"{channel.base_url}{path}", token=token, params=params)
    calls.check(response, what=channel.host)
    try:
        return response.json()
    except ValueError as error:
        raise Transient(f"{channel.host}: {path} answered with something other than JSON") from error


def batch_read_missing(response: httpx.Response) -> bool:
    """Whether a batch read was refused for want of the route, not for the caller's credentials or pace."""
    if response.status_code in (404, 405, 501):
        return True
    if response.status_code in (401, 403, 429) or not 400 <= response.status_code < 500:
        return False
    return not says_credentials_refused(network_words(response))


def status_url(status: Mapping[str, Any]) -> str:
    return str(status.get("url") or status.get("uri") or "")


def part_of(status: Mapping[str, Any]) -> PublishedPart:
    """A status as one part of a delivery, dated by the server's own clock."""
    return PublishedPart(
        external_id=identifier(status["id"]), url=status_url(status), created_at=created_at(status)
    )


def created_at(status: Mapping[str, Any]) -> datetime:
    return as_utc(datetime.fromisoformat(required_text(status["created_at"])))


def normalised(text: str) -> str:
    # Mastodon strips the text before storing it; line endings may arrive as CRLF from a form.
    return text.replace("\r\n", "\n").strip()


def engagement(status: Mapping[str, Any]) -> Engagement:
    counts = {
        key: status[key]
        for key in ("favourites_count", "reblogs_count", "replies_count", "quotes_count")
        if isinstance(status.get(key), int)
    }
    return Engagement(
        likes=counts.get("favourites_count"),
        reposts=counts.get("reblogs_count"),
        replies=counts.get("replies_count"),
        quotes=counts.get("quotes_count"),  # only from Mastodon 4.5
        raw={"id": identifier(status["id"]), **counts},
    )
