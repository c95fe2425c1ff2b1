"""LinkedIn's REST API of our own for the adapter's tests: real HTTP on 127.0.0.1, answering as LinkedIn does.

It follows LinkedIn's Marketing API documentation for version 202510 (learn.microsoft.com/linkedin/marketing/
community-management/, view li-lms-2025-10): shares/posts-api (POST /rest/posts answers 201 with no body and
the post's URN in the `x-restli-id` header; GET /rest/posts/{encoded urn}; GET /rest/posts?q=author&author=
…&sortBy=LAST_MODIFIED, `elements` and `paging`, a member's posts only with r_member_social; POST /rest/posts/
{urn} with `X-RestLi-Method: PARTIAL_UPDATE` and `{"patch": {"$set": {...}}}` answers 204; DELETE answers
204), shares/little-text-format (a reserved character that is not escaped and starts no element ends the
text: the post is accepted and shown cut there, kept here as `displayed`), shares/images-api (POST /rest/
images?action=initializeUpload answers `value.uploadUrl` and `value.image`; the bytes are PUT there),
shares/network-update-social-actions and comments-api (GET /rest/socialActions/{urn}: likesSummary and
commentsSummary; comments created with 201 and the comment's URN, listed, deleted with `?actor=`),
organizations/share-statistics (GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&
shares=List(…): totalShareStatistics), shared/api-guide/concepts/rate-limits (a daily quota per member; a 429
with no reset header), shared/api-guide/concepts/error-handling (the error body `{"status", "code",
"serviceErrorCode", "message"}`; 65600 invalid, 65601 revoked, 65602 expired token), shared/authentication
(GET /oauth/v2/authorization is the consent page, POST /oauth/v2/accessToken exchanges a code or a refresh
token; 400 `invalid_request` for a bad code, 401 `invalid_client`; access tokens for 60 days, refresh tokens
for 365 only to approved apps: `issues_refresh_tokens`) and the OpenID userinfo (GET /v2/userinfo: `sub`).
Every /rest call must carry `LinkedIn-Version` (400 VERSION_MISSING without it, 426 NONEXISTENT_VERSION for
one LinkedIn does not serve) and `X-Restli-Protocol-Version: 2.0.0`.

Switches make it fail as real servers and the proxies in front of them do, for the writes named in
`misbehave_on` ("post", "comment"): a status before storing (`fail_next_writes`, with `failure_body` "json",
"text" or "html"), storing and then answering as a proxy does (`answer_after_storing`: nginx's 502 or 504,
Cloudflare's 524), storing and then stalling or hanging up (`stall_next_writes`, `stall_mode`), storing and
answering 201 without the `x-restli-id` header (`omit_restli_id`); and `duplicate_status` (422, or 409 as some
versions answer) for a text the author posted already.
"""

from __future__ import annotations

import itertools
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request

from shared.text.linkedin import LINKEDIN_LIMIT, RESERVED, displayed, utf16_length
from tests.networks.fake_servers import FakeServer
from tests.networks.misbehaving_proxy import proxy_error_page

VERSION = "202510"
SERVED_VERSIONS = frozenset({"202505", "202507", "202510", "202511"})
ACCESS_TOKEN_SECONDS = 60 * 24 * 3600
REFRESH_TOKEN_SECONDS = 365 * 24 * 3600
ALT_TEXT_LIMIT = 4086
MEMBER_SCOPES = frozenset({"openid", "profile", "w_member_social"})
PAGE_SCOPES = frozenset({"w_organization_social", "r_organization_social"})


class Refusal(Exception):
    """An answer that ends a request early (an unknown or dead token)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Token:
    member_id: str
    scopes: frozenset[str]
    expires_at: datetime
    revoked: bool = False


@dataclass
class Member:
    id: str
    name: str
    organizations: set[str] = field(default_factory=set)  # URNs of the pages they administer

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.id}"


@dataclass
class Grant:
    member_id: str
    redirect_uri: str
    scopes: frozenset[str]
    used: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


def error(status: int, message: str, code: str | None = None, service: int | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    if service is not None:
        body["serviceErrorCode"] = service
    response = jsonify(body)
    response.status_code = status
    return response


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _list_param(value: str) -> list[str]:
    """Rest.li's List(a,b) with encoded items."""
    inner = value[len("List(") : -1] if value.startswith("List(") and value.endswith(")") else ""
    return [urllib.parse.unquote(item) for item in inner.split(",") if item]


