"""What a network's answer means: one reading of HTTP answers, shared by every adapter.

Whether a failed publish may be sent again decides whether Crier double-posts, so the ladder lives here
once and every adapter climbs it (docs/networks.md has it as a table, network by network):

1. 429, or a network's own word for it → RateLimited, with when the network says to come back.
2. 401; a refusal the adapter knows means dead credentials (Bluesky's ExpiredToken, Discord's unknown
   webhook, Slack's `no_service`); or a 400/403 whose words say the token is invalid, expired, revoked or
   short of the scopes needed → AuthExpired: the channel must be reconnected, and retrying cannot help.
3. 408 → Transient: the server says it gave up reading the request, so it did not act on it.
4. Any other 4xx → Rejected: the network read the request and refused it; nothing was stored. A 3xx too:
   the address has moved, and Crier follows no redirect with a post (a person fixes the channel).
5. Anything else (every 5xx: a server error, or a proxy's 502, 503, 504, 520 to 524 that may have forwarded
   the request first): for a write, OutcomeUnknown — the post may exist, and it is looked for before
   anything is sent again; for a read, Transient.

Several Mastodon-API servers ignore Idempotency-Key, and a proxy answers 502 or 504 after the server
behind it stored the post: that is why no 5xx to a write is ever retried blind. A 2xx to a write whose
body cannot be read is OutcomeUnknown for the same reason.

The rest of what "the network may have stored it" means is applied elsewhere in the toolkit, and listed
here so that it is read in one place:

- No answer at all (shared.networks.toolkit.calls.transport_failure): only a connection that was never
  made (refused, a failed lookup, a connect or pool timeout, an address this Crier does not connect to)
  proves a write did not arrive: Transient. A timeout, a reset or a hang-up after sending, or an answer
  longer than Crier reads, may follow a write that landed: OutcomeUnknown. To a read, Transient.
- A thread (shared.networks.toolkit.parts): each part the network confirmed is passed on with any later
  failure, so Crier records it; a later attempt makes only the parts after the last one recorded.

The network's own words are kept with every error (JSON fields the adapter names, or the plain-text or
HTML body), trimmed and stripped of markup, control characters and secrets, so a person reads what the
network said rather than a bare status code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import httpx

from shared.networks.ports import (
    AuthExpired,
    NetworkError,
    OutcomeUnknown,
    Profile,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)

# How much of what the network said goes into an error a person reads (and the database keeps).
WORDS_LIMIT = 300
# The longest post address and post id Crier keeps from a network's answer.
POST_URL_LIMIT = 2048
POST_ID_LIMIT = 255
# The longest account name Crier keeps from a network's answer (a channel's handle).
HANDLE_LIMIT = 200

# Words in a 400 or 403 that mean the credentials, not the request, are at fault. Mastodon (Doorkeeper):
# "The access token is invalid", "… was revoked", "… expired", "This action is outside the authorized
# scopes"; OAuth 2 (RFC 6750 section 3.1): invalid_token, insufficient_scope; AT Protocol: ExpiredToken,
# InvalidToken; Slack: invalid_token, token_revoked, token_expired.
_CREDENTIALS_REFUSED = re.compile(
    r"invalid[_ ]token|invalidtoken|expiredtoken|token[_ ](?:revoked|expired)|insufficient_scope"
    r"|(?:access |oauth |bearer )?token (?:is |was |has )?(?:been )?(?:invalid|expired|revoked)"
    r"|outside the authorized scopes",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
# No control or invisible formatting character, nor a space, belongs in a post's id or address.
_NOT_IN_AN_ADDRESS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def refusal(
    response: httpx.Response,
    *,
    what: str,
    write: bool,
    words: str | None = None,
    credentials_refused: bool = False,
    reset_at: datetime | None = None,
    secrets: Iterable[str] = (),
) -> NetworkError:
    """The error an unsuccessful answer means, by the ladder above.

    `what` names the server or call for people ("mastodon.social", "Discord"); `write` is whether the
    request could have made or changed a post. `words` are what the network said, when the adapter reads
    them from its own JSON (else the body is read here); `credentials_refused` is the adapter's own reading
    that the credentials are dead; `reset_at` when a 429 says to come back (else Retry-After is read).
    """
    status = response.status_code
    said = f"{what} answered {status}"
    words = words if words is not None else network_words(response, secrets=secrets)
    if words:
        said += f": {words}"
    if status == 429:
        return RateLimited(said, reset_at or retry_at(response.headers, datetime.now(UTC)))
    if credentials_refused or status == 401 or (status in (400, 403) and says_credentials_refused(words)):
        return AuthExpired(said)
    if status == 408:
        return Transient(said + " (it stopped reading the request, so it did not act on it)")
    if 300 <= status < 400:
        moved_to = sanitized(response.headers.get("Location", ""), secrets) or "elsewhere"
        return Rejected(f"{said} (a redirect to {moved_to}; Crier follows none: fix the channel's address)")
    if 400 <= status < 500:
        return Rejected(said)
    if write:
        return OutcomeUnknown(
            said + " (the request may have been carried out before this answer; Crier checks)"
        )
    return Transient(said)


def retry_at(headers: httpx.Headers, now: datetime, seconds: float | None = None) -> datetime | None:
    """When a 429 says to come back: `seconds` (from a body) if given, else the Retry-After header."""
    if seconds is None:
        value = headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return as_utc(when)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return now + timedelta(seconds=seconds)


def redact(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret replaced, so an error message can be stored and shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def says_credentials_refused(words: str) -> bool:
    """Whether a refusal's words say the token or session is invalid, expired, revoked or short of scopes."""
    return bool(_CREDENTIALS_REFUSED.search(words))


