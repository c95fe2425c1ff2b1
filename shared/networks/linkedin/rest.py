"""Calling LinkedIn's versioned REST API: the headers every call carries, URNs in paths and queries, and the
reading of LinkedIn's answers (its error body, its signs of a dead token, its daily quotas)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx

from shared.networks.ports import Account, AuthExpired, NetworkError, PublishedPart
from shared.networks.toolkit.answers import sanitized
from shared.networks.toolkit.calls import Calls, Dialect

WHAT = "LinkedIn"
RESTLI_PROTOCOL = "2.0.0"
POST_URL = "https://www.linkedin.com/feed/update/{urn}/"
POST_URN = re.compile(r"^urn:li:(?:share|ugcPost):\d+$")
# urn:li:comment:(urn:li:activity:123,456): the comment's parent, then its own id.
COMMENT_URN = re.compile(r"^urn:li:comment:\((urn:li:[A-Za-z]+:\d+),(\d+)\)$")
DUPLICATE = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):\d+)", re.IGNORECASE)

# LinkedIn's codes for a token that no longer works (the `code` of its error body, and its service error
# codes 65600 invalid, 65601 revoked, 65602 expired).
DEAD_TOKEN_CODES = frozenset({"EXPIRED_ACCESS_TOKEN", "REVOKED_ACCESS_TOKEN", "INVALID_ACCESS_TOKEN"})
DEAD_TOKEN_SERVICE_CODES = frozenset({65600, 65601, 65602})


class LinkedInDialect(Dialect):
    """LinkedIn's error body is `{"message", "code", "serviceErrorCode", "status"}`; its quotas are daily."""

    def words(self, response: httpx.Response) -> str | None:
        body = _json_object(response)
        if body is None:
            return None
        message = body.get("message") or body.get("error_description") or body.get("error")
        if not isinstance(message, str) or not message.strip():
            return None
        code = body.get("code")
        return sanitized(f"{message} ({code})" if isinstance(code, str) and code else message)

    def credentials_refused(self, response: httpx.Response) -> bool:
        body = _json_object(response)
        if body is None or response.status_code not in (400, 401, 403):
            return False
        return (
            body.get("code") in DEAD_TOKEN_CODES or body.get("serviceErrorCode") in DEAD_TOKEN_SERVICE_CODES
        )

    def reset_at(self, response: httpx.Response) -> datetime | None:
        """LinkedIn sends no reset header: its quotas are per day and reset at midnight UTC (Rate Limits,
        "daily rate limits reset at midnight UTC"). A Retry-After (a proxy's) is read first by the ladder."""
        if response.status_code != 429 or "Retry-After" in response.headers:
            return None
        return next_midnight_utc(datetime.now(UTC))


def next_midnight_utc(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def encoded(urn: str) -> str:
    """A URN as a path segment or query value: Rest.li 2.0 wants its colons and parentheses encoded."""
    return urllib.parse.quote(urn, safe="")


def urn_list(urns: Iterable[str]) -> str:
    """Rest.li 2.0's List(…) of URNs, for a query."""
    return "List(" + ",".join(encoded(urn) for urn in urns) + ")"


def query(fields: Mapping[str, str]) -> str:
    """A query string whose values are already encoded as Rest.li wants them."""
    return "&".join(f"{name}={value}" for name, value in fields.items())


def post_url(urn: str) -> str:
    return POST_URL.format(urn=urn)


def comment_url(post_urn: str, comment_urn: str) -> str:
    return f"{post_url(post_urn)}?commentUrn={encoded(comment_urn)}"


def post_part(urn: str, created_ms: object = None) -> PublishedPart:
    return PublishedPart(external_id=urn, url=post_url(urn), created_at=from_ms(created_ms))


def from_ms(value: object) -> datetime | None:
    """LinkedIn's times are epoch milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def access_token(account: Account) -> str:
    token = account.credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthExpired("the LinkedIn channel has no access token: connect the account again")
    return token


class LinkedInApi:
    """Every call to LinkedIn's REST API, with the version and protocol headers added in this one place."""

    def __init__(self, calls: Calls, *, api_url: str, version: str) -> None:
        self.calls = calls
        self.api_url = api_url.rstrip("/")
        self.version = version

    def send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        write: bool = False,
        headers: Mapping[str, str] | None = None,
        **request: Any,
    ) -> httpx.Response:
        """A call to `path` (below the API's address; a full URL as it is, such as an upload URL)."""
        url = path if path.startswith(("http://", "https://")) else f"{self.api_url}{path}"
        return self.calls.send(
            method,
            url,
            what=WHAT,
            write=write,
            token=token,
            secrets=(token,),
            headers={
                "LinkedIn-Version": self.version,
                "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
                **(headers or {}),
            },
            **request,
        )

    def upload_url(self, url: str) -> str:
        """An upload address LinkedIn gave, where the token may go: https on linkedin.com (LinkedIn's own
        upload hosts), or the API's own server (a fake, an operator's gateway). ValueError for any other."""
        parts = urllib.parse.urlsplit(url)
        api = urllib.parse.urlsplit(self.api_url)
        host = (parts.hostname or "").lower()
        on_linkedin = parts.scheme == "https" and (host == "linkedin.com" or host.endswith(".linkedin.com"))
        if not on_linkedin and (parts.scheme, parts.netloc) != (api.scheme, api.netloc):
            raise ValueError(f"the upload address {sanitized(url)[:80]!r} is not LinkedIn's")
        return url

    def get(self, path: str, token: str, **request: Any) -> dict[str, Any]:
        """A read's JSON object; the error an unsuccessful answer means."""
        return self.calls.answer(self.send("GET", path, token, **request), what=WHAT)

    def check(self, response: httpx.Response, *, write: bool = False) -> None:
        self.calls.check(response, what=WHAT, write=write)

    def refusal(self, response: httpx.Response, *, write: bool) -> NetworkError:
        return self.calls.refusal(response, what=WHAT, write=write)
