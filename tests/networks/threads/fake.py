"""A Threads API of our own for the adapter's tests: real HTTP on 127.0.0.1, answering as Meta's Threads API
v1.0 does (graph.threads.net/v1.0).

It follows Meta's Threads API documentation (developers.facebook.com/docs/threads): posts (POST
/{threads-user-id}/threads makes a TEXT, IMAGE, VIDEO or CAROUSEL container, `is_carousel_item`, `children`
of 2 to 20, `reply_to_id`, `reply_control`, `alt_text` of at most 1,000 characters; POST
/{threads-user-id}/threads_publish?creation_id=… answers the media id; text of at most 500 characters, an
emoji counting its UTF-8 bytes; at most 5 links, THREADS_API__LINK_LIMIT_EXCEEDED), troubleshooting (GET
/{container-id}?fields=status,error_message: IN_PROGRESS, FINISHED, PUBLISHED, ERROR with
FAILED_DOWNLOADING_VIDEO…, EXPIRED after 24 hours), overview (250 posts and 1,000 replies in a moving 24
hours, GET /{threads-user-id}/threads_publishing_limit with quota_usage, config, reply_quota_usage,
reply_config), threads-media (GET /{threads-user-id}/threads: id, text, timestamp as
`2023-10-17T05:42:03+0000`, permalink, media_type TEXT_POST/IMAGE/VIDEO/CAROUSEL_ALBUM; `since`, `limit` up
to 100, cursors under `paging`; GET /{threads-media-id}), reply-management (GET /{media-id}/replies: the
direct replies, with `is_reply_owned_by_me`; GET /{media-id}/conversation: every reply under a post at any
depth, flattened, newest first unless `reverse=false`, with `root_post`, `replied_to`, `username`,
`permalink`, `hide_status` and `profile_picture_url`, by cursors that stay put as replies are added; POST
/{reply-id}/manage_reply with `hide`, answering `{"success": true}`, for a top-level reply under the
caller's own post only, hiding the replies under it with it), insights (GET
/{media-id}/insights?metric=views,likes,replies,reposts,quotes,shares, `values: [{value}]`; GET
/{threads-user-id}/threads_insights?metric=followers_count,
`total_value`), posts/delete-posts (DELETE /{threads-media-id} answers `{"success": true, "deleted_id"}`),
get-started (the authorization window; POST /oauth/access_token answers a short-lived token and the user id,
or `{"error_type": "OAuthException", "code": 400, "error_message": "Matching code was not found or was
already used"}`; GET /access_token?grant_type=th_exchange_token and GET
/refresh_access_token?grant_type=th_refresh_token answer a long-lived token and `expires_in`, 60 days), and
the Graph API's error object `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`: 190 for
a token that is invalid or expired (subcode 463), 100 for a bad parameter, 100 with subcode 33 for an object
that does not exist. Tokens are taken as Meta takes them: in the Authorization header or as `access_token`.

Threads fetches each image and video from its `image_url` or `video_url` over HTTP, really: an image when its
container is made (a failure is a 400), a video while it is processed (a failure leaves the container ERROR,
FAILED_DOWNLOADING_VIDEO). Meta documents no code for a publish over the quota nor for a container that is
not ready; the fake answers Graph's rate-limit code 4 and, for the second, code 24 subcode 4279009 (what
Instagram's content publishing answers).

Switches make it fail as the real service and the proxies before it do: `processing_polls` (a container
stays IN_PROGRESS for that many status reads), `fail_next_publishes` (statuses answered before anything is
published, None to let that publish through: a Graph error body by `graph_code`, or a proxy's page),
`answer_after_publishing` (the post is made, then a proxy's 502/504/503/524 page, "disconnect" for a
hang-up, "stall" for no answer until the client gives up, "html200" for a maintenance page with 200, "no
content type" for the right JSON without a Content-Type), `error_body` ("json", "text" or "html" for
refusals), `rate_limited_code` (the next calls answer Graph's 4, 17, 32 or 613), `transient_code` (1 or 2,
with a 500), `retired_metrics` (metrics the insights endpoint refuses as unknown), `video_error` (a
video's container ends in ERROR with this message) and `quota_usage` / `reply_quota_usage` (usage beyond
the posts the fake holds). A token expires with `expire`, and the fake's clock moves on with `advance`.
Other people reply with `reply_as`; `while_reading_replies` runs before each page of a conversation is
answered (people replying while Crier reads).
"""

