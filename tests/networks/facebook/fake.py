"""Meta's Graph API for Facebook Pages, of our own, for the adapter's tests: real HTTP on 127.0.0.1.

It follows Meta's developer documentation for Graph API v24.0 (developers.facebook.com/docs):
graph-api/guides/error-handling (every error as `{"error": {"message", "type", "code", "error_subcode",
"is_transient", "fbtrace_id"}}`: 190 with subcodes 460 and 463 for a token revoked by a password change or
expired, 200 for a missing permission with HTTP 403, 1 and 2 with HTTP 500, 506 for a duplicate post, 100
with subcode 33 for an object that does not exist), graph-api/overview/rate-limiting (X-App-Usage and
X-Business-Use-Case-Usage on the answers to a Page token, the latter keyed by the Page's id with
`estimated_time_to_regain_access` in minutes; codes 4, 17, 32, 613 and 80001 when throttled),
pages-api/posts (`POST /{page-id}/feed` answering `{"id": "{page-id}_{post-id}"}`; `POST /{page-id}/photos`
with the multipart `source`, answering `{"id", "post_id"}`, or only `{"id"}` with `published=false`;
`attached_media[n]`; `GET /{page-id}/published_posts` newest first with `since`, `limit` and cursors;
`POST /{post-id}` with `message` and `DELETE /{post-id}`, each answering `{"success": true}`), the Comment
edge (`POST` and `GET /{object-id}/comments` on a post or a comment, the author in `from`, a reply's
`parent`, `permalink_url`; `filter=toplevel` by default or `stream` for every comment with replies;
`order=chronological` by default or `reverse_chronological`; `since`, `limit` and cursors that stay put as
comments are added), the Comment node (`POST /{comment-id}` with `is_hidden`, answering `{"success":
true}`), `POST /{object-id}/likes` (a Page likes a comment once, however often asked), the Post's
`reactions`, `comments` and `summary(total_count)` and `shares` (left out when nobody shared), Post
insights (`post_media_view`; the retired impressions metrics answer 100 "invalid metric"), the Page's
`followers_count` and `fan_count`,
`GET /?ids=…` (several objects at once, keyed by id), and Facebook Login's manual flow
(`/{version}/dialog/oauth`; `/oauth/access_token` for the code and for `grant_type=fb_exchange_token`;
`GET /me/accounts` with each Page's `access_token` and `tasks`). Times are written as Graph writes them,
`2026-12-06T11:10:39+0000`. A token is taken from `Authorization: Bearer` or the `access_token` parameter.

Switches make it fail the ways Graph and what stands in front of it do: a Graph error instead of the
next writes or reads (`fail_next_writes`, `fail_next_reads`, each a `Failure`: any code, subcode, status,
`is_transient`), a
proxy's answer instead of them in a body that is not Graph's (`failure_body`: "text" or "html"),
throttling of the next calls with the usage headers saying when access is regained (`throttle`),
usage headers left out (`usage_headers = False`), a write stored and then answered by a proxy's 5xx,
a hang-up or a stall (`answer_after_storing`), the views metric retired (`retire_views`), tokens
invalidated (`invalidate`) and a Page's permission to post removed (`Page.can_post = False`). People
comment with `comment_as`; `while_reading_comments` runs before each page of comments is answered (people
commenting while Crier reads).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, request

from tests.networks.fake_servers import FakeServer
from tests.networks.misbehaving_proxy import proxy_error_page

VERSION = "v24.0"
GRAPH_TIME = "%Y-%m-%dT%H:%M:%S+0000"
RETIRED_METRICS = {"post_impressions", "post_impressions_unique", "post_impressions_organic"}
VIEWS_METRIC = "post_media_view"
MISSING = (
    "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing "
    "permissions, or does not support this operation. Please read the Graph API documentation at "
    "https://developers.facebook.com/docs/graph-api"
)


@dataclass
class Failure:
    """A Graph error the fake answers instead of acting."""

    code: int
    status: int = 400
    message: str = "An error occurred"
    subcode: int | None = None
    type: str = "OAuthException"
    is_transient: bool | None = None


@dataclass(eq=False)
class Page:
    id: str
    name: str
    username: str
    token: str
    followers_count: int = 0
    fan_count: int = 0
    can_post: bool = True


@dataclass
class User:
    id: str
    name: str
    # The Pages the person manages, with the tasks they may do on each.
    pages: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    user_id: str
    used: bool = False


class FakeGraph(FakeServer):
    """Graph API v24.0 for Pages, with Facebook Login's dialog played by the test (`approve`)."""

    def __init__(self, *, client_id: str = "1234567890", client_secret: str = "app-secret") -> None:
        self.version = VERSION
        self.client_id = client_id
        self.client_secret = client_secret
        # Switches a test flips.
        self.fail_next_writes: list[Failure | int] = []
        self.fail_next_reads: list[Failure] = []
        self.failure_body = "json"  # or "text", "html": an int in fail_next_writes answered by a proxy
        # For each next write stored: a 5xx, "disconnect", "stall", or None to answer it as Graph does.
        self.answer_after_storing: list[int | str | None] = []
        self.usage_headers = True
        self.throttled: list[tuple[int, int]] = []  # (code, minutes) for each next call
        self.retired_metrics = set(RETIRED_METRICS)

        self.lock = threading.RLock()
        self.offset = timedelta()
        self.pages: dict[str, Page] = {}
        self.users: dict[str, User] = {}
        self.user_tokens: dict[str, tuple[str, bool]] = {}  # token -> (user id, long-lived)
        self.invalid_tokens: dict[str, int] = {}  # token -> the 190 subcode it answers
        self.codes: dict[str, Grant] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.photos: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.people: dict[str, str] = {}  # a person's id -> their name
        self.while_reading_comments: Callable[[], None] | None = None
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(100_000_000_000_001)
        super().__init__(self._build_app())

    # -- What a test does to it ------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.offset += delta

    def add_page(self, name: str = "Crier Café", *, token: str | None = None) -> Page:
        with self.lock:
            page_id = str(next(self._ids))
            page = Page(
                id=page_id,
                name=name,
                username=name.lower().replace(" ", "").encode("ascii", "ignore").decode() or page_id,
                token=token or f"EAAP{secrets.token_hex(16)}",
            )
            self.pages[page.id] = page
            return page

    def add_user(self, name: str, pages: dict[Page, list[str]] | None = None) -> User:
        tasks = ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]
        with self.lock:
            user = User(id=str(next(self._ids)), name=name)
            for page in pages or {}:
                user.pages[page.id] = (pages or {})[page] or tasks
            self.users[user.id] = user
            return user

    def invalidate(self, token: str, subcode: int = 460) -> None:
        """The token stops working: 460 when the person changed their password, 463 when it expired."""
        with self.lock:
            self.invalid_tokens[token] = subcode

    def throttle(self, code: int = 80001, *, minutes: int = 19, times: int = 1) -> None:
        """The next `times` calls are throttled with `code`; the usage headers say `minutes` to regain."""
        with self.lock:
            self.throttled += [(code, minutes)] * times

    def retire_views(self) -> None:
        """Meta retires the views metric too: asking for it answers 100, invalid metric."""
        with self.lock:
            self.retired_metrics.add(VIEWS_METRIC)

    def approve(self, dialog_url: str, user: User) -> str:
        """The person, logged in as `user`, presses Continue in Facebook Login's dialog: where Facebook
        sends their browser (the redirect URI with `code` and `state`)."""
        parts = urllib.parse.urlsplit(dialog_url)
        assert parts.path == f"/{self.version}/dialog/oauth", parts.path
        query = dict(urllib.parse.parse_qsl(parts.query))
        assert query["client_id"] == self.client_id, "an unknown app: the dialog shows an error page"
        assert query.get("response_type") == "code"
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = Grant(query["client_id"], query["redirect_uri"], user.id)
        answer = {"code": code, "state": query.get("state", "")}
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(answer)}#_=_"

    def posts_of(self, page: Page) -> list[dict[str, Any]]:
        with self.lock:
            return [post for post in self.posts.values() if post["page_id"] == page.id]

    def add_post(self, page: Page, message: str, *, created: datetime | None = None) -> dict[str, Any]:
        """A post the Page made by hand (outside Crier)."""
        with self.lock:
            return self._store_post(page, message, created=created)

    def comment_as(
        self,
        name: str,
        post: dict[str, Any],
        message: str,
        *,
        parent: dict[str, Any] | None = None,
        created: datetime | None = None,
    ) -> dict[str, Any]:
        """A person (by name) comments on the post, or replies to one of its comments."""
        with self.lock:
            person = next((id_ for id_, known in self.people.items() if known == name), None)
            if person is None:
                person = str(next(self._ids))
                self.people[person] = name
            return self._store_comment(post, person, message, parent=parent, created=created)

    def comment_as_page(
        self, page: Page, post: dict[str, Any], message: str, *, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The Page comments (by hand, outside Crier) on its post, or replies to a comment."""
        with self.lock:
            return self._store_comment(post, page.id, message, parent=parent)

    # -- The app ----------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        base = f"/{self.version}"

        @app.before_request
        def record() -> Response | None:
            with self.lock:
                self.requests.append((request.method, request.path))
                if self.throttled and not request.path.startswith(f"{base}/oauth"):
                    code, minutes = self.throttled.pop(0)
                    return self._throttled(code, minutes)
                if self.fail_next_reads and request.method == "GET":
                    failure = self.fail_next_reads.pop(0)
                    return _error(
                        failure.status,
                        failure.code,
                        failure.message,
                        failure.type,
                        failure.subcode,
                        failure.is_transient,
                    )
            return None

        @app.after_request
        def usage(response: Response) -> Response:
            page = self._page_of_token(quiet=True)
            if (
                self.usage_headers
                and page is not None
                and "X-Business-Use-Case-Usage" not in response.headers
            ):
                response.headers["X-App-Usage"] = json.dumps(
                    {"call_count": 3, "total_cputime": 1, "total_time": 2}
                )
                response.headers["X-Business-Use-Case-Usage"] = _business_usage(page.id, 2, 0)
            return response

        @app.post(f"{base}/oauth/access_token")
        @app.get(f"{base}/oauth/access_token")
        def access_token() -> Response:
            return self._access_token(_params())

        @app.get(f"{base}/me/accounts")
        def accounts() -> Response:
            return self._accounts()

        @app.get(base)
        @app.get(f"{base}/")
        def several() -> Response:
            page = self._page_of_token()
            if isinstance(page, Response):
                return page
            ids = [item for item in (request.args.get("ids") or "").split(",") if item]
            answer = {}
            for object_id in ids:
                post = self._visible_post(page, object_id)
                if post is None:
                    return _error(
                        400, 100, MISSING.format(verb="get", id=object_id), "GraphMethodException", 33
                    )
                fields = self._post_fields(post, request.args.get("fields", "id"))
                if isinstance(fields, Response):
                    return fields
                answer[object_id] = fields
            return _json(answer)

        @app.route(f"{base}/<object_id>", methods=["GET", "POST", "DELETE"])
        def one(object_id: str) -> Response:
            page = self._page_of_token()
            if isinstance(page, Response):
                return page
            if object_id in self.pages:
                if request.method != "GET":
                    return _error(400, 100, "(#100) Invalid parameter", "OAuthException")
                return self._page_fields(self.pages[object_id], request.args.get("fields", "id,name"))
            comment = self._visible_comment(page, object_id)
            if comment is not None and page is not None and request.method == "POST":
                refused = self._write_refused(page)
                if refused is not None:
                    return refused
                with self.lock:
                    comment["is_hidden"] = _params().get("is_hidden", "false") == "true"
                return _json({"success": True})
            if comment is not None and request.method == "GET":
                return _json(self._comment_fields(comment))
            post = self._visible_post(page, object_id)
            if post is None:
                verb = {"GET": "get", "POST": "post", "DELETE": "delete"}[request.method]
                return _error(400, 100, MISSING.format(verb=verb, id=object_id), "GraphMethodException", 33)
            if request.method == "GET":
                fields = self._post_fields(post, request.args.get("fields", "id"))
                return fields if isinstance(fields, Response) else _json(fields)
            refused = self._write_refused(page)
            if refused is not None:
                return refused
            with self.lock:
                if request.method == "DELETE":
                    del self.posts[object_id]
                else:
                    post["message"] = _params().get("message", post["message"])
            return _json({"success": True})

        @app.post(f"{base}/<page_id>/feed")
        def feed(page_id: str) -> Response:
            page = self._page_to_post_on(page_id)
            if isinstance(page, Response):
                return page
            params = _params()
            message = params.get("message", "")
            attached = [
                json.loads(value)["media_fbid"]
                for key, value in sorted(params.items())
                if key.startswith("attached_media[")
            ]
            if not message.strip() and not attached and not params.get("link"):
                return _error(400, 100, "(#100) Missing message or attachment", "OAuthException")
            for photo_id in attached:
                photo = self.photos.get(photo_id)
                if photo is None or photo["page_id"] != page.id or photo["published"]:
                    return _error(
                        400, 100, f"(#100) param attached_media[{photo_id}] is invalid", "OAuthException"
                    )
            if self._duplicate(page, message):
                return _error(400, 506, "(#506) Duplicate status message", "OAuthException")
            with self.lock:
                post = self._store_post(page, message, link=params.get("link"), photos=attached)
            return self._after_storing({"id": post["id"]})

        @app.post(f"{base}/<page_id>/photos")
        def photos(page_id: str) -> Response:
            page = self._page_to_post_on(page_id, write=_params().get("published", "true") != "false")
            if isinstance(page, Response):
                return page
            source = request.files.get("source")
            if source is None:
                return _error(400, 324, "(#324) Requires upload file", "OAuthException")
            params = _params()
            published = params.get("published", "true") != "false"
            with self.lock:
                photo_id = str(next(self._ids))
                self.photos[photo_id] = {
                    "id": photo_id,
                    "page_id": page.id,
                    "published": published,
                    "bytes": source.read(),
                    "content_type": source.mimetype,
                    "alt_text": params.get("alt_text_custom"),
                }
                if not published:
                    return _json({"id": photo_id})
                if self._duplicate(page, params.get("message", "")):
                    return _error(400, 506, "(#506) Duplicate status message", "OAuthException")
                self.photos[photo_id]["published"] = True
                post = self._store_post(page, params.get("message", ""), photos=[photo_id])
            return self._after_storing({"id": photo_id, "post_id": post["id"]})

        @app.get(f"{base}/<page_id>/published_posts")
        def published_posts(page_id: str) -> Response:
            page = self._page_of_token()
            if isinstance(page, Response):
                return page
            if page_id != page.id:
                return _error(403, 200, "(#200) Permissions error", "OAuthException")
            since = int(request.args.get("since", "0"))
            limit = min(int(request.args.get("limit", "25")), 100)
            start = _cursor_index(request.args.get("after"))
            with self.lock:
                posts = sorted(
                    (post for post in self.posts.values() if post["page_id"] == page.id),
                    key=lambda post: (post["created"], post["id"]),
                    reverse=True,
                )
            posts = [post for post in posts if post["created"].timestamp() >= since]
            chosen = posts[start : start + limit]
            fields = request.args.get("fields", "id,message,created_time")
            data = [self._post_fields(post, fields) for post in chosen]
            return _json({"data": data, **_paging(start, len(chosen), len(posts), request.base_url)})

        @app.route(f"{base}/<object_id>/comments", methods=["GET", "POST"])
        def comments(object_id: str) -> Response:
            page = self._page_of_token()
            if isinstance(page, Response):
                return page
            post = self._visible_post(page, object_id)
            parent = self._visible_comment(page, object_id) if post is None else None
            if page is None or (post is None and parent is None):
                verb = "get" if request.method == "GET" else "post"
                return _error(400, 100, MISSING.format(verb=verb, id=object_id), "GraphMethodException", 33)
            if request.method == "GET":
                return self._comments_page(post, parent)
            refused = self._write_refused(page)
            if refused is not None:
                return refused
            message = _params().get("message", "")
            if not message.strip():
                return _error(400, 100, "(#100) Missing message", "OAuthException")
            with self.lock:
                if parent is not None:
                    # A reply to a reply is made under the comment it replies to, as Facebook shows it.
                    top = self.comments[parent["parent"]] if parent["parent"] else parent
                    comment = self._store_comment(self.posts[top["post_id"]], page.id, message, parent=top)
                else:
                    assert post is not None
                    comment = self._store_comment(post, page.id, message)
            return self._after_storing({"id": comment["id"]})

        @app.post(f"{base}/<object_id>/likes")
        def likes(object_id: str) -> Response:
            page = self._page_of_token()
            if isinstance(page, Response):
                return page
            comment = self._visible_comment(page, object_id)
            if page is None or comment is None:
                return _error(400, 100, MISSING.format(verb="post", id=object_id), "GraphMethodException", 33)
            refused = self._write_refused(page)
            if refused is not None:
                return refused
            with self.lock:
                comment["liked_by"].add(page.id)
            return self._after_storing({"success": True})

        return app

    # -- Answers ----------------------------------------------------------------------------------------

    def _token(self) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") or header.startswith("OAuth "):
            return header.split(" ", 1)[1].strip()
        return _params().get("access_token") or None

    def _page_of_token(self, *, quiet: bool = False) -> Page | Response | None:
        token = self._token()
        if token is None:
            return (
                None if quiet else _error(400, 104, "An access token is required to request this resource.")
            )
        with self.lock:
            if token in self.invalid_tokens:
                subcode = self.invalid_tokens[token]
                if quiet:
                    return None
                words = {
                    460: "Error validating access token: The session has been invalidated because the user "
                    "changed their password or Facebook has changed the session for security reasons.",
                    463: "Error validating access token: Session has expired.",
                }.get(subcode, "Error validating access token.")
                return _error(400, 190, words, subcode=subcode)
            for page in self.pages.values():
                if page.token == token:
                    return page
        return None if quiet else _error(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _page_to_post_on(self, page_id: str, *, write: bool = True) -> Page | Response:
        page = self._page_of_token()
        if isinstance(page, Response):
            return page
        assert page is not None
        if page_id != page.id:
            return _error(
                403,
                200,
                "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as "
                "an admin with sufficient administrative permission",
            )
        if write:
            refused = self._write_refused(page)
            if refused is not None:
                return refused
        return page

    def _write_refused(self, page: Page) -> Response | None:
        if not page.can_post:
            return _error(
                403, 200, "(#200) The user hasn't authorized the application to perform this action"
            )
        with self.lock:
            failure = self.fail_next_writes.pop(0) if self.fail_next_writes else None
        if failure is None:
            return None
        if isinstance(failure, int):
            if self.failure_body == "text":
                return Response("Service Unavailable", status=failure, content_type="text/plain")
            return proxy_error_page(failure).response()
        return _error(
            failure.status, failure.code, failure.message, failure.type, failure.subcode, failure.is_transient
        )

    def _throttled(self, code: int, minutes: int) -> Response:
        words = {
            4: "(#4) Application request limit reached",
            17: "(#17) User request limit reached",
            32: "(#32) Page request limit reached",
            613: "(#613) Calls to this api have exceeded the rate limit.",
            80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again. "
            "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        }[code]
        response = _error(400, code, words, "OAuthException")
        if self.usage_headers:
            page = self._page_of_token(quiet=True)
            response.headers["X-App-Usage"] = json.dumps(
                {"call_count": 100 if code in (4, 17) else 20, "total_cputime": 10, "total_time": 10}
            )
            if page is not None:
                response.headers["X-Business-Use-Case-Usage"] = _business_usage(page.id, 100, minutes)
        return response

    def _after_storing(self, answer: dict[str, Any]) -> Response:
        with self.lock:
            misbehaviour = self.answer_after_storing.pop(0) if self.answer_after_storing else None
        if misbehaviour is None:
            return _json(answer)
        if misbehaviour == "disconnect":
            self.hang_up()
            return Response(status=500)
        if misbehaviour == "stall":
            self.stall()
            return _json(answer)
        assert isinstance(misbehaviour, int)
        return proxy_error_page(misbehaviour).response()

    def _store_post(
        self,
        page: Page,
        message: str,
        *,
        link: str | None = None,
        photos: list[str] | None = None,
        created: datetime | None = None,
    ) -> dict[str, Any]:
        post_id = f"{page.id}_{next(self._ids)}"
        post = {
            "id": post_id,
            "page_id": page.id,
            "message": message.replace("\r\n", "\n").strip(),
            "link": link,
            "photos": photos or [],
            "created": (created or self.now()).replace(microsecond=0),
            "comments": [],
            "reactions": 0,
            "shares": 0,
            "views": 0,
        }
        self.posts[post_id] = post
        return post

    def _store_comment(
        self,
        post: dict[str, Any],
        author: str,
        message: str,
        *,
        parent: dict[str, Any] | None = None,
        created: datetime | None = None,
    ) -> dict[str, Any]:
        comment = {
            "id": f"{post['id'].rsplit('_', 1)[-1]}_{next(self._ids)}",
            "post_id": post["id"],
            "parent": parent["id"] if parent is not None else None,
            "message": message.replace("\r\n", "\n").strip(),
            "created": (created or self.now()).replace(microsecond=0),
            "from": author,
            "is_hidden": False,
            "liked_by": set(),
        }
        post["comments"].append(comment)
        self.comments[comment["id"]] = comment
        return comment

    def _visible_comment(self, page: Page | None, comment_id: str) -> dict[str, Any] | None:
        with self.lock:
            comment = self.comments.get(comment_id)
            post = self.posts.get(comment["post_id"]) if comment is not None else None
        return comment if post is not None and page is not None and post["page_id"] == page.id else None

    def _comment_fields(self, comment: dict[str, Any]) -> dict[str, Any]:
        author = comment["from"]
        name = self.pages[author].name if author in self.pages else self.people[author]
        fields: dict[str, Any] = {
            "id": comment["id"],
            "message": comment["message"],
            "created_time": comment["created"].strftime(GRAPH_TIME),
            "from": {"id": author, "name": name},
            "permalink_url": f"https://www.facebook.com/{comment['post_id']}?comment_id={comment['id']}",
            "is_hidden": comment["is_hidden"],
        }
        if comment["parent"]:
            parent = self.comments[comment["parent"]]
            fields["parent"] = {
                "id": parent["id"],
                "message": parent["message"],
                "created_time": parent["created"].strftime(GRAPH_TIME),
            }
        return fields

    def _comments_page(self, post: dict[str, Any] | None, parent: dict[str, Any] | None) -> Response:
        """A page of a post's comments (or a comment's replies), by the edge's filter, order and cursors."""
        if self.while_reading_comments is not None:
            self.while_reading_comments()
        args = request.args
        since = int(args.get("since", "0"))
        limit = min(int(args.get("limit", "25")), 100)
        with self.lock:
            if parent is not None:
                chosen = [c for c in self.comments.values() if c["parent"] == parent["id"]]
            else:
                assert post is not None
                chosen = [c for c in post["comments"] if args.get("filter") == "stream" or not c["parent"]]
            # Graph's order of a comments edge: by time, then as they were made.
            ordered = sorted(chosen, key=lambda c: (c["created"], int(c["id"].rsplit("_", 1)[-1])))
            if args.get("order") == "reverse_chronological":
                ordered.reverse()
            ordered = [c for c in ordered if c["created"].timestamp() >= since]
            start = 0
            if args.get("after"):
                # A cursor names the comment a page ended with: comments added meanwhile do not move it.
                after = base64.urlsafe_b64decode(args["after"].encode()).decode()
                start = next((i + 1 for i, c in enumerate(ordered) if c["id"] == after), len(ordered))
            page = ordered[start : start + limit]
            data = [self._comment_fields(c) for c in page]
        answer: dict[str, Any] = {"data": data}
        if page:
            cursors = {
                "before": base64.urlsafe_b64encode(page[0]["id"].encode()).decode(),
                "after": base64.urlsafe_b64encode(page[-1]["id"].encode()).decode(),
            }
            answer["paging"] = {"cursors": cursors}
            if start + limit < len(ordered):
                answer["paging"]["next"] = f"{request.base_url}?after={cursors['after']}"
        return _json(answer)

    def _duplicate(self, page: Page, message: str) -> bool:
        """Graph refuses a post whose message repeats the Page's latest post."""
        with self.lock:
            posts = [post for post in self.posts.values() if post["page_id"] == page.id]
        if not posts or not message.strip():
            return False
        latest = max(posts, key=lambda post: (post["created"], post["id"]))
        return bool(latest["message"] == message.replace("\r\n", "\n").strip())

    def _visible_post(self, page: Page | None, post_id: str) -> dict[str, Any] | None:
        with self.lock:
            post = self.posts.get(post_id)
        return post if post is not None and page is not None and post["page_id"] == page.id else None

    def _post_fields(self, post: dict[str, Any], fields: str) -> dict[str, Any] | Response:
        answer: dict[str, Any] = {"id": post["id"]}
        for name, argument in _fields(fields):
            if name == "message" and post["message"]:
                answer["message"] = post["message"]
            elif name == "created_time":
                answer["created_time"] = post["created"].strftime(GRAPH_TIME)
            elif name == "reactions":
                answer["reactions"] = {
                    "data": [],
                    "summary": {"total_count": post["reactions"], "viewer_reaction": "NONE"},
                }
            elif name == "comments":
                count = len(post["comments"])
                answer["comments"] = {
                    "data": [],
                    "summary": {"order": "ranked", "total_count": count, "can_comment": True},
                }
            elif name == "shares" and post["shares"]:
                answer["shares"] = {"count": post["shares"]}
            elif name == "insights":
                metric = argument.get("metric", "")
                if metric in self.retired_metrics:
                    return _error(
                        400, 100, "(#100) The value must be a valid insights metric", "OAuthException"
                    )
                answer["insights"] = {
                    "data": [
                        {
                            "name": metric,
                            "period": "lifetime",
                            "values": [{"value": post["views"]}],
                            "title": "Post views",
                            "id": f"{post['id']}/insights/{metric}/lifetime",
                        }
                    ]
                }
        return answer

    def _page_fields(self, page: Page, fields: str) -> Response:
        known = {
            "id": page.id,
            "name": page.name,
            "username": page.username,
            "link": f"https://www.facebook.com/{page.username}",
            "followers_count": page.followers_count,
            "fan_count": page.fan_count,
        }
        return _json({name: known[name] for name, _ in _fields(fields) if name in known})

    def _access_token(self, params: dict[str, str]) -> Response:
        if params.get("client_id") != self.client_id:
            return _error(400, 101, "Error validating application. Invalid application ID.")
        if params.get("client_secret") != self.client_secret:
            return _error(400, 1, "Error validating client secret.")
        if params.get("grant_type") == "fb_exchange_token":
            with self.lock:
                held = self.user_tokens.get(params.get("fb_exchange_token", ""))
                if held is None:
                    return _error(400, 190, "Invalid OAuth access token - Cannot parse access token")
                token = f"EAAL{secrets.token_hex(20)}"
                self.user_tokens[token] = (held[0], True)
            return _json({"access_token": token, "token_type": "bearer", "expires_in": 5183944})
        with self.lock:
            grant = self.codes.get(params.get("code", ""))
            if grant is None:
                return _error(400, 100, "Invalid verification code format.")
            if grant.used:
                return _error(400, 100, "This authorization code has been used.", subcode=36009)
            if grant.redirect_uri != params.get("redirect_uri"):
                return _error(
                    400,
                    100,
                    "Error validating verification code. Please make sure your redirect_uri "
                    "is identical to the one you used in the OAuth dialog request",
                    subcode=36008,
                )
            grant.used = True
            token = f"EAAS{secrets.token_hex(20)}"
            self.user_tokens[token] = (grant.user_id, False)
        return _json({"access_token": token, "token_type": "bearer", "expires_in": 5183})

    def _accounts(self) -> Response:
        token = self._token() or ""
        with self.lock:
            held = self.user_tokens.get(token)
            if held is None:
                return _error(400, 190, "Invalid OAuth access token - Cannot parse access token")
            user = self.users[held[0]]
            data = [
                {
                    "id": page_id,
                    "name": self.pages[page_id].name,
                    "category": "Café",
                    "access_token": self.pages[page_id].token,
                    "tasks": tasks,
                }
                for page_id, tasks in user.pages.items()
            ]
        start = _cursor_index(request.args.get("after"))
        limit = int(request.args.get("limit", "25"))
        chosen = data[start : start + limit]
        return _json({"data": chosen, **_paging(start, len(chosen), len(data), request.base_url)})


