"""A Mastodon server of our own for the adapter's tests: real HTTP on 127.0.0.1, answering as Mastodon does.

It follows the Mastodon documentation (mastodon/documentation, content/en/): methods/statuses.md (post with an
Idempotency-Key kept for an hour; view one; view several with `id[]`, 4.3+; edit, 3.5+, and its history;
delete; view source),
methods/media.md (POST /api/v2/media answers 200, or 202 while processing; GET /api/v1/media/:id answers 206
until done), methods/accounts.md (verify_credentials; an account's statuses, 20 a page by default, 40 at most,
older pages by `max_id` and a Link header), methods/instance.md (GET /api/v2/instance and its
`configuration`), methods/apps.md and methods/oauth.md (register, authorize, exchange a code),
api/rate-limits.md (X-RateLimit-Limit, -Remaining and -Reset, an ISO 8601 time), entities/Status (the counts;
`quotes_count` from 4.5; no count of bookmarks, only the caller's own `bookmarked`), entities/Account
(followers_count, following_count, statuses_count, in verify_credentials too), and the error bodies
`{"error": "..."}` with 401, 404, 422 and 429. From Mastodon's source (mastodon/mastodon): the statuses limit
of app/lib/rate_limiter.rb (a count per account in fixed windows) and the 20-id cap of GET /api/v1/statuses
(Api::BaseController::DEFAULT_STATUSES_LIMIT).

Connecting an account follows methods/apps.md (POST /api/v1/apps answers the Application with its
client_id and client_secret; 422 without a name or a redirect URI), methods/oauth.md (GET /oauth/authorize
redirects the person's browser to the redirect URI with `code` and `state`, or with `error=access_denied`
when they decline; POST /oauth/token answers a Token, 400 invalid_grant for a code that is unknown, used,
expired, for another client or redirect URI, 401 invalid_client for an unknown client or a wrong secret),
and, since 4.3, PKCE: GET /.well-known/oauth-authorization-server lists `code_challenge_methods_supported`
(app/presenters/oauth_metadata_presenter.rb), and the token request must carry the verifier of the challenge
the code was authorized with. The verifier is checked as Doorkeeper, Mastodon's OAuth server, checks it
(doorkeeper-gem/doorkeeper lib/doorkeeper/oauth/authorization_code_request.rb): a code with a challenge
and no verifier is invalid_request; a wrong verifier, or a verifier for a code without a challenge, is
invalid_grant, and leaves the code usable; a server without PKCE (`pkce_supported = False`, before 4.3)
has no metadata and ignores both. The person approving is played by the test: `approve(url, account)` is
their press of "Authorize" on the page at `url`, `decline(url)` their press of "Deny"; each answers the
address the server sends the browser to.

Switches make it fail the ways a real server does: a 5xx before storing (`fail_next_posts`), storing a
status and then never answering or dropping the connection (`stall_next_posts`, `stall_mode`), storing it
and then answering as a proxy in front of it does when the server was slow (`answer_after_storing`: nginx's
502 and 504, a 503, Cloudflare's 524, each with the proxy's HTML page), either of those at random for a
share of posts (`lose_answer_rate`: each post is stored and then, with that probability, answered with one
of `lost_answers`, a proxy's status or "disconnect", drawn from `random`, which a caller may seed;
counted by kind in `answers_lost`), refusals whose body is not JSON (`failure_body`: "json" as Mastodon
writes them, "text" or "html" as proxies and other servers of the API do), media that stays processing
for some polls (`media_processing_polls`), a server older than 4.3 without the batch read (`batch_read =
False`, answering `batch_read_status`: Rails's 404 page, or the 405 or 501 other servers give), one that
ignores idempotency keys (`honours_idempotency = False`, as several servers of the Mastodon API do),
tokens granted only the read scope (`read_only_tokens`: a write answers 403 "This action is outside the
authorized scopes", Api::BaseController), an account whose writes are refused (`not_permitted`: 403 "This
action is not allowed", Mastodon::NotPermittedError), and a clock that can be moved on (`advance`) so that
keys and rate-limit windows expire. Each status keeps the Idempotency-Key it was posted with
(`idempotency_key`; None for one posted by hand), so a test can count the statuses made under one key,
even on a server that ignores keys.

The engagement inbox follows methods/notifications.md (GET /api/v1/notifications: only the caller's, 40 a
page by default and 80 at most, `types[]` and `exclude_types[]`, `max_id` and `since_id` as bounds, `min_id`
the page just above it, newest first, and a Link header with `next` by `max_id` and `prev` by `min_id`),
entities/Notification.md (`mention`, `favourite`, and `quote` from 4.5: "Someone has quoted one of your
statuses", its status the quote), entities/Status.md (`mentions`, `tags`, `in_reply_to_account_id`,
`visibility`, `quote` as a Quote whose quoted status carries a ShallowQuote), client/quotes.md (a quote's
content begins with a `quote-inline` paragraph "RE: <link>"), methods/timelines.md (the hashtag timeline,
20 a page by default and 40 at most, paged as notifications are), methods/search.md (GET /api/v2/search
with `type=statuses`, 20 by default and 40 at most, statuses only for a user token and only where the
server has full-text search, `full_text_search`) with Mastodon's app/services/statuses_search_service.rb
(results newest first, `min_id` and `max_id` bounds, then `offset`), methods/statuses.md (context: the
ancestors oldest first and the descendants in the order of the tree; favourite: 200 whether or not it was
favourited already, one favourite kept), and api/rate-limits.md (every call of an account counts, 300 in 5
minutes: `api_calls_per_window` turns the count on for the inbox's calls, answering 429 with the
X-RateLimit-* headers). Content is rendered as Mastodon renders it: paragraphs, `<br />`, mentions in an
`h-card`, hashtags, and links split into `invisible` and `ellipsis` spans. Other accounts talk to the
account with `post_by` (a mention, a reply, a private mention or a quote, notifying whom it mentions and
whom it quotes) and `favourite_by`; `on_request`, when set, is called at the start of every request, so a
test can make notifications arrive while pages are being read.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import random
import re
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request

from shared.text.mastodon import mastodon_length
from tests.networks.fake_servers import FakeServer
from tests.networks.misbehaving_proxy import proxy_error_page

SUPPORTED_MEDIA = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4")
DESCRIPTION_LIMIT = 1500
BATCH_READ_LIMIT = 20
# Doorkeeper's default, which Mastodon keeps (config/initializers/doorkeeper.rb).
AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=10)
DENIED = "The resource owner or authorization server denied the request."
INVALID_SCOPE = "The requested scope is invalid, unknown, or malformed."
UNSUPPORTED_GRANT_TYPE = "The authorization grant type is not supported by the authorization server."
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client."
)


@dataclass
class FakeAccount:
    id: str
    username: str
    display_name: str
    tokens: set[str] = field(default_factory=set)
    followers_count: int = 0
    following_count: int = 0
    # None for an account of this server; the other server's domain for one Mastodon knows from elsewhere.
    domain: str | None = None

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass
class FakeNotification:
    id: str
    type: str
    account_id: str  # whom it notifies
    from_account_id: str
    status_id: str | None
    created_at: datetime


@dataclass
class Grant:
    """An authorization code, as the server keeps it (Doorkeeper's access grant)."""

    client_id: str
    redirect_uri: str
    scope: str
    account_id: str
    expires_at: datetime
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    revoked: bool = False


class AuthorizePageError(Exception):
    """What the authorize page shows instead of redirecting: an unknown client or redirect URI."""


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    query: dict[str, list[str]] = field(default_factory=dict)


class FakeMastodon(FakeServer):
    """One Mastodon server, served in a thread on a free port of 127.0.0.1."""

    def __init__(
        self,
        *,
        max_characters: int = 500,
        url_weight: int = 23,
        statuses_per_window: int = 300,
        window: timedelta = timedelta(hours=3),
        idempotency_ttl: timedelta = timedelta(hours=1),
        application_name: str = "Crier",
        with_quotes_count: bool = True,
    ) -> None:
        self.max_characters = max_characters
        self.url_weight = url_weight
        self.statuses_per_window = statuses_per_window
        self.window = window
        self.idempotency_ttl = idempotency_ttl
        self.application_name = application_name
        self.with_quotes_count = with_quotes_count
        # Switches a test flips.
        self.batch_read = True
        self.batch_read_status = 404
        self.honours_idempotency = True
        self.fail_next_posts: list[int] = []
        self.failure_body = "json"  # or "text", "html"
        self.answer_after_storing: list[int] = []
        self.read_only_tokens: set[str] = set()
        self.not_permitted = False
        self.stall_next_posts = 0
        self.stall_mode = "timeout"  # or "disconnect"
        self.stall_seconds = 5.0
        self.lose_answer_rate = 0.0
        self.lost_answers: tuple[int | str, ...] = (502, 504, "disconnect")
        self.random = random.Random()
        self.answers_lost: Counter[int | str] = Counter()
        self.media_processing_polls = 0
        self.pkce_supported = True  # False: a server before 4.3
        self.full_text_search = True  # False: a server without Elasticsearch, whose search finds no status
        self.api_calls_per_window: int | None = None  # None: the inbox's calls are not counted
        self.api_window = timedelta(minutes=5)
        self.on_request: Callable[[RecordedRequest], None] | None = None

        self.lock = threading.RLock()
        self.offset = timedelta()
        self.accounts: dict[str, FakeAccount] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, datetime]] = {}
        self.posted_in_window: dict[tuple[str, int], int] = {}
        self.apps: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, Grant] = {}
        self.requests: list[RecordedRequest] = []
        self.notifications: list[FakeNotification] = []
        self.api_calls_in_window: Counter[tuple[str, int]] = Counter()
        self._status_counts: Counter[str] = Counter()
        self._ids = itertools.count(113_000_000_000_000_000)
        super().__init__(self._build_app())

    # -- What a test does to it ------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.offset += delta

    def add_account(self, username: str, token: str | None = None) -> FakeAccount:
        with self.lock:
            account = FakeAccount(id=str(next(self._ids)), username=username, display_name=username.title())
            account.tokens.add(token or uuid.uuid4().hex)
            self.accounts[account.id] = account
            return account

    def revoke(self, token: str) -> None:
        with self.lock:
            for account in self.accounts.values():
                account.tokens.discard(token)

    def grant_code(
        self,
        client_id: str,
        account: FakeAccount,
        redirect_uri: str,
        scope: str,
        *,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        """What the person approving Crier on the authorize page makes the server hand out."""
        code = uuid.uuid4().hex
        with self.lock:
            self.codes[code] = Grant(
                client_id=client_id,
                redirect_uri=redirect_uri,
                scope=scope,
                account_id=account.id,
                expires_at=self.now() + AUTHORIZATION_CODE_LIFETIME,
                code_challenge=code_challenge if self.pkce_supported else None,
                code_challenge_method=code_challenge_method if self.pkce_supported else None,
            )
        return code

    def approve(self, authorize_url: str, account: FakeAccount) -> str:
        """The person, signed in as `account`, presses "Authorize": where the server sends their browser."""
        query, application = self._authorize_request(authorize_url)
        redirect_uri = query["redirect_uri"]
        scope = query.get("scope", "read")
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method")
        if not set(scope.split()) <= set(application["scopes"]):
            return _redirect_with(redirect_uri, query, error="invalid_scope", error_description=INVALID_SCOPE)
        if self.pkce_supported and challenge and method != "S256":
            # Mastodon allows S256 only (pkce_code_challenge_methods in config/initializers/doorkeeper.rb).
            return _redirect_with(
                redirect_uri,
                query,
                error="invalid_request",
                error_description="The code challenge method must be S256.",
            )
        code = self.grant_code(
            application["client_id"],
            account,
            redirect_uri,
            scope,
            code_challenge=challenge,
            code_challenge_method=method,
        )
        return _redirect_with(redirect_uri, query, code=code)

    def decline(self, authorize_url: str) -> str:
        """The person presses "Deny": where the server sends their browser."""
        query, _ = self._authorize_request(authorize_url)
        return _redirect_with(query["redirect_uri"], query, error="access_denied", error_description=DENIED)

    def remove_app(self, client_id: str) -> None:
        """The server forgets an application (its admin removed it): its client id is unknown from now on."""
        with self.lock:
            self.apps.pop(client_id, None)

    def _authorize_request(self, authorize_url: str) -> tuple[dict[str, str], dict[str, Any]]:
        url = urllib.parse.urlsplit(authorize_url)
        if f"{url.scheme}://{url.netloc}" != self.base_url or url.path != "/oauth/authorize":
            raise AuthorizePageError(f"{authorize_url} is not this server's authorize page")
        query = dict(urllib.parse.parse_qsl(url.query))
        with self.lock:
            application = self.apps.get(query.get("client_id", ""))
        if query.get("response_type") != "code":
            raise AuthorizePageError("The authorization server does not support this response type.")
        if application is None:
            raise AuthorizePageError("Client authentication failed due to unknown client.")
        if query.get("redirect_uri") not in application["redirect_uris"]:
            raise AuthorizePageError(
                "The requested redirect uri is malformed or doesn't match client redirect URI."
            )
        return query, application

    def post_by_hand(
        self, account: FakeAccount, text: str, *, application: str = "Web", in_reply_to: str | None = None
    ) -> dict[str, Any]:
        """A status the person posts themself, from another app."""
        with self.lock:
            return self._store(account, {"status": text, "in_reply_to_id": in_reply_to}, [], application)

    def account_named(self, acct: str) -> FakeAccount:
        """The account with this acct (`user`, or `user@server` for one from elsewhere), made if new."""
        with self.lock:
            found = next((a for a in self.accounts.values() if a.acct == acct), None)
            if found is None:
                username, _, domain = acct.partition("@")
                found = FakeAccount(
                    id=str(next(self._ids)),
                    username=username,
                    display_name=username.title(),
                    domain=domain or None,
                )
                self.accounts[found.id] = found
            return found

    def post_by(
        self,
        acct: str,
        text: str,
        *,
        in_reply_to: str | None = None,
        visibility: str = "public",
        quoting: str | None = None,
    ) -> dict[str, Any]:
        """Another account posts: the server notifies each account the text mentions (`mention`) and the
        author of the status it quotes (`quote`). A reply notifies only if it mentions, as on Mastodon."""
        with self.lock:
            author = self.account_named(acct)
            form = {"status": text, "in_reply_to_id": in_reply_to, "visibility": visibility}
            status = self._store(author, form, [], "Web")
            for mentioned in self._mentioned(status["text"]):
                if mentioned.id != author.id:
                    self._notify("mention", mentioned.id, author.id, status["id"])
            if quoting is not None:
                quoted = self.statuses[quoting]
                status["quote_id"] = quoting
                quoted["quotes_count"] += 1
                if quoted["account_id"] != author.id:
                    self._notify("quote", quoted["account_id"], author.id, status["id"])
            return status

    def favourite_by(self, acct: str, status_id: str) -> None:
        """Another account favourites a status: its author is notified (`favourite`) the first time."""
        with self.lock:
            self._favourite(self.account_named(acct), self.statuses[status_id])

    def favourites_of(self, status_id: str) -> set[str]:
        """The ids of the accounts that favourited the status."""
        with self.lock:
            return set(self.statuses[status_id]["favourited_by"])

    def statuses_of(self, account: FakeAccount) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.statuses.values() if s["account_id"] == account.id and not s["deleted"]]

    def all_statuses(self) -> list[dict[str, Any]]:
        """Every status stored, of every account, deleted ones too, in the order they were made."""
        with self.lock:
            return [dict(status) for status in self.statuses.values()]

    def add_counts(self, status_id: str, **counts: int) -> None:
        with self.lock:
            self.statuses[status_id].update(counts)

    def requests_to(self, method: str, path_start: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_start)]

    # -- The server ------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("fake_mastodon")

        @app.before_request
        def record() -> None:
            recorded = RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                form={key: request.form.getlist(key) for key in request.form},
                query={key: request.args.getlist(key) for key in request.args},
            )
            self.requests.append(recorded)
            if self.on_request is not None:
                self.on_request(recorded)

        @app.get("/api/v2/instance")
        def instance() -> Response:
            return jsonify(
                {
                    "domain": request.host,
                    "title": "Fake Mastodon",
                    "version": "4.3.0",
                    "configuration": {
                        "statuses": {
                            "max_characters": self.max_characters,
                            "max_media_attachments": 4,
                            "characters_reserved_per_url": self.url_weight,
                        },
                        "media_attachments": {
                            "supported_mime_types": list(SUPPORTED_MEDIA),
                            "description_limit": DESCRIPTION_LIMIT,
                            "image_size_limit": 16 * 1024 * 1024,
                            "video_size_limit": 99 * 1024 * 1024,
                        },
                    },
                }
            )

        @app.get("/api/v1/accounts/verify_credentials")
        def verify_credentials() -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            return jsonify(self._account_json(account) | {"source": {"privacy": "public", "language": ""}})

        @app.get("/api/v1/apps/verify_credentials")
        def app_credentials() -> Response:
            if self._authenticated() is None:
                return _invalid_token()
            return jsonify({"name": self.application_name, "website": None, "scopes": ["read", "write"]})

        @app.get("/api/v1/accounts/<account_id>/statuses")
        def account_statuses(account_id: str) -> Response:
            if self._authenticated() is None:
                return _invalid_token()
            with self.lock:
                account = self.accounts.get(account_id)
                if account is None:
                    return _error(404, "Record not found")
                limit = min(int(request.args.get("limit", 20)), 40)
                max_id = request.args.get("max_id")
                mine = sorted(
                    (s for s in self.statuses_of(account) if max_id is None or int(s["id"]) < int(max_id)),
                    key=lambda s: int(s["id"]),
                    reverse=True,
                )[:limit]
                response = jsonify([self._status_json(s) for s in mine])
            if len(mine) == limit:
                response.headers["Link"] = (
                    f'<{request.base_url}?limit={limit}&max_id={mine[-1]["id"]}>; rel="next"'
                )
            return response

        @app.post("/api/v1/statuses")
        def create_status() -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            key = request.headers.get("Idempotency-Key")
            if self._token() in self.read_only_tokens:
                return _error(403, "This action is outside the authorized scopes")
            if self.not_permitted:
                return _error(403, "This action is not allowed")
            with self.lock:
                if self.fail_next_posts:
                    return self._failure(self.fail_next_posts.pop(0))
                if key and self.honours_idempotency:
                    earlier = self.idempotency.get((account.id, key))
                    if earlier and self.now() - earlier[1] < self.idempotency_ttl:
                        return jsonify(self._status_json(self.statuses[earlier[0]]))
                window = int(self.now().timestamp()) // int(self.window.total_seconds())
                posted = self.posted_in_window.get((account.id, window), 0)
                headers = self._rate_headers(window, posted)
                if posted >= self.statuses_per_window:
                    response = _error(429, "Too many requests")
                    response.headers.update(headers | {"X-RateLimit-Remaining": "0"})
                    return response
                text = request.form.get("status", "")
                spoiler = request.form.get("spoiler_text", "")
                media_ids = request.form.getlist("media_ids[]")
                problem = self._status_problem(account, text, spoiler, media_ids)
                if problem is not None:
                    return problem
                status = self._store(account, request.form, media_ids, self.application_name, key=key)
                self.posted_in_window[(account.id, window)] = posted + 1
                if key:
                    self.idempotency[(account.id, key)] = (status["id"], self.now())
                stall = self.stall_next_posts > 0
                if stall:
                    self.stall_next_posts -= 1
                proxy_answer = self.answer_after_storing.pop(0) if self.answer_after_storing else None
                lost = self._lost_answer() if proxy_answer is None and not stall else None
                body = self._status_json(status)
            if lost == "disconnect":
                self.hang_up()
            elif lost is not None:
                return _proxy_page(int(lost))
            if proxy_answer is not None:
                return _proxy_page(proxy_answer)
            if stall:
                self._stall()
            response = jsonify(body)
            response.headers.update(self._rate_headers(window, posted + 1))
            return response

        @app.get("/api/v1/statuses")
        def statuses_batch() -> Response:
            if not self.batch_read:
                # Before 4.3 there is no such route: Rails answers its not-found page; other servers of the
                # API answer 405 Method Not Allowed or 501 Not Implemented, in plain text.
                if self.batch_read_status == 404:
                    return Response(
                        "<html><body>The page you are looking for isn't here.</body></html>",
                        404,
                        content_type="text/html",
                    )
                return Response("Not Implemented", self.batch_read_status, content_type="text/plain")
            if self._authenticated() is None:
                return _invalid_token()
            ids = list(dict.fromkeys(request.args.getlist("id[]")))
            if len(ids) > BATCH_READ_LIMIT:
                return _error(422, "Mastodon::ValidationError")
            with self.lock:
                found = [
                    self.statuses[i] for i in ids if i in self.statuses and not self.statuses[i]["deleted"]
                ]
                return jsonify([self._status_json(s) for s in found])

        @app.get("/api/v1/statuses/<status_id>")
        def show_status(status_id: str) -> Response:
            with self.lock:
                status = self._visible(status_id)
                return jsonify(self._status_json(status)) if status else _error(404, "Record not found")

        @app.get("/api/v1/statuses/<status_id>/source")
        def status_source(status_id: str) -> Response:
            if self._authenticated() is None:
                return _invalid_token()
            with self.lock:
                status = self._visible(status_id)
                if status is None:
                    return _error(404, "Record not found")
                return jsonify(
                    {"id": status["id"], "text": status["text"], "spoiler_text": status["spoiler_text"]}
                )

        @app.put("/api/v1/statuses/<status_id>")
        def edit_status(status_id: str) -> Response:
            # methods/statuses#edit (3.5+): the status with its new text and `edited_at`; each edit is kept
            # in its history (GET .../history), the previous version first. Media are kept when the edit
            # names none (UpdateStatusService), and an edit without spoiler_text removes the warning.
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            with self.lock:
                if self.fail_next_posts:
                    return self._failure(self.fail_next_posts.pop(0))
                status = self._visible(status_id)
                if status is None or status["account_id"] != account.id:
                    return _error(404, "Record not found")
                text = request.form.get("status", "")
                spoiler = request.form.get("spoiler_text", "")
                problem = self._status_problem(account, text, spoiler, status["media_ids"])
                if problem is not None:
                    return problem
                status.setdefault("history", []).append(
                    {
                        "content": status["text"],
                        "spoiler_text": status["spoiler_text"],
                        "created_at": self.now(),
                    }
                )
                status["text"], status["spoiler_text"] = text.strip(), spoiler.strip()
                status["language"] = request.form.get("language") or status["language"]
                status["edited_at"] = self.now()
                proxy_answer = self.answer_after_storing.pop(0) if self.answer_after_storing else None
                body = self._status_json(status)
            if proxy_answer is not None:
                return _proxy_page(proxy_answer)
            return jsonify(body)

        @app.get("/api/v1/statuses/<status_id>/history")
        def status_history(status_id: str) -> Response:
            with self.lock:
                status = self._visible(status_id)
                if status is None:
                    return _error(404, "Record not found")
                versions = [
                    *status.get("history", []),
                    {
                        "content": status["text"],
                        "spoiler_text": status["spoiler_text"],
                        "created_at": status.get("edited_at") or status["created_at"],
                    },
                ]
                return jsonify(
                    [
                        {
                            "content": f"<p>{html.escape(version['content'])}</p>",
                            "spoiler_text": version["spoiler_text"],
                            "created_at": version["created_at"]
                            .isoformat(timespec="milliseconds")
                            .replace("+00:00", "Z"),
                        }
                        for version in versions
                    ]
                )

        @app.delete("/api/v1/statuses/<status_id>")
        def delete_status(status_id: str) -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            with self.lock:
                status = self._visible(status_id)
                if status is None or status["account_id"] != account.id:
                    return _error(404, "Record not found")
                status["deleted"] = True
                self._status_counts[account.id] -= 1
                return jsonify(self._status_json(status) | {"text": status["text"]})

        @app.post("/api/v2/media")
        def upload_media() -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            upload = request.files.get("file")
            if upload is None:
                return _error(422, "Validation failed: File can't be blank")
            if upload.mimetype not in SUPPORTED_MEDIA:
                return _error(422, "Validation failed: File content type is invalid, File is invalid")
            description = request.form.get("description", "")
            if len(description) > DESCRIPTION_LIMIT:
                return _error(
                    422,
                    f"Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)",
                )
            with self.lock:
                media_id = str(next(self._ids))
                media: dict[str, Any] = {
                    "id": media_id,
                    "account_id": account.id,
                    "type": "video" if upload.mimetype.startswith("video/") else "image",
                    "description": description or None,
                    "size": len(upload.read()),
                    "pending_polls": self.media_processing_polls,
                    "url": f"{self.base_url}/system/media/{media_id}.bin",
                }
                self.media[media_id] = media
                response = jsonify(self._media_json(media))
                response.status_code = 202 if media["pending_polls"] > 0 else 200
                return response

        @app.get("/api/v1/media/<media_id>")
        def show_media(media_id: str) -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            with self.lock:
                media = self.media.get(media_id)
                if media is None or media["account_id"] != account.id:
                    return _error(404, "Record not found")
                if media["pending_polls"] > 0:
                    media["pending_polls"] -= 1
                    return Response("", 206)
                return jsonify(self._media_json(media))

        @app.get("/api/v1/notifications")
        def notifications() -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            limited = self._api_limited(account)
            if limited is not None:
                return limited
            types = set(request.args.getlist("types[]"))
            excluded = set(request.args.getlist("exclude_types[]"))
            with self.lock:
                mine = [
                    n
                    for n in self.notifications
                    if n.account_id == account.id
                    and (not types or n.type in types)
                    and n.type not in excluded
                    # Mastodon removes a status's notifications with it.
                    and (n.status_id is None or self._visible(n.status_id) is not None)
                ]
                page, link = self._paged(mine, lambda n: n.id, default=40, most=80)
                response = jsonify([self._notification_json(n) for n in page])
            if link:
                response.headers["Link"] = link
            return response

        @app.get("/api/v1/timelines/tag/<hashtag>")
        def tag_timeline(hashtag: str) -> Response:
            account = self._authenticated()
            limited = self._api_limited(account) if account is not None else None
            if limited is not None:
                return limited
            with self.lock:
                tagged = [
                    status
                    for status in self.statuses.values()
                    if not status["deleted"]
                    and status["visibility"] == "public"
                    and hashtag.lower() in (name.lower() for name in _tags_of(status["text"]))
                ]
                page, link = self._paged(tagged, lambda status: status["id"], default=20, most=40)
                response = jsonify([self._status_json(status) for status in page])
            if link:
                response.headers["Link"] = link
            return response

        @app.get("/api/v2/search")
        def search() -> Response:
            account = self._authenticated()
            if request.headers.get("Authorization") and account is None:
                return _invalid_token()
            limited = self._api_limited(account) if account is not None else None
            if limited is not None:
                return limited
            query = (request.args.get("q") or "").strip()
            if not query:
                return _error(400, "param is missing or the value is empty: q")
            limit = max(1, min(int(request.args.get("limit", 20)), 40))
            offset = int(request.args.get("offset", 0))
            max_id, min_id = request.args.get("max_id"), request.args.get("min_id")
            words = query.casefold().split()
            # The bounds become `before:` and `after:` times, to the second (statuses_search_service.rb).
            before, after = self._second_of(max_id), self._second_of(min_id)
            found: list[dict[str, Any]] = []
            # Statuses are searched only with Elasticsearch, and only for a signed-in user.
            if (
                self.full_text_search
                and account is not None
                and request.args.get("type") in (None, "statuses")
            ):
                with self.lock:
                    found = sorted(
                        (
                            status
                            for status in self.statuses.values()
                            if not status["deleted"]
                            and status["visibility"] == "public"
                            and all(word in status["text"].casefold() for word in words)
                            and (before is None or status["created_at"] < before)
                            and (after is None or status["created_at"] > after)
                        ),
                        key=lambda status: int(status["id"]),
                        reverse=True,
                    )[offset : offset + limit]
                    statuses = [self._status_json(status) for status in found]
            else:
                statuses = []
            return jsonify({"accounts": [], "statuses": statuses, "hashtags": []})

        @app.post("/api/v1/statuses/<status_id>/favourite")
        def favourite(status_id: str) -> Response:
            account = self._authenticated()
            if account is None:
                return _invalid_token()
            limited = self._api_limited(account)
            if limited is not None:
                return limited
            with self.lock:
                status = self._visible(status_id)
                if status is None:
                    return _error(404, "Record not found")
                self._favourite(account, status)
                proxy_answer = self.answer_after_storing.pop(0) if self.answer_after_storing else None
                body = self._status_json(status) | {"favourited": True}
            if proxy_answer is not None:
                return _proxy_page(proxy_answer)
            return jsonify(body)

        @app.get("/api/v1/statuses/<status_id>/context")
        def context(status_id: str) -> Response:
            account = self._authenticated()
            limited = self._api_limited(account) if account is not None else None
            if limited is not None:
                return limited
            with self.lock:
                status = self._visible(status_id)
                if status is None:
                    return _error(404, "Record not found")
                return jsonify(self._context(status))

        @app.post("/api/v1/apps")
        def create_app() -> Response:
            values = request.get_json(silent=True) or request.form
            name, redirect_uris = values.get("client_name"), values.get("redirect_uris")
            if not name:
                return _error(422, "Validation failed: Application name can't be blank")
            if not redirect_uris:
                return _error(422, "Validation failed: Redirect URI can't be blank")
            application: dict[str, Any] = {
                "id": str(next(self._ids)),
                "name": name,
                "website": values.get("website"),
                "scopes": (values.get("scopes") or "read").split(),
                "redirect_uri": redirect_uris,
                "redirect_uris": [redirect_uris],
                "client_id": uuid.uuid4().hex,
                "client_secret": uuid.uuid4().hex,
                "client_secret_expires_at": 0,
            }
            with self.lock:
                self.apps[application["client_id"]] = application
            return jsonify(application)

        @app.get("/.well-known/oauth-authorization-server")
        def server_metadata() -> Response:
            if not self.pkce_supported:
                return Response("<html><body>The page you are looking for isn't here.</body></html>", 404)
            root = request.host_url
            return jsonify(
                {
                    "issuer": root,
                    "service_documentation": "https://docs.joinmastodon.org/",
                    "authorization_endpoint": f"{root}oauth/authorize",
                    "token_endpoint": f"{root}oauth/token",
                    "app_registration_endpoint": f"{root}api/v1/apps",
                    "revocation_endpoint": f"{root}oauth/revoke",
                    "scopes_supported": ["read", "write", "follow", "push"],
                    "response_types_supported": ["code"],
                    "response_modes_supported": ["query", "fragment", "form_post"],
                    "grant_types_supported": ["authorization_code", "password", "client_credentials"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        @app.post("/oauth/token")
        def token() -> Response:
            values = request.form
            with self.lock:
                grant = self.codes.get(values.get("code", ""))
                verifier = values.get("code_verifier") or None
                if values.get("grant_type") != "authorization_code":
                    return _oauth_error(400, "unsupported_grant_type", UNSUPPORTED_GRANT_TYPE)
                if grant is not None and grant.code_challenge and verifier is None:
                    return _oauth_error(400, "invalid_request", "Missing required parameter: code_verifier.")
                if not values.get("redirect_uri"):
                    return _oauth_error(400, "invalid_request", "Missing required parameter: redirect_uri.")
                application = self.apps.get(values.get("client_id", ""))
                if application is None or application["client_secret"] != values.get("client_secret"):
                    return _oauth_error(
                        401,
                        "invalid_client",
                        "Client authentication failed due to unknown client, no client authentication "
                        "included, or unsupported authentication method.",
                    )
                if (
                    grant is None
                    or grant.client_id != application["client_id"]
                    or grant.revoked
                    or grant.expires_at <= self.now()
                    or grant.redirect_uri != values.get("redirect_uri")
                    or not self._verifier_matches(grant, verifier)
                ):
                    return _oauth_error(400, "invalid_grant", INVALID_GRANT)
                grant.revoked = True
                access_token = uuid.uuid4().hex
                self.accounts[grant.account_id].tokens.add(access_token)
                return jsonify(
                    {
                        "access_token": access_token,
                        "token_type": "Bearer",
                        "scope": grant.scope,
                        "created_at": int(self.now().timestamp()),
                    }
                )

        return app

    # -- Inside the server -----------------------------------------------------------------------------

    def _verifier_matches(self, grant: Grant, verifier: str | None) -> bool:
        if not self.pkce_supported:
            return True
        if verifier is None:
            return grant.code_challenge is None
        # RFC 7636 section 4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge.
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return grant.code_challenge_method == "S256" and grant.code_challenge == (
            base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        )

    @staticmethod
    def _token() -> str:
        header = request.headers.get("Authorization", "")
        return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""

    def _failure(self, status: int) -> Response:
        """A refusal before anything was stored, with the body `failure_body` asks for."""
        if self.failure_body == "html":
            return _proxy_page(status)
        if self.failure_body == "text":
            return Response(f"{status} Service Unavailable\r\n", status, content_type="text/plain")
        return _error(status, "Service Unavailable")

    def _authenticated(self) -> FakeAccount | None:
        token = self._token()
        with self.lock:
            return next((a for a in self.accounts.values() if token and token in a.tokens), None)

    def _rate_headers(self, window: int, posted: int) -> dict[str, str]:
        period = int(self.window.total_seconds())
        reset = datetime.fromtimestamp((window + 1) * period, UTC)
        return {
            "X-RateLimit-Limit": str(self.statuses_per_window),
            "X-RateLimit-Remaining": str(max(self.statuses_per_window - posted, 0)),
            "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }

    def _status_problem(
        self, account: FakeAccount, text: str, spoiler: str, media_ids: list[str]
    ) -> Response | None:
        if not text.strip() and not media_ids:
            return _error(422, "Validation failed: Text can't be blank")
        length = mastodon_length(text, content_warning=spoiler, url_weight=self.url_weight)
        if length > self.max_characters:
            return _error(422, f"Validation failed: Text character limit of {self.max_characters} exceeded")
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media["account_id"] != account.id:
                return _error(422, "Validation failed: Media attachments are invalid")
            if media["pending_polls"] > 0:
                return _error(
                    422, "Cannot attach files that have not finished processing. Try again in a moment!"
                )
        reply_to = request.form.get("in_reply_to_id")
        if reply_to and self._visible(reply_to) is None:
            return _error(404, "The post you are trying to reply to does not appear to exist.")
        return None

    def _store(
        self,
        account: FakeAccount,
        form: Any,
        media_ids: list[str],
        application: str,
        *,
        key: str | None = None,
    ) -> dict[str, Any]:
        status_id = str(next(self._ids))
        reply_to = form.get("in_reply_to_id") or None
        status: dict[str, Any] = {
            "id": status_id,
            "account_id": account.id,
            "created_at": self.now(),
            "text": (form.get("status") or "").strip(),
            "spoiler_text": (form.get("spoiler_text") or "").strip(),
            "visibility": form.get("visibility") or "public",
            "language": form.get("language") or "en",
            "in_reply_to_id": reply_to,
            "media_ids": list(media_ids),
            "application": application,
            "idempotency_key": key,
            "favourites_count": 0,
            "reblogs_count": 0,
            "replies_count": 0,
            "quotes_count": 0,
            "favourited_by": set(),
            "quote_id": None,
            "deleted": False,
        }
        if reply_to:
            self.statuses[reply_to]["replies_count"] += 1
        self.statuses[status_id] = status
        self._status_counts[account.id] += 1
        return status

    def _notify(self, kind: str, account_id: str, from_account_id: str, status_id: str | None) -> None:
        self.notifications.append(
            FakeNotification(
                id=str(next(self._ids)),
                type=kind,
                account_id=account_id,
                from_account_id=from_account_id,
                status_id=status_id,
                created_at=self.now(),
            )
        )

    def _mentioned(self, text: str) -> list[FakeAccount]:
        """The accounts the text mentions and the server knows, as ProcessMentionsService finds them."""
        named = {match.group(1).lower() for match in _MENTION.finditer(text)}
        return [account for account in self.accounts.values() if account.acct.lower() in named]

    def _favourite(self, account: FakeAccount, status: dict[str, Any]) -> None:
        if account.id in status["favourited_by"]:
            return  # Mastodon keeps one favourite: a second is answered alike and changes nothing
        status["favourited_by"].add(account.id)
        status["favourites_count"] += 1
        if status["account_id"] != account.id:
            self._notify("favourite", status["account_id"], account.id, status["id"])

    def _api_limited(self, account: FakeAccount) -> Response | None:
        """A 429 once the account has made `api_calls_per_window` calls in the window (api/rate-limits)."""
        if self.api_calls_per_window is None:
            return None
        period = int(self.api_window.total_seconds())
        window = int(self.now().timestamp()) // period
        with self.lock:
            self.api_calls_in_window[(account.id, window)] += 1
            made = self.api_calls_in_window[(account.id, window)]
        reset = datetime.fromtimestamp((window + 1) * period, UTC)
        headers = {
            "X-RateLimit-Limit": str(self.api_calls_per_window),
            "X-RateLimit-Remaining": str(max(self.api_calls_per_window - made, 0)),
            "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }
        if made <= self.api_calls_per_window:
            return None
        response = _error(429, "Too many requests")
        response.headers.update(headers)
        return response

    def _paged(
        self, items: list[Any], id_of: Callable[[Any], str], default: int, most: int
    ) -> tuple[list[Any], str]:
        """One page of `items` as Mastodon pages by id (api/guidelines#pagination), and its Link header.

        `max_id` and `since_id` bound the ids; `min_id` bounds them too and takes the page just above it
        rather than the newest. The page is always newest first.
        """
        limit = max(1, min(int(request.args.get("limit", default)), most))
        max_id, since_id, min_id = (request.args.get(name) for name in ("max_id", "since_id", "min_id"))
        within = [
            item
            for item in items
            if (max_id is None or int(id_of(item)) < int(max_id))
            and (since_id is None or int(id_of(item)) > int(since_id))
            and (min_id is None or int(id_of(item)) > int(min_id))
        ]
        within.sort(key=lambda item: int(id_of(item)))
        page = within[:limit][::-1] if min_id is not None else within[::-1][:limit]
        if not page:
            return page, ""
        kept = [
            (key, value)
            for key, values in request.args.lists()
            if key not in ("max_id", "since_id", "min_id")
            for value in values
        ]

        def link(**bound: str) -> str:
            return f"{request.base_url}?{urllib.parse.urlencode([*kept, *bound.items()])}"

        return page, (
            f'<{link(max_id=id_of(page[-1]))}>; rel="next", <{link(min_id=id_of(page[0]))}>; rel="prev"'
        )

    def _second_of(self, status_id: str | None) -> datetime | None:
        """When a status was made, to the second, as Mastodon reads it from a Snowflake id; 0 is the epoch."""
        if status_id is None:
            return None
        status = self.statuses.get(status_id)
        made = status["created_at"] if status is not None else datetime.fromtimestamp(0, UTC)
        return made.replace(microsecond=0)

    def _context(self, status: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        ancestors = []
        parent = status["in_reply_to_id"]
        while parent is not None and self._visible(parent) is not None:
            ancestors.append(self.statuses[parent])
            parent = self.statuses[parent]["in_reply_to_id"]
        children: dict[str, list[dict[str, Any]]] = {}
        for each in self.statuses.values():
            if each["in_reply_to_id"] is not None and not each["deleted"]:
                children.setdefault(each["in_reply_to_id"], []).append(each)
        descendants: list[dict[str, Any]] = []

        def below(status_id: str) -> None:
            for child in sorted(children.get(status_id, []), key=lambda each: int(each["id"])):
                descendants.append(child)
                below(child["id"])

        below(status["id"])
        return {
            "ancestors": [self._status_json(each) for each in reversed(ancestors)],
            "descendants": [self._status_json(each) for each in descendants],
        }

    def _stall(self) -> None:
        if self.stall_mode == "disconnect":
            self.hang_up()
            return
        self.stall(self.stall_seconds)

    def _lost_answer(self) -> int | str | None:
        """What answers a stored post instead of the status, drawn at `lose_answer_rate`; None: the status."""
        if not self.lose_answer_rate or self.random.random() >= self.lose_answer_rate:
            return None
        lost = self.random.choice(self.lost_answers)
        self.answers_lost[lost] += 1
        return lost

    def _visible(self, status_id: str) -> dict[str, Any] | None:
        status = self.statuses.get(status_id)
        return status if status is not None and not status["deleted"] else None

    def _account_json(self, account: FakeAccount) -> dict[str, Any]:
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.acct,
            "display_name": account.display_name,
            "url": f"{self.base_url}/@{account.acct}",
            "followers_count": account.followers_count,
            "following_count": account.following_count,
            "statuses_count": self._status_counts[account.id],
            "avatar": f"{self.base_url}/avatars/{account.username}.png",
        }

    def _notification_json(self, notification: FakeNotification) -> dict[str, Any]:
        status = self.statuses.get(notification.status_id or "")
        return {
            "id": notification.id,
            "type": notification.type,
            "group_key": f"ungrouped-{notification.id}",
            "created_at": notification.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "account": self._account_json(self.accounts[notification.from_account_id]),
            "status": self._status_json(status) if status is not None else None,
        }

    def _content(self, status: dict[str, Any]) -> str:
        """The status's text as Mastodon's TextFormatter renders it, after a quote's fallback paragraph."""
        paragraphs = [
            "<br />".join(self._linked(line) for line in paragraph.split("\n"))
            for paragraph in re.split(r"\n\s*\n", status["text"])
        ]
        fallback = ""
        if status.get("quote_id"):
            quoted = self.statuses[status["quote_id"]]
            address = f"{self.base_url}/@{self.accounts[quoted['account_id']].acct}/{quoted['id']}"
            fallback = f'<p class="quote-inline">RE: <a href="{address}">{html.escape(address)}</a></p>'
        return fallback + "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)

    def _linked(self, line: str) -> str:
        rendered, end = [], 0
        for match in _ENTITY.finditer(line):
            rendered.append(html.escape(line[end : match.start(1)]))
            end = match.end(1)
            entity = match.group(1)
            if entity.startswith("#"):
                name = entity[1:]
                rendered.append(
                    f'<a href="{self.base_url}/tags/{name.lower()}" class="mention hashtag" rel="tag">'
                    f"#<span>{html.escape(name)}</span></a>"
                )
            elif entity.startswith("@"):
                acct = entity[1:]
                rendered.append(
                    f'<span class="h-card" translate="no"><a href="{self.base_url}/@{html.escape(acct)}" '
                    f'class="u-url mention">@<span>{html.escape(acct.split("@")[0])}</span></a></span>'
                )
            else:
                scheme, rest = entity.split("://", 1)
                shown, hidden = rest[:30], rest[30:]
                rendered.append(
                    f'<a href="{html.escape(entity)}" target="_blank" rel="nofollow noopener" translate="no">'
                    f'<span class="invisible">{scheme}://</span>'
                    f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                    f'<span class="invisible">{html.escape(hidden)}</span></a>'
                )
        rendered.append(html.escape(line[end:]))
        return "".join(rendered)

    def _status_json(self, status: dict[str, Any], *, nested: bool = False) -> dict[str, Any]:
        account = self.accounts[status["account_id"]]
        body = {
            "id": status["id"],
            "created_at": status["created_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": status["in_reply_to_id"],
            "in_reply_to_account_id": (
                self.statuses[status["in_reply_to_id"]]["account_id"] if status["in_reply_to_id"] else None
            ),
            "sensitive": bool(status["spoiler_text"]),
            "spoiler_text": status["spoiler_text"],
            "visibility": status["visibility"],
            "language": status["language"],
            "uri": f"{self.base_url}/users/{account.username}/statuses/{status['id']}",
            "url": f"{self.base_url}/@{account.username}/{status['id']}",
            "replies_count": status["replies_count"],
            "reblogs_count": status["reblogs_count"],
            "favourites_count": status["favourites_count"],
            "content": self._content(status),
            "reblog": None,
            "edited_at": (
                status["edited_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
                if status.get("edited_at")
                else None
            ),
            "application": {"name": status["application"], "website": None},
            "account": self._account_json(account),
            "media_attachments": [self._media_json(self.media[i]) for i in status["media_ids"]],
            "mentions": [
                {"id": a.id, "username": a.username, "acct": a.acct, "url": f"{self.base_url}/@{a.acct}"}
                for a in self._mentioned(status["text"])
            ],
            "tags": [
                {"name": name.lower(), "url": f"{self.base_url}/tags/{name.lower()}"}
                for name in _tags_of(status["text"])
            ],
            "quote": self._quote_json(status, nested=nested),
            "emojis": [],
            "card": None,
            "poll": None,
        }
        if self.with_quotes_count:
            body["quotes_count"] = status["quotes_count"]
        return body

    def _quote_json(self, status: dict[str, Any], *, nested: bool) -> dict[str, Any] | None:
        """A Quote, or inside a quoted status a ShallowQuote (entities/Quote.md, ShallowQuote.md)."""
        quoted = self._visible(status["quote_id"]) if status.get("quote_id") else None
        if not status.get("quote_id"):
            return None
        if quoted is None:
            return {"state": "deleted", "quoted_status": None} if not nested else None
        if nested:
            return {"state": "accepted", "quoted_status_id": quoted["id"]}
        return {"state": "accepted", "quoted_status": self._status_json(quoted, nested=True)}

    @staticmethod
    def _media_json(media: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": media["id"],
            "type": media["type"],
            "url": None if media["pending_polls"] > 0 else media["url"],
            "preview_url": media["url"],
            "description": media["description"],
        }


# A mention (`@user` or `@user@server`), a hashtag or a link, where Mastodon's extractor finds one.
_MENTION = re.compile(r"(?<![\w/@])@(\w+(?:@[\w.-]+\w)?)")
_HASHTAG = re.compile(r"(?:^|(?<=[^/)\w]))#(\w*[^\W\d_]\w*)")
_ENTITY = re.compile(r"(?:^|(?<=[\s(]))(https?://[^\s<>\"]+|@\w+(?:@[\w.-]+\w)?|#\w*[^\W\d_]\w*)")


def _tags_of(text: str) -> list[str]:
    return list(dict.fromkeys(match.group(1) for match in _HASHTAG.finditer(text)))


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _proxy_page(status: int) -> Response:
    """What nginx or Cloudflare in front of the server answers when the server did not answer them in time."""
    page = proxy_error_page(status)
    return Response(page.body, status, content_type=page.content_type, headers=dict(page.headers))


def _invalid_token() -> Response:
    return _error(401, "The access token is invalid")


def _redirect_with(redirect_uri: str, query: dict[str, str], **parameters: str) -> str:
    """The redirect URI with the answer's parameters, and the request's state returned unchanged."""
    if "state" in query:
        parameters["state"] = query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urllib.parse.urlencode(parameters)}"


def _oauth_error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def serve() -> Iterator[FakeMastodon]:
    """A started server, stopped afterwards: the body of a pytest fixture."""
    server = FakeMastodon().start()
    try:
        yield server
    finally:
        server.stop()