from __future__ import annotations

import itertools
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from flask import Flask, Response, jsonify, request

from shared.text.threads import THREADS_LINK_LIMIT, THREADS_TEXT_LIMIT, link_count, threads_length
from tests.networks.fake_servers import FakeServer
from tests.networks.misbehaving_proxy import proxy_error_page

API_VERSION = "v1.0"
POSTS_QUOTA, REPLIES_QUOTA, QUOTA_WINDOW = 250, 1000, timedelta(hours=24)
CONTAINER_LIFETIME = timedelta(hours=24)
LONG_LIVED = timedelta(days=60)
SHORT_LIVED = timedelta(hours=1)
METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
IMAGE_TYPES = ("image/jpeg", "image/png")
ALT_TEXT_LIMIT = 1000
CAROUSEL_CHILDREN = (2, 20)
_FIRST_TAG_HASH = re.compile(r"(?:^|(?<=\s))#(?=[^\s.&#])")
RATE_LIMIT_MESSAGES = {
    4: "Application request limit reached",
    17: "User request limit reached",
    32: "Page request limit reached",
    613: "Calls to this api have exceeded the rate limit.",
}


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    followers_count: int = 0


@dataclass
class Container:
    id: str
    owner: str
    media_type: str
    text: str | None
    status: str
    created_at: datetime
    reply_to_id: str | None = None
    children: list[str] = field(default_factory=list)
    media_url: str | None = None
    is_carousel_item: bool = False
    polls_left: int = 0
    error_message: str | None = None


@dataclass
class Media:
    id: str
    owner: str
    media_type: str
    text: str | None
    timestamp: datetime
    shortcode: str
    reply_to_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    hidden: bool = False


@dataclass
class Token:
    user_id: str
    expires_at: datetime
    long_lived: bool
    issued_at: datetime