def serving_one_account() -> tuple[FakeGraph, dict[str, Any]]:
    """A started fake Graph with one Page ready to post as, and how to connect a channel to it.

    Returns the fake (stop() it when done) and `{"settings": …, "credentials": …, "environment": …}`: the
    channel's settings and credentials, and the Crier settings that point the adapter at the fake
    (with CRIER_ALLOWED_PRIVATE_HOSTS=127.0.0.1).
    """
    fake = FakeGraph().start()
    page = fake.add_page("Crier Café")
    return fake, {
        "settings": {"page_id": page.id},
        "credentials": {"page_access_token": page.token},
        "environment": {
            "CRIER_FACEBOOK_GRAPH_URL": fake.base_url,
            "CRIER_FACEBOOK_GRAPH_VERSION": fake.version,
            "CRIER_FACEBOOK_DIALOG_URL": fake.base_url,
            "CRIER_FACEBOOK_CLIENT_ID": fake.client_id,
            "CRIER_FACEBOOK_CLIENT_SECRET": fake.client_secret,
        },
    }


def _params() -> dict[str, str]:
    return {**request.args.to_dict(), **request.form.to_dict()}


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=UTF-8")


def _error(
    status: int,
    code: int,
    message: str,
    type_: str = "OAuthException",
    subcode: int | None = None,
    is_transient: bool | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    error["fbtrace_id"] = base64.b64encode(uuid.uuid4().bytes[:8]).decode().rstrip("=")
    response = _json({"error": error}, status)
    if code == 190:
        response.headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return response


def _business_usage(page_id: str, percent: int, minutes: int) -> str:
    usage = {
        "type": "pages",
        "call_count": percent,
        "total_cputime": percent // 2,
        "total_time": percent // 2,
        "estimated_time_to_regain_access": minutes,
    }
    return json.dumps({page_id: [usage]})


def _fields(fields: str) -> list[tuple[str, dict[str, str]]]:
    """Graph's field list with expansion, `a,b.summary(total_count).limit(0),insights.metric(x)`: each
    field's name and its modifiers."""
    parsed = []
    depth, current = 0, ""
    for char in fields + ",":
        if char == "," and depth == 0:
            if current:
                name, *modifiers = current.split(".")
                arguments = {}
                for modifier in modifiers:
                    key, _, value = modifier.partition("(")
                    arguments[key] = value.rstrip(")")
                parsed.append((name, arguments))
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return parsed


def _cursor_index(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.urlsafe_b64decode(cursor.encode()).decode())


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _paging(start: int, count: int, total: int, url: str) -> dict[str, Any]:
    if count == 0:
        return {}
    paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(start + count)}}
    if start + count < total:
        paging["next"] = f"{url}?after={_cursor(start + count)}"
    return {"paging": paging}