def network_words(
    response: httpx.Response,
    *,
    fields: Sequence[str] = ("error_description", "error", "message"),
    secrets: Iterable[str] = (),
) -> str:
    """What the network said: the first of `fields` in a JSON object, else the body's text (HTML as text).

    Trimmed to WORDS_LIMIT, markup and control characters removed, secrets blanked: safe to store and show.
    """
    body = _json(response)
    if isinstance(body, Mapping):
        for name in fields:
            value = body.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return sanitized(str(value), secrets)
    words = body_words(response.text, response.headers.get("Content-Type", ""), secrets)
    return words or sanitized(response.reason_phrase, secrets)


def body_words(text: str, content_type: str = "", secrets: Iterable[str] = ()) -> str:
    """A body that is not JSON as words: an HTML page's title and text, or the text itself, sanitized."""
    if "html" in content_type or text.lstrip()[:1] == "<":
        text = _html_text(text)
    return sanitized(text, secrets)


def sanitized(text: str, secrets: Iterable[str] = ()) -> str:
    """One line of at most WORDS_LIMIT characters, without control characters or secrets."""
    text = " ".join(_CONTROL.sub(" ", redact(text, secrets)).split())
    return text if len(text) <= WORDS_LIMIT else text[: WORDS_LIMIT - 1] + "…"


def answer_object(response: httpx.Response, *, what: str, write: bool) -> dict[str, Any]:
    """A successful answer's JSON object.

    A server answering 2xx with anything else is having trouble (a proxy's page, a truncated body): for a
    read, ask again later; for a write, the post may exist all the same.
    """
    body = _json(response)
    if isinstance(body, dict):
        return body
    said = f"{what} answered {response.status_code} with " + (
        "something other than JSON" if body is None else "JSON that is not an object"
    )
    if write:
        raise OutcomeUnknown(said + "; the post may exist, and Crier checks")
    raise Transient(said)


@contextmanager
def reading(what: str, *, write: bool) -> Iterator[None]:
    """Read a successful answer's fields inside this block: one missing or of the wrong type is what a
    malformed answer means, not a crash.

    The KeyError, TypeError, ValueError, AttributeError or IndexError that reading such a field raises
    becomes OutcomeUnknown for a write (the server may have carried it out: Crier checks before sending
    again) and Transient for a read (asked again later), with what was wrong. Keep network calls and
    Crier's own logic out of the block: only the reading of an answer belongs in it.
    """
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        wrong = f"a field missing: {error}" if isinstance(error, KeyError) else str(error)
        said = f"{what} answered with something Crier cannot read ({sanitized(wrong)})"
        if write:
            raise OutcomeUnknown(said + "; the post may exist, and Crier checks") from error
        raise Transient(said) from error