class FakeLinkedIn(FakeServer):
    """LinkedIn's API and OAuth pages, served in a thread on a free port of 127.0.0.1."""

    def __init__(self, *, client_id: str = "crier-app", client_secret: str = "crier-secret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        # Switches a test flips.
        self.misbehave_on: set[str] = {"post"}
        self.fail_next_writes: list[int] = []
        self.failure_body = "json"  # or "text", "html"
        self.answer_after_storing: list[int] = []
        self.stall_next_writes = 0
        self.stall_mode = "timeout"  # or "disconnect"
        self.stall_seconds = 5.0
        self.omit_restli_id = 0
        self.duplicate_status = 422
        self.posts_per_day = 150
        self.issues_refresh_tokens = False
        self.with_comment_counts = True
        self.upload_base: str | None = None  # where initializeUpload says to PUT the bytes (default: here)

        self.lock = threading.RLock()
        self.offset = timedelta()
        self.members: dict[str, Member] = {}
        self.organizations: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, tuple[str, datetime]] = {}
        self.grants: dict[str, Grant] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.posted_today: dict[tuple[str, str], int] = {}
        self.requests: list[Recorded] = []
        self._ids = itertools.count(7_100_000_000_000_000_000)
        super().__init__(self._build_app())

    # -- What a test does to it ------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.offset += delta

    def add_member(
        self, name: str = "Ada Lovelace", *, token: str | None = None, scopes: frozenset[str] = MEMBER_SCOPES
    ) -> Member:
        with self.lock:
            member = Member(id=uuid.uuid4().hex[:10], name=name)
            self.members[member.id] = member
            if token is not None:
                self.issue(member, token, scopes)
            return member

    def add_organization(self, admin: Member, name: str = "Acme Corp", vanity: str = "acme") -> str:
        with self.lock:
            urn = f"urn:li:organization:{next(self._ids) % 10_000_000}"
            self.organizations[urn] = {"localizedName": name, "vanityName": vanity}
            admin.organizations.add(urn)
            return urn

    def issue(self, member: Member, token: str, scopes: frozenset[str] = MEMBER_SCOPES | PAGE_SCOPES) -> str:
        with self.lock:
            self.tokens[token] = Token(
                member.id, frozenset(scopes), self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)
            )
            return token

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def post_by_hand(self, author: str, text: str) -> dict[str, Any]:
        """A post the member writes on LinkedIn itself, whose commentary is the text as little text."""
        with self.lock:
            return self._store({"author": author, "commentary": text, "lifecycleState": "PUBLISHED"})

    def posts_of(self, author: str) -> list[dict[str, Any]]:
        with self.lock:
            return [post for post in self.posts.values() if post["author"] == author and not post["deleted"]]

    def comments_on(self, post_urn: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.comments.values() if c["object"] == post_urn and not c["deleted"]]

    def add_counts(self, urn: str, **counts: int) -> None:
        with self.lock:
            self.posts[urn].update(counts)

    def requests_to(self, method: str, path_start: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_start)]

    def approve(self, authorize_url: str, member: Member) -> str:
        """The member presses "Allow" on the consent page at `authorize_url`: where their browser goes."""
        url = urllib.parse.urlsplit(authorize_url)
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{self.base_url}/oauth/v2/authorization", url
        query = dict(urllib.parse.parse_qsl(url.query))
        assert query["client_id"] == self.client_id
        assert query["response_type"] == "code"
        code = uuid.uuid4().hex
        with self.lock:
            self.grants[code] = Grant(member.id, query["redirect_uri"], frozenset(query["scope"].split()))
        redirect = {"code": code, "state": query["state"]}
        return f"{query['redirect_uri']}?{urllib.parse.urlencode(redirect)}"

    # -- Its state -------------------------------------------------------------------------------------

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        number = next(self._ids)
        now = _ms(self.now())
        post = {
            **fields,
            "id": f"urn:li:share:{number}",
            "createdAt": now,
            "lastModifiedAt": now,
            "publishedAt": now,
            "displayed": displayed(fields["commentary"]),
            "deleted": False,
            "likes": 0,
        }
        self.posts[post["id"]] = post
        return post

    def _public(self, post: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value
            for key, value in post.items()
            if key not in ("displayed", "deleted", "likes", "impressions", "clicks", "reshares")
        }

    # -- The server ------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("fake_linkedin")

        @app.before_request
        def record_and_check() -> Response | None:
            self.requests.append(
                Recorded(
                    request.method,
                    request.path,
                    request.query_string.decode(),
                    dict(request.headers),
                    request.get_json(silent=True) if request.is_json else None,
                )
            )
            if not request.path.startswith("/rest/"):
                return None
            version = request.headers.get("LinkedIn-Version")
            if not version:
                return error(
                    400,
                    "A version must be present. Please specify a version by adding the LinkedIn-Version "
                    "header.",
                    "VERSION_MISSING",
                )
            if version not in SERVED_VERSIONS:
                return error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION")
            if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
                return error(400, "Rest.li protocol 2.0.0 is required for this resource", "ILLEGAL_ARGUMENT")
            return None

        def caller() -> tuple[Member, Token]:
            """The member the bearer token is of; a refusal (401) when it is unknown, revoked or expired."""
            header = request.headers.get("Authorization", "")
            token = self.tokens.get(header.removeprefix("Bearer ").strip()) if header else None
            if token is None:
                raise Refusal(error(401, "Invalid access token", "INVALID_ACCESS_TOKEN", 65600))
            if token.revoked:
                said = "The token used in the request has been revoked by the user"
                raise Refusal(error(401, said, "REVOKED_ACCESS_TOKEN", 65601))
            if token.expires_at <= self.now():
                said = "The token used in the request has expired"
                raise Refusal(error(401, said, "EXPIRED_ACCESS_TOKEN", 65602))
            return self.members[token.member_id], token

        @app.errorhandler(Refusal)
        def refused(refusal: Refusal) -> Response:
            return refusal.response

        def may_act_as(member: Member, token: Token, author: str, *, read: bool = False) -> bool:
            if author == member.urn:
                return ("r_member_social" if read else "w_member_social") in token.scopes
            scope = "r_organization_social" if read else "w_organization_social"
            return author in member.organizations and scope in token.scopes

        def denied(what: str) -> Response:
            return error(403, f"Not enough permissions to access: {what}", "ACCESS_DENIED", 100)

        def misbehaving(kind: str, store: Callable[[], Response]) -> Response:
            """A write, as the switches say it goes this time."""
            if kind in self.misbehave_on and self.fail_next_writes:
                status = self.fail_next_writes.pop(0)
                if self.failure_body == "json":
                    return error(status, "Internal Server Error" if status >= 500 else "Request refused")
                if self.failure_body == "text":
                    return Response(
                        "upstream connect error or disconnect/reset before headers",
                        status=status,
                        content_type="text/plain",
                    )
                return proxy_error_page(status).response()
            answer = store()
            if kind not in self.misbehave_on:
                return answer
            if self.answer_after_storing:
                return proxy_error_page(self.answer_after_storing.pop(0)).response()
            if self.stall_next_writes:
                self.stall_next_writes -= 1
                if self.stall_mode == "disconnect":
                    self.hang_up()
                else:
                    self.stall(self.stall_seconds)
                return answer
            if self.omit_restli_id and kind == "post":
                self.omit_restli_id -= 1
                answer.headers.pop("x-restli-id", None)
            return answer

        @app.post("/rest/posts")
        def create_post() -> Response:
            member, token = caller()
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return error(400, "Request body could not be converted to data map", "ILLEGAL_ARGUMENT")
            missing = [
                name
                for name in ("author", "commentary", "visibility", "distribution", "lifecycleState")
                if name not in body
            ]
            if missing:
                lines = "".join(
                    f"ERROR :: /{name} :: field is required but not found and has no default value\n"
                    for name in missing
                )
                return error(422, lines)
            if not may_act_as(member, token, body["author"]):
                return denied("partnerApiPostsExternal.CREATE.20251001")
            length = utf16_length(body["commentary"])
            if length > LINKEDIN_LIMIT:
                return error(
                    422,
                    f"ERROR :: /commentary :: length of {length} exceeds the maximum allowed of "
                    f"{LINKEDIN_LIMIT}\n",
                )
            content = body.get("content") or {}
            images = content.get("multiImage", {}).get("images") or (
                [content["media"]] if "media" in content else []
            )
            for image in images:
                stored = self.images.get(image.get("id"))
                if stored is None or stored.get("data") is None:
                    return error(
                        422, f"ERROR :: /content/media/id :: {image.get('id')} is not an uploaded image\n"
                    )
                if len(image.get("altText") or "") > ALT_TEXT_LIMIT:
                    return error(422, f"ERROR :: /content/media/altText :: length exceeds {ALT_TEXT_LIMIT}\n")
            day = (body["author"], self.now().date().isoformat())
            with self.lock:
                if self.posted_today.get(day, 0) >= self.posts_per_day:
                    return error(
                        429,
                        "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
                        "TOO_MANY_REQUESTS",
                        101,
                    )
                for earlier in self.posts_of(body["author"]):
                    if earlier["commentary"] == body["commentary"] and earlier.get("content") == body.get(
                        "content"
                    ):
                        return error(
                            self.duplicate_status,
                            f"Content is a duplicate of {earlier['id']}",
                            "DUPLICATE_POST",
                        )

                def store() -> Response:
                    with self.lock:
                        self.posted_today[day] = self.posted_today.get(day, 0) + 1
                        post = self._store({key: body[key] for key in body})
                    return Response(
                        status=201, headers={"x-restli-id": post["id"], "x-linkedin-id": post["id"]}
                    )

            return misbehaving("post", store)

        @app.get("/rest/posts")
        def find_posts() -> Response:
            member, token = caller()
            if request.args.get("q") != "author":
                return error(400, "Invalid query parameters passed to request", "ILLEGAL_ARGUMENT")
            author = request.args.get("author", "")
            if not may_act_as(member, token, author, read=True):
                return denied("partnerApiPostsExternal.FINDER-author.20251001")
            count = min(int(request.args.get("count", 10)), 100)
            start = int(request.args.get("start", 0))
            with self.lock:
                posts = sorted(self.posts_of(author), key=lambda post: post["lastModifiedAt"], reverse=True)
                page = [self._public(post) for post in posts[start : start + count]]
            return jsonify({"elements": page, "paging": {"start": start, "count": count, "links": []}})

        @app.route("/rest/posts/<path:urn>", methods=["GET", "POST", "DELETE"])
        def one_post(urn: str) -> Response:
            member, token = caller()
            with self.lock:
                post = self.posts.get(urllib.parse.unquote(urn))
                if post is None or post["deleted"]:
                    return error(404, f"Not Found: {urn}", "NOT_FOUND")
                if request.method == "GET":
                    return jsonify(self._public(post))
                if not may_act_as(member, token, post["author"]):
                    return denied("partnerApiPostsExternal.UPDATE.20251001")
                if request.method == "DELETE":
                    post["deleted"] = True
                    return Response(status=204)
                if request.headers.get("X-RestLi-Method", "").upper() != "PARTIAL_UPDATE":
                    return error(400, "Unsupported method", "ILLEGAL_ARGUMENT")
                changes = ((request.get_json(silent=True) or {}).get("patch") or {}).get("$set") or {}
                if "commentary" in changes:
                    post["commentary"] = changes["commentary"]
                    post["displayed"] = displayed(changes["commentary"])
                    post["lastModifiedAt"] = _ms(self.now())
                return Response(status=204)

        @app.post("/rest/images")
        def initialize_upload() -> Response:
            member, token = caller()
            if request.args.get("action") != "initializeUpload":
                return error(400, "Unsupported action", "ILLEGAL_ARGUMENT")
            owner = ((request.get_json(silent=True) or {}).get("initializeUploadRequest") or {}).get(
                "owner", ""
            )
            if not may_act_as(member, token, owner):
                return denied("partnerApiImages.ACTION-initializeUpload.20251001")
            image_id = f"D4E{next(self._ids)}"
            with self.lock:
                self.images[f"urn:li:image:{image_id}"] = {"owner": owner, "data": None, "content_type": None}
            return jsonify(
                {
                    "value": {
                        "uploadUrlExpiresAt": _ms(self.now() + timedelta(hours=1)),
                        "uploadUrl": f"{self.upload_base or self.base_url}/dms-uploads/{image_id}",
                        "image": f"urn:li:image:{image_id}",
                    }
                }
            )

        @app.put("/dms-uploads/<image_id>")
        def upload(image_id: str) -> Response:
            caller()
            with self.lock:
                image = self.images.get(f"urn:li:image:{image_id}")
                if image is None:
                    return error(404, "Not Found")
                image.update(data=request.get_data(), content_type=request.content_type)
            return Response(status=201)

        @app.route("/rest/socialActions/<path:target>/comments", methods=["GET", "POST"])
        def comments(target: str) -> Response:
            member, token = caller()
            post_urn = urllib.parse.unquote(target)
            with self.lock:
                post = self.posts.get(post_urn)
                if post is None or post["deleted"]:
                    return error(404, f"Not Found: {post_urn}", "NOT_FOUND")
                if request.method == "GET":
                    if not may_act_as(member, token, post["author"], read=True):
                        return denied("partnerApiSocialActions.FINDER-comments.20251001")
                    found = [self._comment_view(c) for c in self.comments_on(post_urn)]
                    return jsonify(
                        {"elements": found, "paging": {"start": 0, "count": len(found), "links": []}}
                    )
            body = request.get_json(silent=True) or {}
            if not may_act_as(member, token, body.get("actor", "")):
                return denied("partnerApiSocialActions.CREATE.20251001")
            if body.get("object") != post_urn or not (body.get("message") or {}).get("text"):
                return error(
                    422,
                    "ERROR :: /message/text :: field is required but not found and has no default value\n",
                )

            def store() -> Response:
                with self.lock:
                    number = post_urn.rsplit(":", 1)[-1]
                    comment_urn = f"urn:li:comment:(urn:li:activity:{number},{next(self._ids)})"
                    comment = {
                        "urn": comment_urn,
                        "actor": body["actor"],
                        "object": post_urn,
                        "message": {"text": body["message"]["text"]},
                        "created": {"actor": body["actor"], "time": _ms(self.now())},
                        "deleted": False,
                    }
                    self.comments[comment_urn] = comment
                    response = jsonify(self._comment_view(comment))
                response.status_code = 201
                response.headers["x-restli-id"] = comment_urn
                return response

            return misbehaving("comment", store)

        @app.delete("/rest/socialActions/<path:target>/comments/<comment_id>")
        def delete_comment(target: str, comment_id: str) -> Response:
            member, token = caller()
            parent = urllib.parse.unquote(target)
            with self.lock:
                comment = self.comments.get(f"urn:li:comment:({parent},{comment_id})")
                if comment is None or comment["deleted"]:
                    return error(404, "Not Found", "NOT_FOUND")
                if request.args.get("actor") != comment["actor"] or not may_act_as(
                    member, token, comment["actor"]
                ):
                    return denied("partnerApiSocialActions.DELETE.20251001")
                comment["deleted"] = True
            return Response(status=204)

        @app.get("/rest/socialActions/<path:target>")
        def social_actions(target: str) -> Response:
            member, token = caller()
            urn = urllib.parse.unquote(target)
            with self.lock:
                post = self.posts.get(urn)
                if post is None or post["deleted"]:
                    return error(404, f"Not Found: {urn}", "NOT_FOUND")
                if not may_act_as(member, token, post["author"], read=True):
                    return denied("partnerApiSocialActions.GET.20251001")
                answer: dict[str, Any] = {
                    "target": urn,
                    "likesSummary": {
                        "totalLikes": post["likes"],
                        "aggregatedTotalLikes": post["likes"],
                        "likedByCurrentUser": False,
                    },
                }
                if self.with_comment_counts:
                    count = len(self.comments_on(urn)) + post.get("more_comments", 0)
                    answer["commentsSummary"] = {
                        "aggregatedTotalComments": count,
                        "totalFirstLevelComments": count,
                    }
            return jsonify(answer)

        @app.get("/rest/organizationalEntityShareStatistics")
        def share_statistics() -> Response:
            member, token = caller()
            organization = request.args.get("organizationalEntity", "")
            if request.args.get("q") != "organizationalEntity" or not may_act_as(
                member, token, organization, read=True
            ):
                return denied("organizationalEntityShareStatistics.FINDER-organizationalEntity.20251001")
            elements = []
            with self.lock:
                for kind in ("shares", "ugcPosts"):
                    for urn in _list_param(request.args.get(kind, "")):
                        post = self.posts.get(urn)
                        if post is None or post["author"] != organization:
                            continue
                        elements.append(
                            {
                                "organizationalEntity": organization,
                                kind[:-1] if kind == "shares" else "ugcPost": urn,
                                "totalShareStatistics": {
                                    "impressionCount": post.get("impressions", 0),
                                    "uniqueImpressionsCount": post.get("impressions", 0),
                                    "clickCount": post.get("clicks", 0),
                                    "shareCount": post.get("reshares", 0),
                                    "likeCount": post["likes"],
                                    "commentCount": len(self.comments_on(urn)),
                                    "engagement": 0.0,
                                },
                            }
                        )
            return jsonify(
                {"elements": elements, "paging": {"start": 0, "count": len(elements), "links": []}}
            )

        @app.get("/rest/networkSizes/<path:target>")
        def network_size(target: str) -> Response:
            caller()
            page = self.organizations.get(urllib.parse.unquote(target))
            if page is None or request.args.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
                return error(404, "Not Found", "NOT_FOUND")
            return jsonify({"firstDegreeSize": page.get("followers", 0)})

        @app.get("/rest/organizations/<int:organization_id>")
        def organization(organization_id: int) -> Response:
            caller()
            page = self.organizations.get(f"urn:li:organization:{organization_id}")
            if page is None:
                return error(404, "Not Found", "NOT_FOUND")
            return jsonify({"id": organization_id, **page})

        @app.get("/v2/userinfo")
        def userinfo() -> Response:
            member, _ = caller()
            given, _, family = member.name.partition(" ")
            return jsonify(
                {
                    "sub": member.id,
                    "name": member.name,
                    "given_name": given,
                    "family_name": family,
                    "locale": {"country": "US", "language": "en"},
                }
            )

        @app.post("/oauth/v2/accessToken")
        def access_token() -> Response:
            form = request.form
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return _oauth_error(401, "invalid_client", "Client authentication failed")
            with self.lock:
                if form.get("grant_type") == "authorization_code":
                    grant = self.grants.get(form.get("code", ""))
                    if grant is None or grant.used or grant.redirect_uri != form.get("redirect_uri"):
                        return _oauth_error(
                            400,
                            "invalid_request",
                            "Unable to retrieve access token: appid/redirect uri/code verifier does not "
                            "match authorization code. Or authorization code expired.",
                        )
                    grant.used = True
                    member_id, scopes = grant.member_id, grant.scopes
                    refresh_expires = self.now() + timedelta(seconds=REFRESH_TOKEN_SECONDS)
                elif form.get("grant_type") == "refresh_token":
                    held = self.refresh_tokens.get(form.get("refresh_token", ""))
                    if held is None or held[1] <= self.now():
                        return _oauth_error(
                            400, "invalid_request", "The provided refresh token is invalid or expired"
                        )
                    member_id, refresh_expires = held
                    scopes = MEMBER_SCOPES | PAGE_SCOPES
                else:
                    return _oauth_error(400, "unsupported_grant_type", "The grant type is not supported")
                token = uuid.uuid4().hex
                self.tokens[token] = Token(
                    member_id, frozenset(scopes), self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)
                )
                answer: dict[str, Any] = {
                    "access_token": token,
                    "expires_in": ACCESS_TOKEN_SECONDS,
                    "scope": ",".join(sorted(scopes)),
                }
                if self.issues_refresh_tokens:
                    refresh = form.get("refresh_token") or uuid.uuid4().hex
                    self.refresh_tokens[refresh] = (member_id, refresh_expires)
                    answer["refresh_token"] = refresh
                    answer["refresh_token_expires_in"] = int((refresh_expires - self.now()).total_seconds())
            return jsonify(answer)

        return app

    def _comment_view(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            "$URN": comment["urn"],
            "commentUrn": comment["urn"],
            "id": comment["urn"].rsplit(",", 1)[-1].rstrip(")"),
            "actor": comment["actor"],
            "object": comment["object"],
            "message": comment["message"],
            "created": comment["created"],
        }