class GraphError(Exception):
    def __init__(
        self, status: int, message: str, code: int, subcode: int | None = None, *, transient: bool = True
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.subcode = status, message, code, subcode
        self.transient = transient


class FakeThreads(FakeServer):
    """Meta's Threads API for a few users, served on a free port of 127.0.0.1."""

    def __init__(self, *, client_id: str = "990602627938098", client_secret: str = "app-secret") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        # Switches a test flips.
        self.processing_polls = 0
        self.fail_next_publishes: list[int | None] = []  # None: that publish goes through
        self.graph_code: int | None = None
        self.answer_after_publishing: list[int | str | None] = []  # None: answered as usual
        self.error_body = "json"
        self.rate_limited_code: int | None = None
        self.transient_code: int | None = None
        self.retired_metrics: set[str] = set()
        self.video_error: str | None = None  # a processing error every video ends in (INVALID_DURATION…)
        self.stall_seconds = 5.0

        self.lock = threading.RLock()
        self.offset = timedelta()
        self.users: dict[str, FakeUser] = {}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, tuple[str, str]] = {}  # code: (user id, redirect uri)
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.publishes: list[str] = []  # container ids, as threads_publish was asked for each, failed too
        self.fetched: list[str] = []  # media addresses fetched
        self.quota_usage: dict[str, int] = {}
        self.reply_quota_usage: dict[str, int] = {}
        self.while_reading_replies: Callable[[], None] | None = None
        self._ids = itertools.count(17_841_405_793_187_218)
        super().__init__(self._build_app())

    # -- What a test does to it ------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.offset += delta

    def add_user(self, username: str, token: str | None = None, *, followers: int = 0) -> FakeUser:
        with self.lock:
            user = FakeUser(str(next(self._ids)), username, username.title(), followers)
            self.users[user.id] = user
            self.issue(user, token or uuid.uuid4().hex)
            return user

    def issue(self, user: FakeUser, token: str, *, long_lived: bool = True) -> str:
        with self.lock:
            lifetime = LONG_LIVED if long_lived else SHORT_LIVED
            self.tokens[token] = Token(user.id, self.now() + lifetime, long_lived, self.now())
        return token

    def expire(self, token: str) -> None:
        with self.lock:
            self.tokens[token].expires_at = self.now() - timedelta(seconds=1)

    def approve(self, authorize_url: str, user: FakeUser) -> str:
        """The person, signed in as `user`, allows the app on the authorization window: where Threads sends
        their browser (the redirect URI with `code`, `state`, and the `#_` Meta appends)."""
        url = urllib.parse.urlsplit(authorize_url)
        query = dict(urllib.parse.parse_qsl(url.query))
        assert url.path == "/oauth/authorize", authorize_url
        assert query["client_id"] == self.client_id
        assert query["response_type"] == "code"
        assert "threads_basic" in query["scope"].split(","), "threads_basic is required"
        code = uuid.uuid4().hex
        with self.lock:
            self.codes[code] = (user.id, query["redirect_uri"])
        back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(back)}#_"

    def posts_of(self, user: FakeUser) -> list[Media]:
        with self.lock:
            return [media for media in self.media.values() if media.owner == user.id]

    def reply_as(self, user: FakeUser, reply_to: str, text: str, *, created: datetime | None = None) -> Media:
        """`user` replies to the post or reply `reply_to` (made outside Crier)."""
        with self.lock:
            media = Media(
                id=str(next(self._ids)),
                owner=user.id,
                media_type="TEXT_POST",
                text=text,
                timestamp=(created or self.now()).replace(microsecond=0),
                shortcode=uuid.uuid4().hex[:11],
                reply_to_id=self._media(reply_to).id,
            )
            self.media[media.id] = media
            return media

    def post_as(self, user: FakeUser, text: str, *, created: datetime | None = None) -> Media:
        """`user` posts (outside Crier)."""
        with self.lock:
            media = Media(
                id=str(next(self._ids)),
                owner=user.id,
                media_type="TEXT_POST",
                text=text,
                timestamp=(created or self.now()).replace(microsecond=0),
                shortcode=uuid.uuid4().hex[:11],
            )
            self.media[media.id] = media
            return media

    def root_of(self, media: Media) -> Media:
        with self.lock:
            while media.reply_to_id is not None:
                media = self.media[media.reply_to_id]
            return media

    def set_counts(self, media_id: str, **counts: int) -> None:
        with self.lock:
            self.media[media_id].counts.update(counts)

    # -- The service -----------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        prefix = f"/{API_VERSION}"

        @app.errorhandler(GraphError)
        def graph_error(error: GraphError) -> Response:
            return self._error(error)

        @app.post(f"{prefix}/<user_id>/threads")
        def create(user_id: str) -> Response:
            user = self._caller(user_id)
            return jsonify({"id": self._create(user, request.values)})

        @app.post(f"{prefix}/<user_id>/threads_publish")
        def publish(user_id: str) -> Response:
            user = self._caller(user_id)
            self.publishes.append(request.values.get("creation_id", ""))
            failing = self.fail_next_publishes.pop(0) if self.fail_next_publishes else None
            if failing is not None:
                return self._failure(failing)
            media_id = self._publish(user, request.values.get("creation_id", ""))
            lost = self.answer_after_publishing.pop(0) if self.answer_after_publishing else None
            if lost is not None:
                return self._lost(lost, media_id)
            return jsonify({"id": media_id})

        @app.get(f"{prefix}/<user_id>/threads")
        def threads_of(user_id: str) -> Response:
            user = self._caller(user_id)
            since = int(request.args.get("since", "0"))
            posts = [
                media
                for media in self.posts_of(user)
                if media.reply_to_id is None and media.timestamp.timestamp() >= since
            ]
            posts.sort(key=lambda media: media.timestamp, reverse=True)
            return self._page(posts, user)

        @app.get(f"{prefix}/<media_id>/replies")
        def replies(media_id: str) -> Response:
            user = self._caller()
            parent = self._media(media_id)
            found = [media for media in self.media.values() if media.reply_to_id == parent.id]
            found.sort(
                key=lambda media: media.timestamp, reverse=request.args.get("reverse", "true") == "true"
            )
            return self._page(found, user)

        @app.get(f"{prefix}/<media_id>/conversation")
        def conversation(media_id: str) -> Response:
            user = self._caller()
            root = self._media(media_id)
            if self.while_reading_replies is not None:
                self.while_reading_replies()
            with self.lock:
                found = [
                    media
                    for media in self.media.values()
                    if media.reply_to_id is not None and media.id != root.id and self.root_of(media) is root
                ]
            # By time, then as they were made; newest first unless reverse=false.
            found.sort(key=lambda media: (media.timestamp, int(media.id)))
            if request.args.get("reverse", "true") == "true":
                found.reverse()
            return self._page_by_id(found, user)

        @app.post(f"{prefix}/<reply_id>/manage_reply")
        def manage_reply(reply_id: str) -> Response:
            user = self._caller()
            reply = self._media(reply_id)
            with self.lock:
                parent = self.media.get(reply.reply_to_id or "")
                if parent is None or parent.reply_to_id is not None or parent.owner != user.id:
                    raise GraphError(
                        400,
                        "(#100) Only a top-level reply to your own post can be hidden",
                        100,
                        transient=False,
                    )
                reply.hidden = request.values.get("hide", "false") == "true"
            return jsonify({"success": True})

        @app.get(f"{prefix}/<user_id>/threads_publishing_limit")
        def publishing_limit(user_id: str) -> Response:
            user = self._caller(user_id)
            posts, replies = self._usage(user)
            fields = request.args.get("fields", "quota_usage").split(",")
            row: dict[str, Any] = {}
            if "quota_usage" in fields:
                row["quota_usage"] = posts
            if "config" in fields:
                row["config"] = {"quota_total": POSTS_QUOTA, "quota_duration": 86400}
            if "reply_quota_usage" in fields:
                row["reply_quota_usage"] = replies
            if "reply_config" in fields:
                row["reply_config"] = {"quota_total": REPLIES_QUOTA, "quota_duration": 86400}
            return jsonify({"data": [row]})

        @app.get(f"{prefix}/<media_id>/insights")
        def insights(media_id: str) -> Response:
            self._caller()
            media = self._media(media_id)
            asked = request.args.get("metric", "").split(",")
            for position, metric in enumerate(asked):
                if metric not in METRICS or metric in self.retired_metrics:
                    known = ", ".join(name for name in METRICS if name not in self.retired_metrics)
                    raise GraphError(
                        400, f"(#100) metric[{position}] must be one of the following values: {known}", 100
                    )
            return jsonify(
                {
                    "data": [
                        {
                            "name": metric,
                            "period": "lifetime",
                            "values": [{"value": media.counts.get(metric, 0)}],
                            "title": metric.title(),
                            "id": f"{media.id}/insights/{metric}/lifetime",
                        }
                        for metric in asked
                    ]
                }
            )

        @app.get(f"{prefix}/<user_id>/threads_insights")
        def user_insights(user_id: str) -> Response:
            user = self._caller(user_id)
            if request.args.get("metric") != "followers_count":
                raise GraphError(400, "(#100) The value must be a valid insights metric", 100)
            return jsonify(
                {
                    "data": [
                        {
                            "name": "followers_count",
                            "period": "day",
                            "title": "followers_count",
                            "total_value": {"value": user.followers_count},
                            "id": f"{user.id}/insights/followers_count/day",
                        }
                    ]
                }
            )

        @app.get(f"{prefix}/<object_id>")
        def read(object_id: str) -> Response:
            user = self._caller()
            if object_id == "me" or object_id == user.id:
                return jsonify({"id": user.id, "username": user.username, "name": user.name})
            with self.lock:
                container = self.containers.get(object_id)
                if container is not None and container.owner == user.id:
                    return jsonify(self._status_of(container))
            return jsonify(self._shown(self._media(object_id), user))

        @app.delete(f"{prefix}/<media_id>")
        def delete(media_id: str) -> Response:
            user = self._caller()
            media = self._media(media_id)
            if media.owner != user.id:
                raise GraphError(400, "(#10) Application does not have permission for this action", 10)
            with self.lock:
                del self.media[media.id]
            return jsonify({"success": True, "deleted_id": media.id})

        @app.post("/oauth/access_token")
        def exchange_code() -> Response:
            form = request.form
            code = self.codes.pop(form.get("code", ""), None)
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return self._oauth_error("Error validating client secret.")
            if form.get("grant_type") != "authorization_code":
                return self._oauth_error("Unsupported grant_type")
            if code is None or code[1] != form.get("redirect_uri"):
                return self._oauth_error("Matching code was not found or was already used")
            token = self.issue(self.users[code[0]], uuid.uuid4().hex, long_lived=False)
            return jsonify({"access_token": token, "user_id": int(code[0])})

        @app.get("/access_token")
        def long_lived() -> Response:
            if request.args.get("grant_type") != "th_exchange_token":
                raise GraphError(400, "Unsupported grant_type", 100)
            if request.args.get("client_secret") != self.client_secret:
                raise GraphError(400, "Error validating client secret.", 1, transient=False)
            token = self._token(request.args.get("access_token", ""))
            if token.long_lived:
                raise GraphError(400, "(#100) The access token is already long-lived", 100)
            return self._long_lived_answer(token.user_id)

        @app.get("/refresh_access_token")
        def refresh() -> Response:
            if request.args.get("grant_type") != "th_refresh_token":
                raise GraphError(400, "Unsupported grant_type", 100)
            old = request.args.get("access_token", "")
            token = self._token(old)
            if not token.long_lived or self.now() - token.issued_at < timedelta(hours=24):
                raise GraphError(400, "(#100) The token must be long-lived and at least 24 hours old", 100)
            with self.lock:
                del self.tokens[old]
            return self._long_lived_answer(token.user_id)

        return app

    # -- Parts of the service --------------------------------------------------------------------------

    def _caller(self, user_id: str | None = None) -> FakeUser:
        """The user whose token the request carries; the path's user must be them (or `me`)."""
        if self.rate_limited_code is not None:
            code = self.rate_limited_code
            raise GraphError(403 if code == 4 else 400, RATE_LIMIT_MESSAGES[code], code)
        if self.transient_code is not None:
            message = (
                "An unknown error occurred" if self.transient_code == 1 else "Service temporarily unavailable"
            )
            raise GraphError(500, message, self.transient_code)
        header = request.headers.get("Authorization", "")
        value = (
            header.removeprefix("Bearer ")
            if header.startswith("Bearer ")
            else request.values.get("access_token", "")
        )
        token = self._token(value)
        user = self.users[token.user_id]
        if user_id is not None and user_id not in ("me", user.id):
            raise GraphError(
                400, f"(#100) Unsupported post request. Object with ID '{user_id}' does not exist", 100, 33
            )
        return user

    def _token(self, value: str) -> Token:
        with self.lock:
            token = self.tokens.get(value)
        if token is None:
            raise GraphError(400, "Invalid OAuth access token - Cannot parse access token", 190)
        if token.expires_at <= self.now():
            raise GraphError(400, "Error validating access token: Session has expired", 190, 463)
        return token

    def _create(self, user: FakeUser, values: Any) -> str:
        media_type = values.get("media_type", "")
        text = values.get("text")
        is_item = values.get("is_carousel_item") == "true"
        if media_type not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
            raise GraphError(
                400, "(#100) Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}", 100
            )
        if media_type == "TEXT" and not text:
            raise GraphError(400, "(#100) The parameter text is required for TEXT posts", 100)
        if text is not None and threads_length(text) > THREADS_TEXT_LIMIT:
            raise GraphError(
                400, f"(#100) Param text must be at most {THREADS_TEXT_LIMIT} characters long.", 100
            )
        if text is not None and link_count(text, values.get("link_attachment")) > THREADS_LINK_LIMIT:
            raise GraphError(
                400, "THREADS_API__LINK_LIMIT_EXCEEDED: a post takes at most 5 links", 100, 4279023
            )
        if len(values.get("alt_text") or "") > ALT_TEXT_LIMIT:
            raise GraphError(400, "(#100) Param alt_text must be at most 1000 characters long.", 100)
        reply_to = values.get("reply_to_id")
        if reply_to is not None:
            self._media(reply_to)
        container = Container(
            id=str(next(self._ids)),
            owner=user.id,
            media_type=media_type,
            text=text,
            status="FINISHED",
            created_at=self.now(),
            reply_to_id=reply_to,
            is_carousel_item=is_item,
            polls_left=self.processing_polls,
        )
        if media_type == "IMAGE":
            container.media_url = self._fetch(values.get("image_url", ""), image=True)
        elif media_type == "VIDEO":
            container.media_url = values.get("video_url", "")
            if not self._fetched_video(container.media_url):
                container.error_message = "FAILED_DOWNLOADING_VIDEO"
            elif self.video_error is not None:
                container.error_message = self.video_error
        elif media_type == "CAROUSEL":
            container.children = [child for child in values.get("children", "").split(",") if child]
            low, high = CAROUSEL_CHILDREN
            if not low <= len(container.children) <= high:
                raise GraphError(400, f"(#100) A carousel takes {low} to {high} children", 100)
            for child in container.children:
                item = self.containers.get(child)
                if (
                    item is None
                    or not item.is_carousel_item
                    or item.owner != user.id
                    or item.status != "FINISHED"
                ):
                    raise GraphError(
                        400, f"(#100) The carousel item {child} is not ready or not an item", 100
                    )
        with self.lock:
            self.containers[container.id] = container
        return container.id

    def _fetch(self, url: str, *, image: bool) -> str:
        """Fetch the file over HTTP as Threads does; an image that cannot be had is refused at once."""
        try:
            answer = httpx.get(url, timeout=5.0)
        except httpx.HTTPError:
            answer = None
        self.fetched.append(url)
        if answer is None or answer.status_code != 200:
            raise GraphError(
                400, "Media download has failed. The media URI doesn't meet our requirements.", 9004, 2207052
            )
        if image and answer.headers.get("Content-Type", "").split(";")[0] not in IMAGE_TYPES:
            raise GraphError(400, "Only photo or video can be accepted as media type.", 9004, 2207026)
        return url

    def _fetched_video(self, url: str) -> bool:
        try:
            self._fetch(url, image=False)
        except GraphError:
            return False
        return True

    def _status_of(self, container: Container) -> dict[str, Any]:
        if container.status == "FINISHED" and self.now() - container.created_at > CONTAINER_LIFETIME:
            container.status = "EXPIRED"
        if container.status == "FINISHED" and container.polls_left > 0:
            container.polls_left -= 1
            answer = {"id": container.id, "status": "IN_PROGRESS"}
        elif container.error_message and container.status == "FINISHED":
            answer = {"id": container.id, "status": "ERROR", "error_message": container.error_message}
        else:
            answer = {"id": container.id, "status": container.status}
        fields = request.args.get("fields", "id,status").split(",")
        return {name: value for name, value in answer.items() if name in fields or name == "id"}

    def _publish(self, user: FakeUser, creation_id: str) -> str:
        with self.lock:
            container = self.containers.get(creation_id)
            if container is None or container.owner != user.id or container.is_carousel_item:
                raise GraphError(
                    400, f"(#100) Param creation_id {creation_id!r} is not a valid container", 100
                )
            if container.status == "PUBLISHED":
                raise GraphError(400, "(#100) The container was already published", 100, 2207008)
            if container.polls_left > 0 or container.error_message or container.status != "FINISHED":
                raise GraphError(
                    400, "The media is not ready for publishing, please wait for a moment", 24, 4279009
                )
            posts, replies = self._usage(user)
            if container.reply_to_id is None and posts >= POSTS_QUOTA:
                raise GraphError(400, "The user has reached the publishing limit", 4)
            if container.reply_to_id is not None and replies >= REPLIES_QUOTA:
                raise GraphError(400, "The user has reached the reply publishing limit", 4)
            kind = {"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}.get(
                container.media_type, container.media_type
            )
            media = Media(
                id=str(next(self._ids)),
                owner=user.id,
                media_type=kind,
                text=container.text,
                timestamp=self.now().replace(microsecond=0),
                shortcode=uuid.uuid4().hex[:11],
                reply_to_id=container.reply_to_id,
            )
            self.media[media.id] = media
            container.status = "PUBLISHED"
            return media.id

    def _usage(self, user: FakeUser) -> tuple[int, int]:
        since = self.now() - QUOTA_WINDOW
        recent = [media for media in self.posts_of(user) if media.timestamp >= since]
        posts = sum(1 for media in recent if media.reply_to_id is None) + self.quota_usage.get(user.id, 0)
        replies = sum(1 for media in recent if media.reply_to_id is not None)
        return posts, replies + self.reply_quota_usage.get(user.id, 0)

    def _media(self, media_id: str) -> Media:
        with self.lock:
            media = self.media.get(media_id)
        if media is None:
            raise GraphError(
                400,
                f"(#100) Unsupported get request. Object with ID '{media_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation",
                100,
                33,
            )
        return media

    def _shown(self, media: Media, user: FakeUser) -> dict[str, Any]:
        owner = self.users[media.owner]
        shown: dict[str, Any] = {
            "id": media.id,
            "media_product_type": "THREADS",
            "media_type": media.media_type,
            "permalink": f"https://www.threads.com/@{owner.username}/post/{media.shortcode}",
            "username": owner.username,
            # "The text is also configured in the app without the hash sign" (posts, "Tags").
            "text": _FIRST_TAG_HASH.sub("", media.text, count=1) if media.text is not None else None,
            "timestamp": media.timestamp.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "shortcode": media.shortcode,
            "is_reply": media.reply_to_id is not None,
        }
        if media.reply_to_id is not None:
            shown["is_reply_owned_by_me"] = media.owner == user.id
            shown["replied_to"] = {"id": media.reply_to_id}
            shown["root_post"] = {"id": self.root_of(media).id}
            shown["hide_status"] = "HIDDEN" if media.hidden else "NOT_HUSHED"
            shown["profile_picture_url"] = f"https://scontent.example/{owner.username}.jpg"
        fields = request.args.get("fields", "id").split(",")
        return {name: value for name, value in shown.items() if name in fields and value is not None}

    def _page(self, found: list[Media], user: FakeUser) -> Response:
        limit = min(int(request.args.get("limit", "25")), 100)
        start = int(request.args.get("after", "0") or "0")
        page = found[start : start + limit]
        body: dict[str, Any] = {"data": [self._shown(media, user) for media in page]}
        if start + limit < len(found):
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + limit)}, "next": "more"}
        return jsonify(body)

    def _page_by_id(self, found: list[Media], user: FakeUser) -> Response:
        """A page whose cursor names the last media of the page: media added meanwhile do not move it."""
        limit = min(int(request.args.get("limit", "25")), 100)
        after = request.args.get("after")
        start = 0
        if after:
            start = next((index + 1 for index, media in enumerate(found) if media.id == after), len(found))
        page = found[start : start + limit]
        body: dict[str, Any] = {"data": [self._shown(media, user) for media in page]}
        if page:
            body["paging"] = {"cursors": {"before": page[0].id, "after": page[-1].id}}
            if start + limit < len(found):
                body["paging"]["next"] = "more"
        return jsonify(body)

    def _long_lived_answer(self, user_id: str) -> Response:
        token = self.issue(self.users[user_id], uuid.uuid4().hex)
        return jsonify(
            {"access_token": token, "token_type": "bearer", "expires_in": int(LONG_LIVED.total_seconds())}
        )

    # -- Answers ---------------------------------------------------------------------------------------

    def _error(self, error: GraphError) -> Response:
        if self.error_body == "text":
            return Response(error.message, status=error.status, content_type="text/plain")
        if self.error_body == "html":
            return proxy_error_page(error.status if error.status >= 500 else 502).response()
        body: dict[str, Any] = {
            "message": error.message,
            "type": "OAuthException" if error.code in (190, 10) else "THApiException",
            "code": error.code,
            "fbtrace_id": uuid.uuid4().hex[:11],
        }
        if error.subcode is not None:
            body["error_subcode"] = error.subcode
        if error.code in (1, 2):
            body["is_transient"] = error.transient
        return Response(
            jsonify({"error": body}).get_data(), status=error.status, content_type="application/json"
        )

    def _oauth_error(self, message: str) -> Response:
        body = {"error_type": "OAuthException", "code": 400, "error_message": message}
        return Response(jsonify(body).get_data(), status=400, content_type="application/json")

    def _failure(self, status: int) -> Response:
        if self.graph_code is not None:
            return self._error(GraphError(status, "Service temporarily unavailable", self.graph_code))
        return proxy_error_page(status).response()

    def _lost(self, how: int | str, media_id: str) -> Response:
        if how == "disconnect":
            self.hang_up()
            return Response(status=500)
        if how == "stall":
            self.stall(self.stall_seconds)
            return jsonify({"id": media_id})
        if how == "html200":
            return Response("<html><body>Back soon</body></html>", status=200, content_type="text/html")
        if how == "no content type":
            response = Response(jsonify({"id": media_id}).get_data(), status=200)
            del response.headers["Content-Type"]
            return response
        assert isinstance(how, int)
        return proxy_error_page(how).response()


def serving_one_account() -> tuple[FakeThreads, dict[str, Any]]:
    """A started FakeThreads with one user, `crier`, and how to connect a `threads` channel to it.

    Returns the fake (stop() it when done) and `{"settings": …, "credentials": …, "environment": …}`: the
    channel's settings and credentials (a long-lived token, the user id, when the token expires), and the
    Crier settings that point the adapter at the fake (with CRIER_ALLOWED_PRIVATE_HOSTS=127.0.0.1). The fake
    fetches media from the public address Crier gives them (CRIER_PUBLIC_URL).
    """
    fake = FakeThreads().start()
    user = fake.add_user("crier", token="crier-threads-token", followers=42)
    expires_at = (fake.now() + LONG_LIVED).isoformat()
    return fake, {
        "settings": {},
        "credentials": {"access_token": "crier-threads-token", "user_id": user.id, "expires_at": expires_at},
        "environment": {
            "CRIER_THREADS_API_URL": fake.base_url,
            "CRIER_THREADS_AUTHORIZE_URL": f"{fake.base_url}/oauth/authorize",
            "CRIER_THREADS_CLIENT_ID": fake.client_id,
            "CRIER_THREADS_CLIENT_SECRET": fake.client_secret,
            "CRIER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        },
    }