def identifier(value: object) -> str:
    """An id as an answer gives it, a string or a whole number, as a string; TypeError for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise TypeError(f"an id must be a string or a number, not {type(value).__name__}")
    return str(value)


def required_text(value: object) -> str:
    """A field an answer must give as some text; TypeError (read inside `reading`) for anything else."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected text, not {type(value).__name__}")
    return value


def as_utc(moment: datetime) -> datetime:
    """A time as an answer gave it, taken as UTC where it names no zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class _TextOfHtml(HTMLParser):
    """The title and visible text of an error page; scripts, styles and the rest of the head left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._in_head = self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(self._skipping - 1, 0)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._skipping or (self._in_head and not self._in_title) or not data.strip():
            return
        self.parts.append(data.strip())


def _html_text(page: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(page)
        parser.close()
    except ValueError:
        return page
    # A title repeated as the first heading (nginx's "502 Bad Gateway" pages do) is said once.
    parts = [part for index, part in enumerate(parser.parts) if index == 0 or part != parser.parts[index - 1]]
    return " ".join(parts)


def storable_post(post: PublishedPost, *, what: str, write: bool) -> PublishedPost:
    """The post a network says it made, once each part's id and address are fit to store and show.

    Each id must be some text of at most POST_ID_LIMIT characters, each address empty or an http(s) URL of
    at most POST_URL_LIMIT, neither with a space or a control character: a person clicks these addresses
    and exports them, so a `javascript:` link, a header-splitting CR/LF or a megabyte of text is an answer
    Crier cannot read. For a write that means the post may exist all the same (OutcomeUnknown, and Crier
    looks for it); for a read, ask again later. Either error carries the parts before the first bad one.
    """
    parts, problem = storable_parts(post.parts)
    if problem is None:
        return post
    said = f"{what} answered with a post Crier cannot keep: {problem}"
    if write:
        raise OutcomeUnknown(said + "; the post may exist, and Crier checks", published=parts)
    raise Transient(said, published=parts)


def storable_parts(parts: Sequence[PublishedPart]) -> tuple[tuple[PublishedPart, ...], str | None]:
    """The parts up to the first that cannot be stored, and why that one cannot (None when all can)."""
    for index, part in enumerate(parts):
        problem = unstorable(part)
        if problem:
            return tuple(parts[:index]), problem
    return tuple(parts), None


def unstorable(part: PublishedPart) -> str | None:
    """Why one part's id or address cannot be stored; None when both can."""
    external_id, url = part.external_id, part.url
    if not isinstance(external_id, str) or not external_id:
        return "the post has no id"
    if len(external_id) > POST_ID_LIMIT or _NOT_IN_AN_ADDRESS.search(external_id):
        return f"the id {sanitized(external_id)[:60]!r} is too long, or has spaces or control characters"
    if not isinstance(url, str):
        return "the post's address is not text"
    return post_address_problem(url) if url else None


def post_address_problem(url: str) -> str | None:
    """Why a post's address is not one to keep, show or link to; None when it is an http(s) URL that is,
    or a Usenet article's `news:` URI (RFC 5538: news:<message-id>, which a newsreader opens)."""
    if len(url) > POST_URL_LIMIT or _NOT_IN_AN_ADDRESS.search(url):
        return f"the address {sanitized(url)[:60]!r} is too long, or has spaces or control characters"
    if url[:5].lower() == "news:":
        local, at, domain = url[5:].partition("@")
        if local and at and domain and not set("<>/") & set(url[5:]):
            return None
        return f"the address {sanitized(url)[:60]!r} is not a news: URI of an article"
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        return f"the address {sanitized(url)[:60]!r} is not an http(s) URL"
    return None


def storable_profile(profile: Profile, *, what: str) -> Profile:
    """Who the network says the credentials post as, once the account's name is fit to keep as a handle:
    some text of at most HANDLE_LIMIT characters without spaces or control characters; else Transient."""
    handle = profile.handle
    if not handle or len(handle) > HANDLE_LIMIT or _NOT_IN_AN_ADDRESS.search(handle):
        raise Transient(
            f"{what} answered with an account name Crier cannot keep ({sanitized(handle)[:60]!r}: empty, "
            "too long, or with spaces or control characters)"
        )
    return profile