def _oauth_error(status: int, code: str, description: str) -> Response:
    response = jsonify({"error": code, "error_description": description})
    response.status_code = status
    return response


def reserved_characters() -> str:
    """Every character LinkedIn's little text reserves, for a test's text."""
    return "".join(sorted(RESERVED))


def serving_one_account() -> tuple[FakeLinkedIn, dict[str, Any]]:
    """A started fake with one member whose token may post, and how to connect a channel to it.

    The dict holds `settings` and `credentials` for the channel, and `environment`: the CRIER_LINKEDIN_*
    variables that point Crier's processes at this fake (LinkedIn's address is the operator's setting, not
    the channel's; add CRIER_ALLOWED_PRIVATE_HOSTS=127.0.0.1). The caller stops the fake.
    """
    fake = FakeLinkedIn().start()
    member = fake.add_member("Ada Lovelace")
    token = fake.issue(member, uuid.uuid4().hex, MEMBER_SCOPES | {"r_member_social"})
    return fake, {
        "settings": {"author": "member"},
        "credentials": {"access_token": token, "member_urn": member.urn},
        "environment": {
            "CRIER_LINKEDIN_API_URL": fake.base_url,
            "CRIER_LINKEDIN_OAUTH_URL": f"{fake.base_url}/oauth/v2",
            "CRIER_LINKEDIN_CLIENT_ID": fake.client_id,
            "CRIER_LINKEDIN_CLIENT_SECRET": fake.client_secret,
        },
    }
