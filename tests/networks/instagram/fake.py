"""Instagram's Graph API of our own for the adapter's tests: real HTTP on 127.0.0.1, answering as Meta's
Instagram API with Facebook Login does, at any version in the path (Crier names v24.0 by default).

It follows Meta's Instagram Platform documentation, "Content Publishing" and the references it links:
POST /<IG_USER_ID>/media makes a container from `image_url` (JPEG only, at most 8 MiB) or `video_url` with
`media_type` REELS (or VIDEO for a carousel item, `is_carousel_item=true`), or a CAROUSEL of 2 to 10
`children`, and Instagram FETCHES the URL: so does this fake, over HTTP, from wherever the test serves it
(Crier's own /public-media route in the tests that run the API). A container answers GET /<ID>?fields=
status_code with IN_PROGRESS while processed (`processing_polls` reads), then FINISHED, ERROR, EXPIRED or,
once published, PUBLISHED; POST /<IG_USER_ID>/media_publish?creation_id= publishes a FINISHED container once
(a container not FINISHED, or already published, is refused with code 9007 "Media ID is not available",
subcode 2207027: Meta documents the first case, not which error the second gets); GET /<IG_USER_ID>/
content_publishing_limit answers `config.quota_total` and `quota_usage` over the rolling 24 hours (100);
GET /<IG_USER_ID>/media lists the account's media, newest first, their captions without `@` when
`captions_without_at` (IG Media: "Captions don't include the @ symbol unless the app user is also able to
perform admin-equivalent tasks"); IG Media's fields (like_count, comments_count, permalink, timestamp) and
DELETE; IG Media Comments (POST with `message`, GET with `from`); IG Media Insights (a request naming a
retired metric is refused whole, code 100); IG User (username, name, followers_count, follows_count,
media_count). Errors are the Graph API's error object (message, type, code, error_subcode, is_transient,
error_user_msg, fbtrace_id): code 190 for a dead token, 4 or 80002 with X-Business-Use-Case-Usage for a
rate limit, the 2207xxx subcodes of "Error Codes" for media Instagram cannot take, code 100 subcode 33 for an
object that does not exist. Facebook Login ("Manually Build a Login Flow", "Long-Lived Access Tokens"):
the person's approval is played by `approve(url)`; GET /oauth/access_token exchanges the code (once, for
the same redirect URI and app secret) and then the short token for a long one; GET /me/accounts lists the
pages with their tokens and linked Instagram accounts.

Switches for what real servers do: containers that stay IN_PROGRESS (`stuck_in_progress`), a container
that fails processing (`next_container_error`), a publish that lands and is then answered by a proxy's
502 page, a 200 HTML page, a hang-up or a stall (`after_publish`), refusals before publishing, in JSON or
plain text (`refuse_next_publish`), rate limits with or without their usage header (`rate_limit_next`,
`rate_limit_header`), an expired token (`token_expired`, or `expire_token_after_publish`), an exhausted
daily quota (`quota_total`), retired insights metrics (`retired_metrics`), hidden like counts
(`hidden_counts`), comments failing before or after storing (`fail_next_comment`, `comment_after`).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from flask import Flask, Response, request

from tests.networks.fake_servers import FakeServer
from tests.networks.instagram.fake_login import FacebookLoginFake
from tests.networks.instagram.graph_answers import error, json_answer
from tests.networks.misbehaving_proxy import nginx_page

IMAGE_MAX_BYTES = 8 * 1024 * 1024
QUOTA_DURATION = 86400
METRICS = ("views", "likes", "comments", "shares", "saved", "reach")


@dataclass
class IgAccount:
    ig_user_id: str
    username: str
    token: str
    page_id: str
    page_name: str
    followers_count: int = 120
    follows_count: int = 40


@dataclass
class Container:
    id: str
    owner: str
    fields: dict[str, str]
    status: str = "IN_PROGRESS"
    polls_left: int = 0
    fetched: list[bytes] = field(default_factory=list)
    media_id: str | None = None


class FakeInstagram(FacebookLoginFake, FakeServer):
    """The Graph API's Instagram content publishing, insights, comments and Facebook Login."""

    def __init__(self, *, client_id: str = "meta-app", client_secret: str = "meta-secret") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.lock = threading.Lock()
        self.ids = itertools.count(17_890_000_000_000_001)
        self.accounts: dict[str, IgAccount] = {}
        self.containers: dict[str, Container] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (redirect_uri, user)
        self.user_tokens: dict[str, str] = {}  # token -> user
        self.users: dict[str, list[str]] = {}  # user -> their ig user ids
        self.versions: set[str] = set()
        self.fetches: list[str] = []
        # Switches.
        self.processing_polls = 0
        self.stuck_in_progress = False
        self.next_container_error = False
        self.after_publish: str | None = None  # "502", "disconnect", "stall", "html200"
        # (status, body): a dict is sent as JSON, text as it is (a proxy's or another server's words).
        self.refuse_next_publish: tuple[int, dict[str, Any] | str] | None = None
        self.rate_limit_next = 0
        # Whether a rate limit's answer carries X-Business-Use-Case-Usage (a proxy's may not).
        self.rate_limit_header = True
        self.token_expired = False
        # The token dies right after the next publish lands (the person revoked Crier meanwhile).
        self.expire_token_after_publish = False
        self.quota_total = 100
        self.retired_metrics: set[str] = set()
        self.hidden_counts = False
        self.captions_without_at = False
        self.fail_next_comment = False
        self.comment_after: str | None = None  # "502"
        super().__init__(self._app())

    # -- The test's side -----------------------------------------------------------------------------

    def add_account(self, username: str, *, user: str = "person") -> IgAccount:
        with self.lock:
            account = IgAccount(
                ig_user_id=self._next_id(),
                username=username,
                token=f"page-token-{secrets.token_hex(8)}",
                page_id=self._next_id(),
                page_name=f"{username} page",
            )
            self.accounts[account.ig_user_id] = account
            self.users.setdefault(user, []).append(account.ig_user_id)
            return account

    def media_of(self, account: IgAccount) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.media.values() if m["owner"] == account.ig_user_id]

    # -- The server ----------------------------------------------------------------------------------

    def _next_id(self) -> str:
        return str(next(self.ids))

    def _app(self) -> Flask:
        app = Flask(__name__)

        @app.route("/<version>/<path:rest>", methods=["GET", "POST", "DELETE"])
        def graph(version: str, rest: str) -> Response:
            self.versions.add(version)
            params = {**request.args.to_dict(), **request.form.to_dict()}
            parts = rest.strip("/").split("/")
            if parts == ["dialog", "oauth"]:
                return error(400, "The person's dialog is played by approve()", 100)
            if parts == ["oauth", "access_token"]:
                return self._access_token(params)
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                usage = {
                    "1": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7}]
                }
                return error(
                    400,
                    "(#80002) There have been too many calls to this Instagram account.",
                    80002,
                    headers={"X-Business-Use-Case-Usage": json.dumps(usage)}
                    if self.rate_limit_header
                    else None,
                )
            token = params.pop("access_token", None) or request.headers.get("Authorization", "")[7:]
            if parts == ["me", "accounts"]:
                return self._pages(token)
            account = next((a for a in self.accounts.values() if a.token == token), None)
            if account is None or self.token_expired:
                return error(
                    400,
                    "Error validating access token: Session has expired on Sunday, 06-Dec-26.",
                    190,
                    subcode=463,
                )
            with self.lock:
                return self._route(request.method, parts, params, account)

        return app

    def _route(self, method: str, parts: list[str], params: dict[str, str], account: IgAccount) -> Response:
        head, *rest = parts
        if head == account.ig_user_id:
            if method == "POST" and rest == ["media"]:
                return self._create_container(account, params)
            if method == "POST" and rest == ["media_publish"]:
                return self._publish(account, params.get("creation_id", ""))
            if method == "GET" and rest == ["media"]:
                return self._list_media(account, params)
            if method == "GET" and rest == ["content_publishing_limit"]:
                used = self._published_today(account)
                config = {"quota_total": self.quota_total, "quota_duration": QUOTA_DURATION}
                return json_answer({"data": [{"config": config, "quota_usage": used}]})
            if method == "GET" and not rest:
                return json_answer(self._user_fields(account, params.get("fields", "id")))
        if head in self.containers and method == "GET" and not rest:
            return self._container_status(self.containers[head], account)
        media = self.media.get(head)
        if media is None or media["owner"] != account.ig_user_id:
            return error(
                400, f"Unsupported {method.lower()} request. Object with ID '{head}' does not exist", 100, 33
            )
        if method == "DELETE" and not rest:
            del self.media[head]
            return json_answer({"success": True})
        if method == "GET" and not rest:
            return json_answer(self._media_fields(media, params.get("fields", "id")))
        if rest == ["comments"]:
            return self._comment(account, media, params) if method == "POST" else self._comments(media)
        if method == "GET" and rest == ["insights"]:
            return self._insights(media, params.get("metric", ""))
        return error(400, "Unknown path components", 2500)

    def _create_container(self, account: IgAccount, params: dict[str, str]) -> Response:
        media_type = params.get("media_type", "IMAGE")
        container = Container(self._next_id(), account.ig_user_id, params, polls_left=self.processing_polls)
        if media_type == "CAROUSEL":
            children = [self.containers.get(child) for child in params.get("children", "").split(",")]
            if not 2 <= len(children) <= 10 or any(c is None or c.status != "FINISHED" for c in children):
                return error(400, "The carousel's children must be 2 to 10 finished items", 100, 2207028)
        elif "image_url" in params:
            fetched = self._fetch(params["image_url"], image=True)
            if isinstance(fetched, Response):
                return fetched
            container.fetched.append(fetched)
        elif "video_url" in params and media_type in ("REELS", "VIDEO"):
            fetched = self._fetch(params["video_url"], image=False)
            if isinstance(fetched, Response):
                return fetched
            container.fetched.append(fetched)
            container.polls_left = max(container.polls_left, 1)
        else:
            return error(400, "The parameter image_url or video_url is required", 100)
        if self.next_container_error:
            self.next_container_error = False
            container.status, container.polls_left = "ERROR", 0
        self.containers[container.id] = container
        return json_answer({"id": container.id})

    def _fetch(self, url: str, *, image: bool) -> bytes | Response:
        """Fetch the media as Instagram does: a failure is the container's error, never the test's."""
        self.fetches.append(url)
        try:
            got = httpx.get(url, timeout=5)
        except httpx.HTTPError:
            return error(
                400, "Media download has failed. The media URI doesn't meet our requirements.", -2, 2207052
            )
        kind = got.headers.get("Content-Type", "")
        if got.status_code != 200:
            return error(
                400, "Media download has failed. The media URI doesn't meet our requirements.", -2, 2207052
            )
        if image and kind != "image/jpeg":
            return error(400, "Only photo or video can be accepted as media type.", 9004, 2207009)
        if not image and kind not in ("video/mp4", "video/quicktime"):
            return error(
                400,
                "The video format is not supported. Please check spec for supported format.",
                352,
                2207026,
            )
        if image and len(got.content) > IMAGE_MAX_BYTES:
            return error(400, "The image size is too large.", 36000, 2207004)
        return got.content

    def _container_status(self, container: Container, account: IgAccount) -> Response:
        if container.owner != account.ig_user_id:
            return error(400, f"Object with ID '{container.id}' does not exist", 100, 33)
        if container.status == "IN_PROGRESS" and not self.stuck_in_progress:
            if container.polls_left > 0:
                container.polls_left -= 1
            else:
                container.status = "FINISHED"
        answer = {"id": container.id, "status_code": container.status}
        if container.status == "ERROR":
            answer["status"] = "Error: 2207001"
        return json_answer(answer)

    def _publish(self, account: IgAccount, creation_id: str) -> Response:
        if self.refuse_next_publish is not None:
            status, body = self.refuse_next_publish
            self.refuse_next_publish = None
            if isinstance(body, str):
                return Response(body, status, content_type="text/plain")
            return Response(json.dumps(body), status, content_type="application/json")
        container = self.containers.get(creation_id)
        if container is None or container.owner != account.ig_user_id:
            return error(400, f"Object with ID '{creation_id}' does not exist", 100, 33)
        if container.status != "FINISHED":
            return error(
                400,
                "Media ID is not available",
                9007,
                2207027,
                user_msg="The media is not ready for publishing, please wait for a moment",
            )
        if self._published_today(account) >= self.quota_total:
            return error(400, "Application request limit reached", 9, 2207042)
        media_id = self._next_id()
        now = datetime.now(UTC)
        self.media[media_id] = {
            "id": media_id,
            "owner": account.ig_user_id,
            "caption": container.fields.get("caption", ""),
            "container": container.id,
            "media_type": container.fields.get("media_type", "IMAGE"),
            "permalink": f"https://www.instagram.com/p/{media_id[-11:]}/",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "published_at": now,
            "like_count": 0,
            "comments_count": 0,
            "insights": dict.fromkeys(METRICS, 0),
        }
        container.status, container.media_id = "PUBLISHED", media_id
        if self.expire_token_after_publish:
            self.token_expired = True
        return self._after_writing(self.after_publish, {"id": media_id}, once="after_publish")

    def _after_writing(self, how: str | None, answer: dict[str, Any], *, once: str) -> Response:
        setattr(self, once, None)
        if how == "502":
            page = nginx_page(502)
            return Response(page.body, page.status, content_type=page.content_type)
        if how == "html200":
            return Response("<html><body>Back soon</body></html>", 200, content_type="text/html")
        if how == "stall":
            self.lock.release()
            try:
                self.stall()
            finally:
                self.lock.acquire()
            return json_answer(answer)
        if how == "disconnect":
            self.hang_up()
        return json_answer(answer)

    def _published_today(self, account: IgAccount) -> int:
        since = datetime.now(UTC) - timedelta(seconds=QUOTA_DURATION)
        return sum(
            1 for m in self.media.values() if m["owner"] == account.ig_user_id and m["published_at"] > since
        )

    def _list_media(self, account: IgAccount, params: dict[str, str]) -> Response:
        limit = int(params.get("limit", "25"))
        fields = params.get("fields", "id")
        mine = [m for m in self.media.values() if m["owner"] == account.ig_user_id]
        newest = sorted(mine, key=lambda m: m["published_at"], reverse=True)[:limit]
        return json_answer({"data": [self._media_fields(m, fields) for m in newest]})

    def _media_fields(self, media: dict[str, Any], fields: str) -> dict[str, Any]:
        shown = {}
        for name in fields.split(","):
            if name == "caption" and self.captions_without_at:
                shown[name] = media["caption"].replace("@", "")
            elif name == "like_count" and self.hidden_counts:
                continue
            elif name in media and name not in ("owner", "insights", "published_at", "container"):
                shown[name] = media[name]
        return shown

    def _user_fields(self, account: IgAccount, fields: str) -> dict[str, Any]:
        values = {
            "id": account.ig_user_id,
            "username": account.username,
            "name": account.username.title(),
            "followers_count": account.followers_count,
            "follows_count": account.follows_count,
            "media_count": len([m for m in self.media.values() if m["owner"] == account.ig_user_id]),
        }
        return {name: values[name] for name in fields.split(",") if name in values}

    def _comment(self, account: IgAccount, media: dict[str, Any], params: dict[str, str]) -> Response:
        if self.fail_next_comment:
            self.fail_next_comment = False
            return error(500, "An unknown error occurred", 1, status_transient=True)
        comment_id = self._next_id()
        self.comments.setdefault(media["id"], []).append(
            {
                "id": comment_id,
                "text": params.get("message", ""),
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "from": {"id": account.ig_user_id, "username": account.username},
            }
        )
        media["comments_count"] += 1
        return self._after_writing(self.comment_after, {"id": comment_id}, once="comment_after")

    def _comments(self, media: dict[str, Any]) -> Response:
        return json_answer({"data": list(reversed(self.comments.get(media["id"], [])))})

    def _insights(self, media: dict[str, Any], metric: str) -> Response:
        asked = [name for name in metric.split(",") if name]
        retired = [name for name in asked if name in self.retired_metrics or name not in METRICS]
        if retired:
            allowed = ", ".join(name for name in METRICS if name not in self.retired_metrics)
            return error(400, f"(#100) metric[0] must be one of the following values: {allowed}", 100)
        return json_answer(
            {
                "data": [
                    {
                        "name": name,
                        "period": "lifetime",
                        "values": [{"value": media["insights"][name]}],
                        "id": f"{media['id']}/insights/{name}/lifetime",
                    }
                    for name in asked
                ]
            }
        )


def serving_one_account() -> tuple[FakeInstagram, dict[str, Any]]:
    """A started fake with one account, and how to connect a channel to it: the channel's `settings` and
    `credentials`, and the Crier settings that point the adapter at the fake (`environment`). Media must be
    served where the fake can fetch them (Crier's CRIER_PUBLIC_URL); stop() the fake when done."""
    fake = FakeInstagram().start()
    account = fake.add_account("crier.demo")
    return fake, {
        "settings": {},
        "credentials": {"access_token": account.token, "ig_user_id": account.ig_user_id},
        "environment": {
            "CRIER_INSTAGRAM_GRAPH_URL": fake.base_url,
            "CRIER_FACEBOOK_DIALOG_URL": fake.base_url,
            "CRIER_INSTAGRAM_CLIENT_ID": fake.client_id,
            "CRIER_INSTAGRAM_CLIENT_SECRET": fake.client_secret,
            "CRIER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        },
    }
