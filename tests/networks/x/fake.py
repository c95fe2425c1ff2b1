"""An X API v2 of our own for the adapter's tests: real HTTP on 127.0.0.1, answering as X documents.

It follows X's documentation at docs.x.com (the X API v2 reference, OpenAPI document version 2.16x, read
December 2026): posts/manage-tweets (POST /2/tweets: text, media.media_ids, reply.in_reply_to_tweet_id;
201 with data.id, data.text and edit_history_tweet_ids; DELETE /2/tweets/:id answering data.deleted),
posts/lookup (GET /2/tweets?ids=, at most 100, with tweet.fields; a missing post as an `errors` item of type
https://api.twitter.com/2/problems/resource-not-found beside the `data` of the others), users/lookup
(GET /2/users/me, user.fields=public_metrics), posts/timelines (GET /2/users/:id/tweets, newest first,
start_time, max_results 5 to 100, pagination_token and meta.next_token), media (POST /2/media/upload for an
image; POST /2/media/upload/initialize, /{id}/append, /{id}/finalize for GIFs and videos, then GET
/2/media/upload?command=STATUS while processing_info says pending or in_progress; POST /2/media/metadata
for alt text of at most 1000 characters), fundamentals/data-dictionary (a post's text keeps each URL as a
t.co link listed in entities.urls with its expanded_url, escapes &, < and > as HTML entities, and ends with
a t.co link to its media; public_metrics: retweet_count, reply_count, like_count, quote_count,
bookmark_count, impression_count), fundamentals/rate-limits (x-rate-limit-limit, -remaining, -reset in epoch
seconds per 15-minute window; x-user-limit-24hour-* on posting; 429 with a problem body),
fundamentals/response-codes-and-errors (problem details; 401 Unauthorized for a missing, unknown or expired
token; 403 client-forbidden with reason client-not-enrolled), fundamentals/counting-characters (a text over
280 weighted characters is refused), the inbox's endpoints (posts/timelines: GET /2/users/:id/mentions,
newest first, since_id, until_id, pagination_token, max_results 5 to 100, the 800 most recent mentions;
posts/search: GET /2/tweets/search/recent, the last seven days, a query of at most 512 characters,
max_results 10 to 100, since_id (refused, 400 invalid-request naming it in `errors`, when older than the
seven days), next_token or pagination_token, and "the next_token does not expire":
the same token gives the same page; fundamentals/fields and expansions: tweet.fields conversation_id,
in_reply_to_user_id, referenced_tweets (replied_to, quoted), entities.mentions, expansions author_id and
referenced_tweets.id into `includes`, user.fields profile_image_url; fundamentals/conversation-id: a
reply's conversation_id is its conversation's first post, and conversation_id: is a search operator;
posts/likes: POST /2/users/:id/likes {tweet_id} answering data.liked; posts/hide-replies: PUT
/2/tweets/:id/hidden {hidden}, only in a conversation the user started, hiding a hidden reply again
succeeding), and OAuth 2.0 Authorization Code with PKCE
(resources/fundamentals/authentication/oauth-2-0: the authorize page, POST /2/oauth2/token with HTTP Basic
for a confidential client, S256 challenges, access tokens of 7200 s, and refresh tokens that work once:
each refresh answers a new pair, and the old refresh token is then refused with 400 invalid_request).

A reply to another user's post starts with their @name, as X fills in a reply's mentions (POST /2/tweets
takes reply.exclude_reply_user_ids to leave some out). X does not document the words of a like of a missing
post or of hiding a reply elsewhere: the fake answers 404 resource-not-found and 403 in words of its own.

The duplicate refusal (403 "You are not allowed to create a Tweet with duplicate content.") and the words of
the 403s for a text too long and a reply to a missing post are X's as its API answers them; X documents no
duplicate window, so the fake's is a setting (`duplicate_window`, a day by default). Deleting a post that is
not there is answered 404 with a resource-not-found problem.

Switches make it fail the ways a real service and the proxies before it do: a 5xx before storing
(`fail_next_posts`, its body as problem JSON, plain text or a proxy's HTML page), a post stored and then its
answer lost (`lose_next_answers`: a proxy's 502 or 504 page, a hang-up, a stall until the client gives up,
or a 200 that is not JSON), a spent 24-hour limit or window (`user_day_limit`, `window_limit`), a 429 with no
reset header (`rate_headers = False`), an app not enrolled in a project (`client_not_enrolled`), media that
stays processing or fails (`media_processing_polls`, `media_fails`), media expired before the post names it
(`media_expires_at_once`), a token answer lost after X issued the pair (`lose_next_token_answers`),
metrics X no longer gives (`retired_metrics`), a clock that can be moved on (`advance`), a read window
spent (`read_window_limit`, answered 429 with x-rate-limit-* like every read), a shorter reach of the
mentions timeline (`mentions_reach`), and posts arriving while a page is read (`while_reading`, called
before the page is chosen and again after). `likes` holds who liked what.

`token_exchanges` counts the token endpoint's successful answers (codes and refreshes alike), `refreshes`
the refreshes alone, so a test can assert that one renewal happened.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import re
import secrets
import threading
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from twitter_text import extract_urls_with_indices

from shared.text.x import X_LIMIT, x_length
from tests.networks.fake_servers import FakeServer
from tests.networks.misbehaving_proxy import proxy_error_page

PROBLEMS = "https://api.twitter.com/2/problems/"
ACCESS_TOKEN_SECONDS = 7200
CODE_LIFETIME = timedelta(seconds=30)
WINDOW = timedelta(minutes=15)
DAY = timedelta(hours=24)
# Recent search finds posts of the last seven days; the mentions timeline reaches the 800 most recent.
RECENT = timedelta(days=7)
MENTIONS_REACH = 800
QUERY_LIMIT = 512
MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
ALL_METRICS = (
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = (
    "Your Tweet text is too long. For more information on how X determines text length see "
    "https://github.com/twitter/twitter-text."
)
REPLY_TO_MISSING = "You attempted to reply to a Tweet that is deleted or not visible to you."
INVALID_REFRESH = "Value passed for the token was invalid."
INVALID_CODE = "Value passed for the authorization code was invalid."


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    followers_count: int = 0
    following_count: int = 0

    @property
    def profile_image_url(self) -> str:
        return f"https://pbs.twimg.com/profile_images/{self.id}/avatar_normal.jpg"


@dataclass
class FakeTweet:
    id: str
    author_id: str
    sent_text: str
    text: str
    created_at: datetime
    urls: list[dict[str, Any]]
    reply_to: str | None = None
    media_keys: list[str] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALL_METRICS, 0))
    deleted: bool = False
    # The first post of its conversation (its own id for a post that replies to none), the author of the
    # post it replies to, the post it quotes, the users it names, and whether its thread's author hid it.
    conversation_id: str = ""
    in_reply_to_user_id: str | None = None
    quotes: str | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)
    hidden: bool = False


@dataclass
class FakeMedia:
    id: str
    key: str
    owner: str
    media_type: str
    total_bytes: int
    received: dict[int, bytes] = field(default_factory=dict)
    state: str = "uploading"
    polls_left: int = 0
    alt_text: str | None = None


@dataclass
class AccessGrant:
    user_id: str
    expires_at: datetime
    scope: str


@dataclass
class Code:
    user_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: datetime


def problem(status: int, title: str, detail: str, kind: str = "about:blank", **more: Any) -> Response:
    body = {"title": title, "detail": detail, "type": kind, "status": status, **more}
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def invalid_request(message: str) -> Response:
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        PROBLEMS + "invalid-request",
        errors=[{"parameters": {}, "message": message}],
    )


def unauthorized() -> Response:
    return problem(401, "Unauthorized", "Unauthorized")


def oauth_error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class FakeX(FakeServer):
    """X's API, one app (`client_id`, and `client_secret` for a confidential client), its users and posts."""

    def __init__(
        self, *, client_id: str = "crier-app", client_secret: str | None = "crier-app-secret"
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.RLock()
        self.offset = timedelta(0)
        self.users: dict[str, FakeUser] = {}
        self.tweets: dict[str, FakeTweet] = {}
        self.media: dict[str, FakeMedia] = {}
        self.access_tokens: dict[str, AccessGrant] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user id, while it may be used
        self.used_refresh_tokens: set[str] = set()
        self.codes: dict[str, Code] = {}
        self.token_exchanges = 0
        self.refreshes = 0
        self.posts_received = 0
        self._ids = itertools.count(1_900_000_000_000_000_000)
        # Switches.
        self.duplicate_window = DAY
        self.window_limit = 100
        self.user_day_limit = 1000
        self.rate_headers = True
        self.client_not_enrolled = False
        self.fail_next: list[tuple[int, str]] = []
        self.pass_before_failing = 0
        self.media_expires_at_once = False
        self.lose_next_token_answers = 0
        self.lose_next: list[int | str] = []
        self.media_processing_polls = 1
        self.media_fails = False
        self.retired_metrics: set[str] = set()
        # Reading: each read endpoint's requests a user may make in a 15-minute window, how many of a
        # user's most recent mentions the timeline reaches, and a hook called while a page of mentions or
        # of search results is being read (before the page is chosen and again after), to add posts then.
        self.read_window_limit = 10_000
        self.mentions_reach = MENTIONS_REACH
        self.while_reading: Callable[[], None] | None = None
        self.likes: set[tuple[str, str]] = set()  # (user id, post id)
        self.reads: dict[tuple[str, str, datetime], int] = {}
        self._page_tokens: dict[str, str] = {}  # next_token -> the oldest id of the page it follows
        super().__init__(self._app())

    # -- What a test sets up and reads --------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += timedelta(seconds=seconds)

    def next_id(self) -> str:
        return str(next(self._ids))

    def add_account(
        self, username: str, *, access_token: str | None = None, refresh_token: str | None = None
    ) -> FakeUser:
        """A user, with a token pair issued to the app (as if they had approved it already)."""
        with self.lock:
            user = FakeUser(id=self.next_id(), username=username, name=username.title())
            self.users[user.id] = user
            self.access_tokens[access_token or f"{username}-access"] = AccessGrant(
                user.id, self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS), "tweet.read tweet.write"
            )
            self.refresh_tokens[refresh_token or f"{username}-refresh"] = user.id
            return user

    def posts_of(self, user: FakeUser) -> list[FakeTweet]:
        """The user's posts that are there, oldest first."""
        with self.lock:
            return [t for t in self.tweets.values() if t.author_id == user.id and not t.deleted]

    def post_by_hand(
        self, user: FakeUser, text: str, *, reply_to: str | None = None, quote: str | None = None
    ) -> FakeTweet:
        """A post the user makes on X itself: a reply to `reply_to`, quoting `quote`, as given."""
        with self.lock:
            return self._store(user, text, reply_to, [], quote=quote)

    def fail_next_posts(self, status: int, *, times: int = 1, body: str = "json", after: int = 0) -> None:
        """Let `after` posts through, then answer the next `times` with `status` without storing them;
        `body` "json" (X's problem details), "text" or "html" (a proxy's page)."""
        self.fail_next += [(status, body)] * times
        self.pass_before_failing = after

    def lose_next_answers(self, *kinds: int | str) -> None:
        """Store each of the next posts, then lose its answer: a proxy's status, "disconnect", "stall" or
        "not-json" (a 200 maintenance page)."""
        self.lose_next += list(kinds)

    def approve(self, authorize_url: str, user: FakeUser) -> str:
        """The person pressing "Authorize app" on X's page at `authorize_url`: where X sends the browser."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_url).query))
        assert query["client_id"] == self.client_id, "X shows an error page for an unknown client"
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = Code(
                user.id,
                query["redirect_uri"],
                query["code_challenge"],
                query["scope"],
                self.now() + CODE_LIFETIME,
            )
        back = {"state": query["state"], "code": code}
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(back)}"

    # -- The app ------------------------------------------------------------------------------------

    def _user(self) -> FakeUser | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        grant = self.access_tokens.get(header.removeprefix("Bearer "))
        if grant is None or grant.expires_at <= self.now():
            return None
        return self.users.get(grant.user_id)

    def _app(self) -> Flask:
        app = Flask(__name__)

        @app.before_request
        def enrolled() -> Response | None:
            if self.client_not_enrolled and request.path.startswith("/2/") and "oauth2" not in request.path:
                return problem(
                    403,
                    "Client Forbidden",
                    "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
                    "tokens from a Twitter developer App that is attached to a Project.",
                    PROBLEMS + "client-forbidden",
                    reason="client-not-enrolled",
                    registration_url="https://developer.x.com/en/docs/projects/overview",
                )
            return None

        @app.post("/2/tweets")
        def create() -> Response:
            user = self._user()
            if user is None:
                return unauthorized()
            with self.lock:
                self.posts_received += 1
                if self.fail_next and self.pass_before_failing > 0:
                    self.pass_before_failing -= 1
                elif self.fail_next:
                    status, kind = self.fail_next.pop(0)
                    return self._failure(status, kind)
                limited = self._rate_limited(user)
                if limited is not None:
                    return limited
                body = request.get_json(silent=True)
                if not isinstance(body, dict):
                    return invalid_request("The request body is not JSON.")
                refused = self._refusal(user, body)
                if refused is not None:
                    return refused
                media_ids = (body.get("media") or {}).get("media_ids") or []
                reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
                tweet = self._store(user, body.get("text") or "", reply_to, media_ids)
                lost = self.lose_next.pop(0) if self.lose_next else None
                answer = {"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}
                headers = self._rate_headers(user)
            if lost == "disconnect":
                self.hang_up()
            if lost == "stall":
                self.stall()
            if lost == "not-json":
                return Response("<html><body>Back soon</body></html>", 200, content_type="text/html")
            if isinstance(lost, int):
                return proxy_error_page(lost).response()
            response = jsonify(answer)
            response.status_code = 201
            response.headers.update(headers)
            return response

        @app.delete("/2/tweets/<tweet_id>")
        def delete(tweet_id: str) -> Response:
            user = self._user()
            if user is None:
                return unauthorized()
            with self.lock:
                tweet = self.tweets.get(tweet_id)
                if tweet is None or tweet.deleted:
                    return problem(
                        404,
                        "Not Found Error",
                        f"Could not find tweet with id: [{tweet_id}].",
                        PROBLEMS + "resource-not-found",
                    )
                if tweet.author_id != user.id:
                    return problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
                tweet.deleted = True
            return jsonify({"data": {"deleted": True}})

        @app.get("/2/tweets")
        def lookup() -> Response:
            if self._user() is None:
                return unauthorized()
            ids = [value for value in request.args.get("ids", "").split(",") if value]
            if not ids or len(ids) > 100:
                return invalid_request("The `ids` query parameter value must be between 1 and 100 ids.")
            fields = set(request.args.get("tweet.fields", "").split(","))
            data, errors = [], []
            with self.lock:
                for tweet_id in ids:
                    tweet = self.tweets.get(tweet_id)
                    if tweet is None or tweet.deleted:
                        errors.append(
                            {
                                "value": tweet_id,
                                "detail": f"Could not find tweet with ids: [{tweet_id}].",
                                "title": "Not Found Error",
                                "resource_type": "tweet",
                                "parameter": "ids",
                                "resource_id": tweet_id,
                                "type": PROBLEMS + "resource-not-found",
                            }
                        )
                    else:
                        data.append(self._render(tweet, fields))
                body: dict[str, Any] = {"data": data} if data else {}
                body.update(self._includes([self.tweets[post["id"]] for post in data], fields))
            if errors:
                body["errors"] = errors
            return jsonify(body)

        @app.get("/2/users/me")
        def me() -> Response:
            user = self._user()
            if user is None:
                return unauthorized()
            data: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
            if "public_metrics" in request.args.get("user.fields", ""):
                data["public_metrics"] = {
                    "followers_count": user.followers_count,
                    "following_count": user.following_count,
                    "tweet_count": len(self.posts_of(user)),
                    "listed_count": 0,
                    "like_count": 0,
                }
            return jsonify({"data": data})

        @app.get("/2/users/<user_id>/tweets")
        def timeline(user_id: str) -> Response:
            if self._user() is None:
                return unauthorized()
            size = int(request.args.get("max_results", "10"))
            if not 5 <= size <= 100:
                return invalid_request("The `max_results` query parameter value must be between 5 and 100")
            since = request.args.get("start_time")
            start = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
            fields = set(request.args.get("tweet.fields", "").split(","))
            with self.lock:
                tweets = [
                    tweet
                    for tweet in reversed(list(self.tweets.values()))
                    if tweet.author_id == user_id
                    and not tweet.deleted
                    and (start is None or tweet.created_at >= start)
                ]
                offset = int(request.args.get("pagination_token") or 0)
                page = tweets[offset : offset + size]
                rendered = [self._render(tweet, fields) for tweet in page]
            meta: dict[str, Any] = {"result_count": len(page)}
            if page:
                meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
            if offset + size < len(tweets):
                meta["next_token"] = str(offset + size)
            return jsonify({"data": rendered, "meta": meta} if page else {"meta": meta})

        app.add_url_rule("/2/users/<user_id>/mentions", "mentions", self._mentions_timeline)
        app.add_url_rule("/2/tweets/search/recent", "search", self._search_recent)
        app.add_url_rule("/2/users/<user_id>/likes", "like", self._like, methods=["POST"])
        app.add_url_rule("/2/tweets/<tweet_id>/hidden", "hide", self._hide, methods=["PUT"])
        app.add_url_rule("/2/media/upload", "upload", self._upload, methods=["POST"])
        app.add_url_rule("/2/media/upload", "status", self._status, methods=["GET"])
        app.add_url_rule("/2/media/upload/initialize", "initialize", self._initialize, methods=["POST"])
        app.add_url_rule("/2/media/upload/<media_id>/append", "append", self._append, methods=["POST"])
        app.add_url_rule("/2/media/upload/<media_id>/finalize", "finalize", self._finalize, methods=["POST"])
        app.add_url_rule("/2/media/metadata", "metadata", self._metadata, methods=["POST"])
        app.add_url_rule("/2/oauth2/token", "token", self._token, methods=["POST"])
        app.add_url_rule("/i/oauth2/authorize", "authorize", self._authorize_page, methods=["GET"])
        return app

    # -- Posts --------------------------------------------------------------------------------------

    def _failure(self, status: int, kind: str) -> Response:
        if kind == "html":
            return proxy_error_page(status).response()
        if kind == "text":
            return Response("upstream connect error or disconnect/reset before headers", status)
        return problem(status, "Service Unavailable", "Service Unavailable")

    def _window_start(self) -> datetime:
        now = self.now()
        return now - timedelta(seconds=now.timestamp() % WINDOW.total_seconds())

    def _counts(self, user: FakeUser) -> tuple[int, int]:
        """The user's posts in this 15-minute window and in the last 24 hours."""
        start, day = self._window_start(), self.now() - DAY
        mine = [t for t in self.tweets.values() if t.author_id == user.id]
        return sum(t.created_at >= start for t in mine), sum(t.created_at >= day for t in mine)

    def _rate_headers(self, user: FakeUser) -> dict[str, str]:
        if not self.rate_headers:
            return {}
        in_window, in_day = self._counts(user)
        mine = sorted(t.created_at for t in self.tweets.values() if t.author_id == user.id)
        day_reset = (mine[-in_day] + DAY) if in_day else self.now() + DAY
        return {
            "x-rate-limit-limit": str(self.window_limit),
            "x-rate-limit-remaining": str(max(self.window_limit - in_window, 0)),
            "x-rate-limit-reset": str(int((self._window_start() + WINDOW).timestamp())),
            "x-user-limit-24hour-limit": str(self.user_day_limit),
            "x-user-limit-24hour-remaining": str(max(self.user_day_limit - in_day, 0)),
            "x-user-limit-24hour-reset": str(int(day_reset.timestamp())),
        }

    def _rate_limited(self, user: FakeUser) -> Response | None:
        in_window, in_day = self._counts(user)
        if in_window < self.window_limit and in_day < self.user_day_limit:
            return None
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update(self._rate_headers(user))
        return response

    def _refusal(self, user: FakeUser, body: dict[str, Any]) -> Response | None:
        text = body.get("text") or ""
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if not text and not media_ids:
            return invalid_request("Requires at least one of text or media.media_ids.")
        if x_length(text) > X_LIMIT:
            return problem(403, "Forbidden", TOO_LONG)
        for media_id in media_ids:
            media = self.media.get(str(media_id))
            if self.media_expires_at_once and media is not None:
                media.state = "expired"  # past its expires_after_secs
            if media is None or media.owner != user.id or media.state != "succeeded":
                return invalid_request("Your media IDs are invalid.")
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None:
            parent = self.tweets.get(str(reply_to))
            if parent is None or parent.deleted:
                return problem(403, "Forbidden", REPLY_TO_MISSING)
        same = unicodedata.normalize("NFC", text).strip()
        since = self.now() - self.duplicate_window
        if text and any(
            t.author_id == user.id
            and not t.deleted
            and t.created_at >= since
            and unicodedata.normalize("NFC", t.sent_text).strip() == same
            for t in self.tweets.values()
        ):
            return problem(403, "Forbidden", DUPLICATE)
        return None

    def _store(
        self,
        user: FakeUser,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        *,
        quote: str | None = None,
    ) -> FakeTweet:
        """The post as X keeps it: URLs as t.co links, &<> escaped, a t.co link to its media at the end.

        A reply to another user's post starts with their @name: X fills in a reply's mentions (POST
        /2/tweets takes reply.exclude_reply_user_ids to leave some out), and a reply to one's own post
        names no one.
        """
        tweet_id = self.next_id()
        sent = text = unicodedata.normalize("NFC", text)
        parent = self.tweets.get(str(reply_to)) if reply_to else None
        if parent is not None and parent.author_id != user.id:
            text = f"@{self.users[parent.author_id].username} {text}"
        pieces: list[str] = []
        urls: list[dict[str, Any]] = []
        written = 0
        for found in extract_urls_with_indices(text):
            start, end = found["indices"]
            pieces.append(html.escape(text[written:start], quote=False))
            link = "https://t.co/" + secrets.token_hex(5)
            expanded = found["url"] if "://" in found["url"] else f"http://{found['url']}"
            at = len("".join(pieces))
            urls.append(
                {
                    "start": at,
                    "end": at + len(link),
                    "url": link,
                    "expanded_url": expanded,
                    "display_url": found["url"].split("://")[-1][:26],
                }
            )
            pieces.append(link)
            written = end
        pieces.append(html.escape(text[written:], quote=False))
        keys = [self.media[str(media_id)].key for media_id in media_ids]
        stored = "".join(pieces)
        if keys:
            link = "https://t.co/" + secrets.token_hex(5)
            separator = " " if stored else ""
            at = len(stored) + len(separator)
            stored += separator + link
            urls.append(
                {
                    "start": at,
                    "end": at + len(link),
                    "url": link,
                    "media_key": keys[0],
                    "expanded_url": f"https://x.com/{user.username}/status/{tweet_id}/photo/1",
                }
            )
        tweet = FakeTweet(
            id=tweet_id,
            author_id=user.id,
            sent_text=sent,
            text=stored,
            created_at=self.now(),
            urls=urls,
            reply_to=str(reply_to) if reply_to else None,
            media_keys=keys,
            conversation_id=parent.conversation_id if parent is not None else tweet_id,
            in_reply_to_user_id=parent.author_id if parent is not None else None,
            quotes=quote,
            mentions=self._mentions(stored),
        )
        self.tweets[tweet.id] = tweet
        return tweet

    def _mentions(self, stored: str) -> list[dict[str, Any]]:
        """entities.mentions: each @name of a user X knows, with its place in the text."""
        known = {user.username.lower(): user for user in self.users.values()}
        return [
            {"start": found.start(), "end": found.end(), "username": user.username, "id": user.id}
            for found in MENTION.finditer(stored)
            if (user := known.get(found.group(1).lower())) is not None
        ]

    def _render(self, tweet: FakeTweet, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
        if "created_at" in fields:
            data["created_at"] = tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + (
                f"{tweet.created_at.microsecond // 1000:03d}Z"
            )
        if "author_id" in fields:
            data["author_id"] = tweet.author_id
        if "conversation_id" in fields:
            data["conversation_id"] = tweet.conversation_id
        if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
            data["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        references = [("replied_to", tweet.reply_to), ("quoted", tweet.quotes)]
        if "referenced_tweets" in fields and any(post_id for _, post_id in references):
            data["referenced_tweets"] = [
                {"type": kind, "id": post_id} for kind, post_id in references if post_id
            ]
        if "attachments" in fields and tweet.media_keys:
            data["attachments"] = {"media_keys": list(tweet.media_keys)}
        if "entities" in fields and (tweet.urls or tweet.mentions):
            entities: dict[str, Any] = {}
            if tweet.urls:
                entities["urls"] = [dict(url) for url in tweet.urls]
            if tweet.mentions:
                entities["mentions"] = [dict(mention) for mention in tweet.mentions]
            data["entities"] = entities
        if "public_metrics" in fields:
            data["public_metrics"] = {
                name: value for name, value in tweet.metrics.items() if name not in self.retired_metrics
            }
        return data

    def _includes(self, page: list[FakeTweet], fields: set[str]) -> dict[str, Any]:
        """`includes` for the `expansions` asked: the authors (author_id) with the user.fields asked, and
        the posts a page's posts reply to or quote (referenced_tweets.id), rendered with the same fields."""
        expansions = set(request.args.get("expansions", "").split(","))
        user_fields = set(request.args.get("user.fields", "").split(","))
        includes: dict[str, Any] = {}
        if "referenced_tweets.id" in expansions:
            referenced = {
                post_id: self.tweets[post_id]
                for tweet in page
                for post_id in (tweet.reply_to, tweet.quotes)
                if post_id and post_id in self.tweets and not self.tweets[post_id].deleted
            }
            if referenced:
                includes["tweets"] = [self._render(tweet, fields) for tweet in referenced.values()]
        if "author_id" in expansions and page:
            authors = {tweet.author_id: self.users[tweet.author_id] for tweet in page}
            users = []
            for user in authors.values():
                rendered = {"id": user.id, "name": user.name, "username": user.username}
                if "profile_image_url" in user_fields:
                    rendered["profile_image_url"] = user.profile_image_url
                users.append(rendered)
            includes["users"] = users
        return {"includes": includes} if includes else {}

    def _read_window(self, user: FakeUser, endpoint: str) -> tuple[Response | None, dict[str, str]]:
        """Count a read against its 15-minute window: a 429 once spent, and the x-rate-limit-* headers."""
        start = self._window_start()
        key = (user.id, endpoint, start)
        self.reads[key] = self.reads.get(key, 0) + 1
        headers = {
            "x-rate-limit-limit": str(self.read_window_limit),
            "x-rate-limit-remaining": str(max(self.read_window_limit - self.reads[key], 0)),
            "x-rate-limit-reset": str(int((start + WINDOW).timestamp())),
        }
        if self.reads[key] <= self.read_window_limit:
            return None, headers
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update(headers)
        return response, headers

    def _newest_first_page(
        self, tweets: list[FakeTweet], size: int, token_parameter: str
    ) -> Response | tuple[list[FakeTweet], dict[str, Any]]:
        """One page of `tweets` (newest first) after since_id and before until_id and the page token, and
        its `meta`: a next_token names the page's oldest post, so the pages after it stay the same however
        many posts arrive at the front (X: "the next_token does not expire")."""
        since, until = request.args.get("since_id"), request.args.get("until_id")
        token = request.args.get(token_parameter)
        if token is not None and token not in self._page_tokens:
            return invalid_request(f"The `{token_parameter}` query parameter value [{token}] is not valid")
        before = self._page_tokens.get(token or "")
        chosen = [
            tweet
            for tweet in tweets
            if (since is None or int(tweet.id) > int(since))
            and (until is None or int(tweet.id) < int(until))
            and (before is None or int(tweet.id) < int(before))
        ]
        page = chosen[:size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if len(chosen) > size:
            next_token = secrets.token_hex(8)
            self._page_tokens[next_token] = page[-1].id
            meta["next_token"] = next_token
        return page, meta

    def _page_answer(self, page: list[FakeTweet], meta: dict[str, Any], headers: dict[str, str]) -> Response:
        fields = set(request.args.get("tweet.fields", "").split(","))
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self._render(tweet, fields) for tweet in page]
            body.update(self._includes(page, fields))
        response = jsonify(body)
        response.headers.update(headers)
        return response

    def _reading(self) -> None:
        if self.while_reading is not None:
            self.while_reading()

    def _mentions_timeline(self, user_id: str) -> Response:
        """GET /2/users/:id/mentions: the posts naming the user, newest first, the 800 most recent."""
        reader = self._user()
        if reader is None:
            return unauthorized()
        size = int(request.args.get("max_results", "10"))
        if not 5 <= size <= 100:
            return invalid_request("The `max_results` query parameter value must be between 5 and 100")
        self._reading()
        with self.lock:
            limited, headers = self._read_window(reader, "mentions")
            if limited is not None:
                return limited
            naming = [
                tweet
                for tweet in reversed(list(self.tweets.values()))
                if not tweet.deleted and any(mention["id"] == user_id for mention in tweet.mentions)
            ][: self.mentions_reach]
            paged = self._newest_first_page(naming, size, "pagination_token")
            if isinstance(paged, Response):
                return paged
            answer = self._page_answer(*paged, headers)
        self._reading()
        return answer

    def _search_recent(self) -> Response:
        """GET /2/tweets/search/recent: posts of the last seven days matching the query, newest first.

        The fake understands a query of words and #hashtags (each must be in the post, in any case), and
        the operators conversation_id: and from:.
        """
        reader = self._user()
        if reader is None:
            return unauthorized()
        query = request.args.get("query", "")
        if not 1 <= len(query) <= QUERY_LIMIT:
            return invalid_request(f"The `query` parameter value must be between 1 and {QUERY_LIMIT} long")
        size = int(request.args.get("max_results", "10"))
        if not 10 <= size <= 100:
            return invalid_request("The `max_results` query parameter value must be between 10 and 100")
        token_parameter = "pagination_token" if "pagination_token" in request.args else "next_token"
        since = self.tweets.get(request.args.get("since_id", ""))
        if since is not None and since.created_at < self.now() - RECENT:
            # As X answers a since_id older than the search's seven days.
            limit = (self.now() - RECENT).strftime("%Y-%m-%dT%H:%MZ")
            return problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                PROBLEMS + "invalid-request",
                errors=[
                    {
                        "parameters": {"since_id": [since.id]},
                        "message": f"Invalid 'since_id':'{since.id}'. 'since_id' must be a tweet id "
                        f"created after {limit}.",
                    }
                ],
            )
        self._reading()
        with self.lock:
            limited, headers = self._read_window(reader, "search")
            if limited is not None:
                return limited
            recent = self.now() - RECENT
            found = [
                tweet
                for tweet in reversed(list(self.tweets.values()))
                if not tweet.deleted and tweet.created_at >= recent and self._matches(tweet, query)
            ]
            paged = self._newest_first_page(found, size, token_parameter)
            if isinstance(paged, Response):
                return paged
            answer = self._page_answer(*paged, headers)
        self._reading()
        return answer

    def _matches(self, tweet: FakeTweet, query: str) -> bool:
        words = html.unescape(tweet.text).lower()
        for term in query.split():
            if term.startswith("conversation_id:"):
                if tweet.conversation_id != term.split(":", 1)[1]:
                    return False
            elif term.startswith("from:"):
                if self.users[tweet.author_id].username.lower() != term.split(":", 1)[1].lower():
                    return False
            elif term.lower() not in words:
                return False
        return True

    def _like(self, user_id: str) -> Response:
        """POST /2/users/:id/likes {tweet_id}: data.liked; liking a liked post again answers the same."""
        user = self._user()
        if user is None:
            return unauthorized()
        if user.id != user_id:
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        body = request.get_json(silent=True)
        tweet_id = str(body.get("tweet_id", "")) if isinstance(body, dict) else ""
        with self.lock:
            limited, headers = self._read_window(user, "likes")
            if limited is not None:
                return limited
            tweet = self.tweets.get(tweet_id)
            if tweet is None or tweet.deleted:
                return problem(
                    404,
                    "Not Found Error",
                    f"Could not find tweet with tweet_id: [{tweet_id}].",
                    PROBLEMS + "resource-not-found",
                )
            self.likes.add((user.id, tweet.id))
        response = jsonify({"data": {"liked": True}})
        response.headers.update(headers)
        return response

    def _hide(self, tweet_id: str) -> Response:
        """PUT /2/tweets/:id/hidden {hidden}: only a reply in a conversation the user started; hiding a
        hidden reply again succeeds (X's reference says so)."""
        user = self._user()
        if user is None:
            return unauthorized()
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("hidden"), bool):
            return invalid_request("hidden is required and must be a boolean.")
        with self.lock:
            tweet = self.tweets.get(tweet_id)
            if tweet is None or tweet.deleted:
                return problem(
                    404,
                    "Not Found Error",
                    f"Could not find tweet with id: [{tweet_id}].",
                    PROBLEMS + "resource-not-found",
                )
            root = self.tweets.get(tweet.conversation_id)
            if tweet.conversation_id == tweet.id or root is None or root.author_id != user.id:
                return problem(403, "Forbidden", "You can only hide replies in conversations you started.")
            tweet.hidden = body["hidden"]
        return jsonify({"data": {"hidden": tweet.hidden}})

    # -- Media --------------------------------------------------------------------------------------

    def _new_media(self, user: FakeUser, media_type: str, total: int) -> FakeMedia:
        media_id = self.next_id()
        prefix = "7" if media_type.startswith("video/") else "16" if media_type == "image/gif" else "3"
        media = FakeMedia(media_id, f"{prefix}_{media_id}", user.id, media_type, total)
        self.media[media_id] = media
        return media

    def _processing(self, media: FakeMedia) -> dict[str, Any]:
        info: dict[str, Any] = {"state": media.state}
        if media.state in ("pending", "in_progress"):
            info.update(check_after_secs=1, progress_percent=50)
        if media.state == "failed":
            info["error"] = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
        return info

    def _upload(self) -> Response:
        user = self._user()
        if user is None:
            return unauthorized()
        upload = request.files.get("media")
        media_type = request.form.get("media_type") or (upload.mimetype if upload else "")
        if upload is None or media_type not in ("image/jpeg", "image/png", "image/webp", "image/gif"):
            return invalid_request("media must be an image of a supported type.")
        data = upload.read()
        if len(data) > 5 * 1024 * 1024:
            return invalid_request("File size exceeds 5242880 bytes.")
        with self.lock:
            media = self._new_media(user, media_type, len(data))
            media.received[0], media.state = data, "succeeded"
        return jsonify(
            {
                "data": {
                    "id": media.id,
                    "media_key": media.key,
                    "size": len(data),
                    "expires_after_secs": 86400,
                    "image": {"image_type": media_type, "w": 1, "h": 1},
                }
            }
        )

    def _initialize(self) -> Response:
        user = self._user()
        if user is None:
            return unauthorized()
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("total_bytes"), int) or not body.get("media_type"):
            return invalid_request("total_bytes and media_type are required.")
        with self.lock:
            media = self._new_media(user, str(body["media_type"]), body["total_bytes"])
        return jsonify({"data": {"id": media.id, "media_key": media.key, "expires_after_secs": 86400}})

    def _owned(self, media_id: str) -> FakeMedia | Response:
        user = self._user()
        if user is None:
            return unauthorized()
        media = self.media.get(media_id)
        if media is None or media.owner != user.id:
            return invalid_request(f"Could not find media with id {media_id}.")
        return media

    def _append(self, media_id: str) -> Response:
        media = self._owned(media_id)
        if isinstance(media, Response):
            return media
        chunk = request.files.get("media")
        index = request.form.get("segment_index", "")
        if chunk is None or not index.isdigit():
            return invalid_request("media and segment_index are required.")
        with self.lock:
            media.received[int(index)] = chunk.read()
        return jsonify({"data": {"expires_at": int((self.now() + DAY).timestamp())}})

    def _finalize(self, media_id: str) -> Response:
        media = self._owned(media_id)
        if isinstance(media, Response):
            return media
        with self.lock:
            size = sum(len(part) for part in media.received.values())
            if size != media.total_bytes:
                return invalid_request(f"File size mismatch: {size} received, {media.total_bytes} declared.")
            media.polls_left = self.media_processing_polls
            media.state = "pending" if media.polls_left else ("failed" if self.media_fails else "succeeded")
            data = {"id": media.id, "media_key": media.key, "size": size, "expires_after_secs": 86400}
            if media.state != "succeeded":
                data["processing_info"] = self._processing(media)
        return jsonify({"data": data})

    def _status(self) -> Response:
        if request.args.get("command") != "STATUS":
            return invalid_request("command must be STATUS.")
        media = self._owned(request.args.get("media_id", ""))
        if isinstance(media, Response):
            return media
        with self.lock:
            if media.state in ("pending", "in_progress"):
                media.polls_left -= 1
                media.state = (
                    "in_progress" if media.polls_left > 0 else ("failed" if self.media_fails else "succeeded")
                )
            info = self._processing(media)
        return jsonify({"data": {"id": media.id, "media_key": media.key, "processing_info": info}})

    def _metadata(self) -> Response:
        body = request.get_json(silent=True) or {}
        media = self._owned(str(body.get("id", "")))
        if isinstance(media, Response):
            return media
        text = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(text, str) or len(text) > 1000:
            return invalid_request("alt_text.text must be at most 1000 characters.")
        with self.lock:
            media.alt_text = text
        return jsonify({"data": {"id": media.id, "associated_metadata": {"alt_text": {"text": text}}}})

    # -- OAuth 2 ------------------------------------------------------------------------------------

    def _authorize_page(self) -> Response:
        """The page a browser reaches: approved at once as the only (or `?as=`) user, for end-to-end tests."""
        username = request.args.get("as")
        with self.lock:
            users = [u for u in self.users.values() if username in (None, u.username)]
        if not users:
            return Response("No one is signed in to X.", 400)
        return redirect(self.approve(request.url, users[0]), code=302)

    def _client_ok(self) -> bool:
        if self.client_secret is None:
            return request.form.get("client_id") == self.client_id
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    def _token(self) -> Response:
        if not self._client_ok():
            return oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        grant_type = request.form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                code = self.codes.pop(request.form.get("code", ""), None)
                if (
                    code is None
                    or code.expires_at <= self.now()
                    or code.redirect_uri != request.form.get("redirect_uri")
                    or s256(request.form.get("code_verifier", "")) != code.challenge
                ):
                    return oauth_error(400, "invalid_request", INVALID_CODE)
                user_id, scope = code.user_id, code.scope
            elif grant_type == "refresh_token":
                old = request.form.get("refresh_token", "")
                user_id_or_none = self.refresh_tokens.pop(old, None)
                if user_id_or_none is None:
                    return oauth_error(400, "invalid_request", INVALID_REFRESH)
                self.used_refresh_tokens.add(old)
                self.refreshes += 1
                user_id, scope = (
                    user_id_or_none,
                    "tweet.read tweet.write users.read offline.access media.write",
                )
            else:
                return oauth_error(400, "unsupported_grant_type", "Unsupported grant type.")
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self.access_tokens[access] = AccessGrant(
                user_id, self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS), scope
            )
            self.refresh_tokens[refresh] = user_id
            self.token_exchanges += 1
            lost = self.lose_next_token_answers > 0
            self.lose_next_token_answers -= lost
        if lost:
            self.hang_up()
        return jsonify(
            {
                "token_type": "bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
                "access_token": access,
                "scope": scope,
                "refresh_token": refresh,
            }
        )


def serving_one_account(username: str = "crier_demo") -> tuple[FakeX, dict[str, Any]]:
    """A started FakeX with one account, and what connects a channel to it.

    The dict holds the channel's `handle`, `settings` and `credentials`, and the `environment` a Crier
    process needs to reach this fake with the fake's app (CRIER_X_API_URL and the client's id and secret;
    127.0.0.1 must also be allowed, CRIER_ALLOWED_PRIVATE_HOSTS). Stop the fake with `stop()`.
    """
    fake = FakeX().start()
    fake.add_account(username, access_token=f"{username}-access", refresh_token=f"{username}-refresh")
    expires = (fake.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)).isoformat()
    return fake, {
        "handle": username,
        "settings": {},
        "credentials": {
            "access_token": f"{username}-access",
            "refresh_token": f"{username}-refresh",
            "expires_at": expires,
        },
        "environment": {
            "CRIER_X_API_URL": fake.base_url,
            "CRIER_X_AUTHORIZE_URL": f"{fake.base_url}/i/oauth2/authorize",
            "CRIER_X_CLIENT_ID": fake.client_id,
            "CRIER_X_CLIENT_SECRET": fake.client_secret or "",
        },
    }
