"""A Bluesky PDS of our own for the adapter's tests: real HTTP on 127.0.0.1, answering as a PDS does.

It follows the AT Protocol and Bluesky documents: the lexicons (bluesky-social/atproto, lexicons/) of
com.atproto.server.createSession, refreshSession and getSession, com.atproto.repo.createRecord, getRecord,
deleteRecord and uploadBlob, com.atproto.identity.resolveHandle, app.bsky.feed.getPosts (at most 25 URIs;
posts it cannot find are left out; each an app.bsky.feed.defs#postView with likeCount, repostCount,
replyCount, quoteCount and bookmarkCount), app.bsky.actor.getProfile (`actor`, a handle or DID; an
app.bsky.actor.defs#profileViewDetailed with followersCount, followsCount and postsCount; 400 InvalidRequest
"Profile not found" for an unknown actor), app.bsky.feed.post (text of at most 300 graphemes and 3000 bytes),
app.bsky.richtext.facet (byte ranges of the UTF-8 text, end exclusive) and app.bsky.embed.images (at most 4,
each blob at most 1,000,000 bytes); the specs "XRPC" (errors as `{"error", "message"}`), "Record Key" and
"Timestamp Identifiers (TIDs)"; docs.bsky.app's "Rate Limits" (5,000 points an hour per account, a created
record costing 3, the RateLimit-Limit, -Remaining, -Reset (epoch seconds) and -Policy headers, 429
RateLimitExceeded). From the reference PDS's behaviour (bluesky-social/atproto, packages/pds and
packages/repo): an expired access token answers 400 ExpiredToken, a bad one 401; a refresh token is spent by
its use; a bad app password answers 401 AuthenticationRequired; getRecord of nothing answers 400
RecordNotFound; deleteRecord of nothing succeeds; createRecord at a taken key fails inside the repository tree
and answers 500 InternalServerError.

For the engagement inbox, the AppView's reads the PDS proxies, from the lexicons and docs.bsky.app's API
reference: app.bsky.notification.listNotifications (`limit` 1 to 100, default 50; `cursor`; `reasons`, the
reasons to include; newest first, each a #notification with `uri`, `cid`, `author` (a profileView: did,
handle, displayName, avatar), `reason`, `reasonSubject`, `record`, `isRead`, `indexedAt`; the cursor a key of
the last item, as the AppView's `sortAt::cid`, so items arriving on top move nothing below it; one
notification per post and recipient, reply before quote before mention), app.bsky.feed.searchPosts (`q`
required, `sort` top or latest, `limit` 1 to 100 default 25, `cursor`; its cursor an offset into the hits, as
Bluesky's search service gives, so posts arriving on top push later pages down), app.bsky.feed.getPostThread
(`depth` default 6, `parentHeight` default 80; a #threadViewPost with `parent` and `replies`, #notFoundPost
for a parent it cannot find), app.bsky.feed.like (`subject` a strong ref, `createdAt`; a record key that is a
TID), app.bsky.feed.threadgate (`post`, `createdAt`, `hiddenReplies` of at most 300; its record key the root
post's) and com.atproto.repo.putRecord (`swapRecord`: null means the record must not exist yet, a cid that it
must be that one; else 400 InvalidSwap). Other accounts' posts, replies, quotes, mentions and likes are made
by a test (`post_as`, `like_as`), and `while_reading` runs before each page of notifications or search results
is read, to make more as a real network would; `read_errors` are answered to the next reads (a 429 with the
RateLimit headers), and `ignore_reasons` makes an AppView that lists every reason. The AppView's clock counts
milliseconds, several records sharing one up to `records_per_millisecond` (8), and a test may stop it
(`clock_ms`); a search orders by `sortAt`, the earlier of a post's createdAt and indexedAt (docs.bsky.app,
"Timestamps").

Stricter than the reference PDS on one point, on purpose: an app.bsky.feed.post record key must be a TID, as
the lexicon's `"key": "tid"` says (the reference checks only the record-key syntax today), so the tests
prove the adapter's keys would survive that check.

Switches make it fail the ways a real one does: answers queued before the next write is stored
(`write_errors`, e.g. a 503 or a 400 InvalidRequest), storing the next write and then stalling so the client
times out (`stall_next_writes`), storing it and then answering as a proxy in front of it does
(`answer_after_storing`), posts the AppView has not indexed yet (`unindexed`), a PDS that does not offer
getPosts (`get_posts_missing`: 501 MethodNotImplemented, or another router's 404; getPostThread still
answers), access tokens that expire (`expire_access_tokens`, `access_ttl`), and a lower rate limit
(`points_per_hour`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request

from shared.text.bluesky import bluesky_length
from tests.networks.fake_servers import FakeServer
from tests.networks.misbehaving_proxy import proxy_error_page

POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
THREADGATE = "app.bsky.feed.threadgate"
MAX_HIDDEN_REPLIES = 300
PAGE_MAX = 100
CREATE_POINTS = 3
IMAGE_MAX_BYTES = 1_000_000
GET_POSTS_LIMIT = 25
_RECORD_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_tid_lock = threading.Lock()
_last_tid = 0
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


@dataclass
class FakeAccount:
    did: str
    handle: str
    email: str
    app_passwords: set[str] = field(default_factory=set)
    followers: int = 0
    follows: int = 0
    display_name: str | None = None
    avatar: str | None = None


@dataclass
class Token:
    did: str
    kind: str  # "access" or "refresh"
    expires: float


@dataclass
class Notification:
    """One notification as the AppView keeps it: listed newest first by (indexedAt, cid)."""

    recipient: str
    uri: str
    cid: str
    author: str
    reason: str
    reason_subject: str | None
    indexed_ms: int

    @property
    def order(self) -> tuple[int, str]:
        return (self.indexed_ms, self.cid)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]


class FakePds(FakeServer):
    """One PDS with its AppView's getPosts, served in a thread on a free port of 127.0.0.1."""

    def __init__(self, *, access_ttl: float = 7200.0, points_per_hour: int = 5000) -> None:
        self.access_ttl = access_ttl
        self.points_per_hour = points_per_hour
        # Switches a test flips.
        self.write_errors: list[tuple[int, str, str]] = []
        self.stall_next_writes = 0
        self.stall_seconds = 5.0
        # Posts the AppView has not indexed yet: getPosts leaves them out, the repository has them.
        self.unindexed: set[str] = set()
        # What a proxy in front of the PDS answers after the PDS stored the write (502, 504, 524…).
        self.answer_after_storing: list[int] = []
        # getPosts missing on a PDS that does not proxy it to an AppView: the status it answers instead
        # (501 MethodNotImplemented from the XRPC server, or a 404 page from whatever routes requests).
        self.get_posts_missing: int | None = None
        # Run before each page of notifications or of search results is read: a test makes more there.
        self.while_reading: Callable[[], None] | None = None
        # Answered, in turn, to the next reads of notifications, searches and threads.
        self.read_errors: list[tuple[int, str, str]] = []
        # An AppView that ignores listNotifications' `reasons` and lists likes and follows too.
        self.ignore_reasons = False
        # How many records the AppView indexes in one millisecond at most: enough that several share an
        # indexedAt, as on the real network; a test raises it to many more than one account ever gets.
        self.records_per_millisecond = 8
        # The AppView's clock, in milliseconds: a test stops it to index many records at one instant.
        self.clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000

        self.lock = threading.RLock()
        self.accounts: dict[str, FakeAccount] = {}
        self.tokens: dict[str, Token] = {}
        self.records: dict[str, dict[str, Any]] = {}  # at:// URI -> {"cid", "value", counts…}
        self.blobs: dict[str, tuple[str, int]] = {}  # cid -> (mime type, size)
        self.points: dict[tuple[str, int], int] = {}  # (did, hour window) -> points spent
        self.requests: list[RecordedRequest] = []
        self.sessions_created = 0
        self.notifications: list[Notification] = []
        self._counter = itertools.count(1)
        self._last_ms = 0
        self._at_last_ms = 0
        super().__init__(self._build_app())

    # -- What a test does to it ------------------------------------------------------------------------

    def add_account(self, handle: str, app_password: str) -> FakeAccount:
        with self.lock:
            did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
            account = FakeAccount(did=did, handle=handle, email=f"{handle.split('.')[0]}@example.com")
            account.app_passwords.add(app_password)
            self.accounts[did] = account
            return account

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                if token.kind == "access":
                    token.expires = 0.0

    def posts_of(self, account: FakeAccount) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {
                uri: r for uri, r in self.records.items() if uri.startswith(f"at://{account.did}/{POST}/")
            }

    def add_counts(self, uri: str, **counts: int) -> None:
        with self.lock:
            self.records[uri].update(counts)

    def post_as(
        self,
        author: FakeAccount,
        text: str,
        *,
        reply_to: str | None = None,
        quote: str | None = None,
        mention: FakeAccount | None = None,
    ) -> str:
        """Another account posts, as its own client would (a reply, a quote, a mention); the post's URI."""
        with self.lock:
            # createdAt is filled in when it is stored: the author's clock agrees with the AppView's.
            record: dict[str, Any] = {"$type": POST, "text": text}
            if reply_to is not None:
                parent = self.records[reply_to]
                root = parent["value"].get("reply", {}).get("root") or {"uri": reply_to, "cid": parent["cid"]}
                record["reply"] = {"root": root, "parent": {"uri": reply_to, "cid": parent["cid"]}}
            if quote is not None:
                record["embed"] = {
                    "$type": "app.bsky.embed.record",
                    "record": {"uri": quote, "cid": self.records[quote]["cid"]},
                }
            if mention is not None:
                named = f"@{mention.handle}"
                record["text"] = f"{text} {named}"
                start = len(text.encode()) + 1
                record["facets"] = [
                    {
                        "index": {"byteStart": start, "byteEnd": start + len(named.encode())},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": mention.did}],
                    }
                ]
            return self._store(author, POST, _tid_now(), record)

    def like_as(self, author: FakeAccount, uri: str) -> str:
        """Another account likes a post."""
        with self.lock:
            record = {
                "$type": LIKE,
                "subject": {"uri": uri, "cid": self.records[uri]["cid"]},
            }
            return self._store(author, LIKE, _tid_now(), record)

    def sort_ms(self, uri: str) -> int:
        """A post's `sortAt`, what a search's latest-first order uses: the earlier of its createdAt and
        indexedAt, so that a post dated in the future does not stay on top."""
        return int(self.records[uri]["sort_ms"])

    def records_in(self, account: FakeAccount, collection: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            prefix = f"at://{account.did}/{collection}/"
            return {uri: r for uri, r in self.records.items() if uri.startswith(prefix)}

    def requests_to(self, nsid: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == f"/xrpc/{nsid}"]

    # -- The server ------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("fake_pds")

        @app.before_request
        def record() -> None:
            self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers)))

        @app.post("/xrpc/com.atproto.server.createSession")
        def create_session() -> Response:
            body = request.get_json(silent=True) or {}
            identifier, password = body.get("identifier"), body.get("password")
            if not isinstance(identifier, str) or not isinstance(password, str):
                return _error(400, "InvalidRequest", 'Input must have the property "identifier"')
            with self.lock:
                account = next(
                    (
                        a
                        for a in self.accounts.values()
                        if identifier.lower() in (a.handle, a.email, a.did) and password in a.app_passwords
                    ),
                    None,
                )
                if account is None:
                    return _error(401, "AuthenticationRequired", "Invalid identifier or password")
                self.sessions_created += 1
                return jsonify(self._new_session(account))

        @app.post("/xrpc/com.atproto.server.refreshSession")
        def refresh_session() -> Response:
            with self.lock:
                token, problem = self._token("refresh")
                if problem is not None:
                    return problem
                assert token is not None
                # A refresh token is spent by its use: the answer carries the next one.
                del self.tokens[_bearer()]
                return jsonify(self._new_session(self.accounts[token.did]))

        @app.get("/xrpc/com.atproto.server.getSession")
        def get_session() -> Response:
            with self.lock:
                account, problem = self._authenticated()
                if problem is not None:
                    return problem
                assert account is not None
                return jsonify({"did": account.did, "handle": account.handle, "email": account.email})

        @app.get("/xrpc/com.atproto.identity.resolveHandle")
        def resolve_handle() -> Response:
            handle = (request.args.get("handle") or "").lower()
            with self.lock:
                account = next((a for a in self.accounts.values() if a.handle == handle), None)
            if account is None:
                return _error(400, "InvalidRequest", "Unable to resolve handle")
            return jsonify({"did": account.did})

        @app.post("/xrpc/com.atproto.repo.uploadBlob")
        def upload_blob() -> Response:
            with self.lock:
                _account, problem = self._authenticated()
                if problem is not None:
                    return problem
                data = request.get_data()
                cid = _cid(data)
                self.blobs[cid] = (request.content_type or "application/octet-stream", len(data))
                return jsonify(
                    {
                        "blob": {
                            "$type": "blob",
                            "ref": {"$link": cid},
                            "mimeType": self.blobs[cid][0],
                            "size": len(data),
                        }
                    }
                )

        @app.post("/xrpc/com.atproto.repo.createRecord")
        def create_record() -> Response:
            with self.lock:
                account, problem = self._authenticated()
                if problem is not None:
                    return problem
                assert account is not None
                limited = self._spend(account.did, CREATE_POINTS)
                if limited is not None:
                    return limited
                if self.write_errors:
                    status, name, message = self.write_errors.pop(0)
                    return _error(status, name, message)
                body = request.get_json(silent=True) or {}
                problem = self._create_problem(account, body)
                if problem is not None:
                    return problem
                rkey = body.get("rkey") or _tid_now()
                uri = f"at://{account.did}/{body['collection']}/{rkey}"
                if uri in self.records:
                    # The reference PDS's repository tree throws "There is already a value at key".
                    return _error(500, "InternalServerError", "Internal Server Error")
                self._store(account, body["collection"], rkey, body["record"])
                cid = self.records[uri]["cid"]
                stall = self.stall_next_writes > 0
                self.stall_next_writes -= 1 if stall else 0
                proxy_answer = self.answer_after_storing.pop(0) if self.answer_after_storing else None
            if proxy_answer is not None:
                return _proxy_page(proxy_answer)
            if stall:
                self.stall(self.stall_seconds)
            return self._with_rate_headers(jsonify({"uri": uri, "cid": cid}), account.did)

        @app.get("/xrpc/com.atproto.repo.getRecord")
        def get_record() -> Response:
            repo, collection, rkey = (request.args.get(k, "") for k in ("repo", "collection", "rkey"))
            with self.lock:
                did = next((a.did for a in self.accounts.values() if repo in (a.did, a.handle)), repo)
                uri = f"at://{did}/{collection}/{rkey}"
                stored = self.records.get(uri)
                if stored is None:
                    return _error(400, "RecordNotFound", f"Could not locate record: {uri}")
                return jsonify({"uri": uri, "cid": stored["cid"], "value": stored["value"]})

        @app.post("/xrpc/com.atproto.repo.deleteRecord")
        def delete_record() -> Response:
            with self.lock:
                account, problem = self._authenticated()
                if problem is not None:
                    return problem
                assert account is not None
                body = request.get_json(silent=True) or {}
                if body.get("repo") not in (account.did, account.handle):
                    return _error(401, "AuthenticationRequired", "Invalid did")
                # Deleting what is not there is no error: the reference PDS makes no commit and says 200.
                self.records.pop(f"at://{account.did}/{body.get('collection')}/{body.get('rkey')}", None)
                return jsonify({})

        @app.post("/xrpc/com.atproto.repo.putRecord")
        def put_record() -> Response:
            with self.lock:
                account, problem = self._authenticated()
                if problem is not None:
                    return problem
                assert account is not None
                limited = self._spend(account.did, CREATE_POINTS)
                if limited is not None:
                    return limited
                if self.write_errors:
                    status, name, message = self.write_errors.pop(0)
                    return _error(status, name, message)
                body = request.get_json(silent=True) or {}
                if body.get("collection") != THREADGATE:
                    return _error(400, "InvalidRequest", "This fake PDS puts app.bsky.feed.threadgate only")
                problem = self._create_problem(account, body)
                if problem is not None:
                    return problem
                uri = f"at://{account.did}/{THREADGATE}/{body['rkey']}"
                current = self.records.get(uri)
                if "swapRecord" in body and (current["cid"] if current else None) != body["swapRecord"]:
                    return _error(400, "InvalidSwap", f"Record was at {current['cid'] if current else None}")
                self._store(account, THREADGATE, body["rkey"], body["record"])
                return jsonify({"uri": uri, "cid": self.records[uri]["cid"]})

        @app.get("/xrpc/app.bsky.notification.listNotifications")
        def list_notifications() -> Response:
            limit, problem = _limit(default=50)
            if problem is not None:
                return problem
            if self.while_reading is not None:
                self.while_reading()
            with self.lock:
                account, problem = self._authenticated()
                if problem is not None:
                    return problem
                assert account is not None
                failed = self._read_error(account.did)
                if failed is not None:
                    return failed
                reasons = set(request.args.getlist("reasons"))
                listed = sorted(
                    (
                        n
                        for n in self.notifications
                        if n.recipient == account.did
                        and (self.ignore_reasons or not reasons or n.reason in reasons)
                        and n.uri in self.records
                    ),
                    key=lambda n: n.order,
                    reverse=True,
                )
                cursor = request.args.get("cursor")
                if cursor:
                    after = _cursor_key(cursor)
                    if after is None:
                        return _error(400, "InvalidRequest", "Malformed cursor")
                    listed = [n for n in listed if n.order < after]
                page = listed[:limit]
                body: dict[str, Any] = {
                    "notifications": [self._notification_view(n) for n in page],
                }
                if page:
                    body["cursor"] = f"{page[-1].indexed_ms}::{page[-1].cid}"
                return jsonify(body)

        @app.get("/xrpc/app.bsky.feed.searchPosts")
        def search_posts() -> Response:
            query = request.args.get("q", "")
            if not query.strip():
                return _error(400, "InvalidRequest", 'Error: Params must have the property "q"')
            limit, problem = _limit(default=25)
            if problem is not None:
                return problem
            if self.while_reading is not None:
                self.while_reading()
            with self.lock:
                account, problem = self._authenticated()
                if problem is not None:
                    return problem
                assert account is not None
                failed = self._read_error(account.did)
                if failed is not None:
                    return failed
                words = [word.lower() for word in query.split()]
                hits = sorted(
                    (
                        uri
                        for uri, stored in self.records.items()
                        if f"/{POST}/" in uri
                        and uri not in self.unindexed
                        and all(word in stored["value"]["text"].lower() for word in words)
                    ),
                    key=lambda uri: (self.sort_ms(uri), self.records[uri]["cid"]),
                    reverse=True,
                )
                offset = request.args.get("cursor", "0")
                if not offset.isdigit():
                    return _error(400, "InvalidRequest", "Malformed cursor")
                start = int(offset)
                page = hits[start : start + limit]
                body = {"posts": [self._post_view(uri) for uri in page], "hitsTotal": len(hits)}
                if start + limit < len(hits):
                    body["cursor"] = str(start + limit)
                return jsonify(body)

        @app.get("/xrpc/app.bsky.actor.getProfile")
        def get_profile() -> Response:
            actor = request.args.get("actor", "")
            with self.lock:
                _, problem = self._authenticated()
                if problem is not None:
                    return problem
                account = next((a for a in self.accounts.values() if actor in (a.did, a.handle)), None)
                if account is None:
                    return _error(400, "InvalidRequest", "Profile not found")
                return jsonify(
                    {
                        "did": account.did,
                        "handle": account.handle,
                        "followersCount": account.followers,
                        "followsCount": account.follows,
                        "postsCount": len(self.posts_of(account)),
                        "indexedAt": datetime.now(UTC).isoformat(),
                    }
                )

        @app.get("/xrpc/app.bsky.feed.getPostThread")
        def get_post_thread() -> Response:
            # The lexicon: `uri`, `depth` and `parentHeight`; a thread view of the post; NotFound when the
            # AppView knows no such post.
            uri = request.args.get("uri", "")
            with self.lock:
                _, problem = self._authenticated()
                if problem is not None:
                    return problem
                account, _ = self._authenticated()
                assert account is not None
                failed = self._read_error(account.did)
                if failed is not None:
                    return failed
                if uri not in self.records or uri in self.unindexed:
                    return _error(400, "NotFound", f"Post not found: {uri}")
                depth = int(request.args.get("depth", 6))
                parent_height = int(request.args.get("parentHeight", 80))
                thread = self._thread_view(uri, depth)
                view, height = thread, parent_height
                while height > 0 and "reply" in self.records[view["post"]["uri"]]["value"]:
                    parent_uri = self.records[view["post"]["uri"]]["value"]["reply"]["parent"]["uri"]
                    if parent_uri not in self.records or parent_uri in self.unindexed:
                        view["parent"] = {
                            "$type": "app.bsky.feed.defs#notFoundPost",
                            "uri": parent_uri,
                            "notFound": True,
                        }
                        break
                    view["parent"] = {
                        "$type": "app.bsky.feed.defs#threadViewPost",
                        "post": self._post_view(parent_uri),
                    }
                    view, height = view["parent"], height - 1
                return jsonify({"thread": thread})

        @app.get("/xrpc/app.bsky.feed.getPosts")
        def get_posts() -> Response:
            if self.get_posts_missing == 501:
                return _error(501, "MethodNotImplemented", "Method Not Implemented")
            if self.get_posts_missing is not None:
                return Response("Not Found", self.get_posts_missing, content_type="text/plain")
            uris = request.args.getlist("uris")
            if len(uris) > GET_POSTS_LIMIT:
                return _error(
                    400, "InvalidRequest", f"uris must not have more than {GET_POSTS_LIMIT} elements"
                )
            with self.lock:
                _, problem = self._authenticated()
                if problem is not None:
                    return problem
                posts = [
                    self._post_view(uri) for uri in uris if uri in self.records and uri not in self.unindexed
                ]
            return jsonify({"posts": posts})

        return app

    # -- Inside the server -----------------------------------------------------------------------------

    def _new_session(self, account: FakeAccount) -> dict[str, Any]:
        access, refresh = f"access-{next(self._counter)}", f"refresh-{next(self._counter)}"
        now = time.time()
        self.tokens[access] = Token(account.did, "access", now + self.access_ttl)
        self.tokens[refresh] = Token(account.did, "refresh", now + 90 * 86400)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": account.did,
            "handle": account.handle,
            "email": account.email,
            "active": True,
        }

    def _token(self, kind: str) -> tuple[Token | None, Response | None]:
        bearer = _bearer()
        if not bearer:
            return None, _error(401, "AuthenticationRequired", "Authentication Required")
        token = self.tokens.get(bearer)
        if token is None or token.kind != kind:
            return None, _error(
                400 if kind == "refresh" else 401, "InvalidToken", "Token could not be verified"
            )
        if token.expires <= time.time():
            return None, _error(400, "ExpiredToken", "Token has expired")
        return token, None

    def _authenticated(self) -> tuple[FakeAccount | None, Response | None]:
        token, problem = self._token("access")
        if problem is not None:
            return None, problem
        assert token is not None
        return self.accounts[token.did], None

    def _spend(self, did: str, points: int) -> Response | None:
        window = int(time.time()) // 3600
        spent = self.points.get((did, window), 0)
        if spent + points > self.points_per_hour:
            return self._with_rate_headers(_error(429, "RateLimitExceeded", "Rate Limit Exceeded"), did)
        self.points[(did, window)] = spent + points
        return None

    def _with_rate_headers(self, response: Response, did: str) -> Response:
        window = int(time.time()) // 3600
        spent = self.points.get((did, window), 0)
        response.headers["RateLimit-Limit"] = str(self.points_per_hour)
        response.headers["RateLimit-Remaining"] = str(max(self.points_per_hour - spent, 0))
        response.headers["RateLimit-Reset"] = str((window + 1) * 3600)
        response.headers["RateLimit-Policy"] = f"{self.points_per_hour};w=3600"
        return response

    def _create_problem(self, account: FakeAccount, body: dict[str, Any]) -> Response | None:
        if body.get("repo") not in (account.did, account.handle):
            return _error(400, "InvalidRequest", "Invalid repo")
        collection, rkey, value = body.get("collection"), body.get("rkey"), body.get("record")
        if collection not in (POST, LIKE, THREADGATE) or not isinstance(value, dict):
            return _error(400, "InvalidRequest", "This fake PDS stores posts, likes and threadgates only")
        if rkey is not None and (
            not isinstance(rkey, str) or not _RECORD_KEY.match(rkey) or rkey in (".", "..")
        ):
            return _error(400, "InvalidRequest", "Invalid record key")
        if rkey is not None and not _TID.match(rkey):
            return _error(400, "InvalidRequest", f"Record key of {collection} must be a TID")
        if value.get("$type") not in (None, collection):
            return _error(
                400, "InvalidRequest", f"Invalid $type: expected {collection}, got {value.get('$type')}"
            )
        if collection == LIKE:
            subject = value.get("subject")
            if not (
                isinstance(subject, dict)
                and isinstance(subject.get("uri"), str)
                and isinstance(subject.get("cid"), str)
                and isinstance(value.get("createdAt"), str)
            ):
                return _error(400, "InvalidRequest", "Invalid app.bsky.feed.like record: Record/subject")
            return None
        if collection == THREADGATE:
            hidden = value.get("hiddenReplies") or []
            if value.get("post") != f"at://{account.did}/{POST}/{rkey}" or not isinstance(
                value.get("createdAt"), str
            ):
                return _error(400, "InvalidRequest", "Invalid app.bsky.feed.threadgate record: Record/post")
            if not isinstance(hidden, list) or len(hidden) > MAX_HIDDEN_REPLIES:
                return _error(
                    400,
                    "InvalidRequest",
                    "Invalid app.bsky.feed.threadgate record: Record/hiddenReplies must not have more "
                    f"than {MAX_HIDDEN_REPLIES} elements",
                )
            return None
        text = value.get("text")
        if not isinstance(text, str) or not isinstance(value.get("createdAt"), str):
            return _error(400, "InvalidRequest", 'Record must have the properties "text" and "createdAt"')
        graphemes, size = bluesky_length(text)
        if graphemes > 300:
            return _error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            )
        if size > 3000:
            return _error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 3000 characters",
            )
        encoded = text.encode("utf-8")
        for number, facet in enumerate(value.get("facets") or []):
            start, end = facet.get("index", {}).get("byteStart"), facet.get("index", {}).get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(encoded)):
                return _error(
                    400,
                    "InvalidRequest",
                    f"Invalid app.bsky.feed.post record: facets/{number} is out of the text",
                )
            if not (_on_boundary(encoded, start) and _on_boundary(encoded, end)):
                return _error(
                    400,
                    "InvalidRequest",
                    f"Invalid app.bsky.feed.post record: facets/{number} splits a character",
                )
            if not facet.get("features"):
                return _error(
                    400,
                    "InvalidRequest",
                    f"Invalid app.bsky.feed.post record: facets/{number} has no features",
                )
        langs = value.get("langs")
        if langs is not None and (not isinstance(langs, list) or len(langs) > 3):
            return _error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/langs must not have more than 3 elements",
            )
        embed = value.get("embed")
        if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.images":
            images = embed.get("images") or []
            if len(images) > 4:
                return _error(
                    400,
                    "InvalidRequest",
                    "Invalid app.bsky.feed.post record: Record/embed/images must have at most 4 elements",
                )
            for image in images:
                blob = self.blobs.get(str(image.get("image", {}).get("ref", {}).get("$link")))
                if blob is None:
                    return _error(400, "InvalidRequest", "Could not find blob")
                if blob[1] > IMAGE_MAX_BYTES or "alt" not in image:
                    return _error(
                        400,
                        "InvalidRequest",
                        "Invalid app.bsky.feed.post record: Record/embed/images is invalid",
                    )
        return None

    def _post_view(self, uri: str) -> dict[str, Any]:
        stored = self.records[uri]
        did = uri.removeprefix("at://").split("/")[0]
        return {
            "uri": uri,
            "cid": stored["cid"],
            "author": self._profile_view(did),
            "record": stored["value"],
            # likeCount, repostCount, replyCount, quoteCount, bookmarkCount, and any a test adds (add_counts).
            **{key: value for key, value in stored.items() if key.endswith("Count")},
            "indexedAt": _iso(stored["indexed_ms"]),
        }

    def _profile_view(self, did: str) -> dict[str, Any]:
        account = self.accounts[did]
        view: dict[str, Any] = {"did": did, "handle": account.handle}
        if account.display_name is not None:
            view["displayName"] = account.display_name
        if account.avatar is not None:
            view["avatar"] = account.avatar
        return view

    def _thread_view(self, uri: str, depth: int) -> dict[str, Any]:
        view: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self._post_view(uri)}
        if depth > 0:
            children = [
                child
                for child, stored in self.records.items()
                if f"/{POST}/" in child
                and child not in self.unindexed
                and stored["value"].get("reply", {}).get("parent", {}).get("uri") == uri
            ]
            view["replies"] = [self._thread_view(child, depth - 1) for child in children]
        return view

    def _notification_view(self, notification: Notification) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uri": notification.uri,
            "cid": notification.cid,
            "author": self._profile_view(notification.author),
            "reason": notification.reason,
            "record": self.records[notification.uri]["value"],
            "isRead": False,
            "indexedAt": _iso(notification.indexed_ms),
        }
        if notification.reason_subject is not None:
            view["reasonSubject"] = notification.reason_subject
        return view

    def _read_error(self, did: str) -> Response | None:
        if not self.read_errors:
            return None
        status, name, message = self.read_errors.pop(0)
        return self._with_rate_headers(_error(status, name, message), did)

    def _store(self, author: FakeAccount, collection: str, rkey: str, record: dict[str, Any]) -> str:
        """Keep a record in the repository, and index it as the AppView does: counts and notifications."""
        uri = f"at://{author.did}/{collection}/{rkey}"
        # Milliseconds, as the AppView's indexedAt: several records may share one, up to a bound (see
        # records_per_millisecond).
        now_ms = self.clock_ms()
        if now_ms > self._last_ms:
            self._last_ms, self._at_last_ms = now_ms, 0
        elif self._at_last_ms >= self.records_per_millisecond:
            self._last_ms, self._at_last_ms = self._last_ms + 1, 0
        self._at_last_ms += 1
        record.setdefault("createdAt", _iso(self._last_ms))
        cid = _cid(repr(record).encode() + uri.encode() + str(next(self._counter)).encode())
        self.records[uri] = {
            "cid": cid,
            "value": record,
            "indexed_ms": self._last_ms,
            "sort_ms": min(_ms_of(record["createdAt"]), self._last_ms),
            "likeCount": 0,
            "repostCount": 0,
            "replyCount": 0,
            "quoteCount": 0,
            "bookmarkCount": 0,
        }
        for recipient, reason, subject in self._notified_by(author.did, collection, record):
            self.notifications.append(
                Notification(recipient, uri, cid, author.did, reason, subject, self._last_ms)
            )
        if collection == LIKE and record["subject"]["uri"] in self.records:
            self.records[record["subject"]["uri"]]["likeCount"] += 1
        return uri

    def _notified_by(
        self, author: str, collection: str, record: dict[str, Any]
    ) -> list[tuple[str, str, str | None]]:
        """Who a new record notifies, why, and of which of their posts: one notification per person."""
        found: dict[str, tuple[str, str | None]] = {}

        def notify(uri: str | None, reason: str, subject: str | None) -> None:
            did = uri.removeprefix("at://").split("/")[0] if uri else None
            if did and did != author and did in self.accounts and did not in found:
                found[did] = (reason, subject)

        if collection == LIKE:
            notify(record["subject"]["uri"], "like", record["subject"]["uri"])
        if collection == POST:
            reply = record.get("reply") or {}
            for ref in (reply.get("parent"), reply.get("root")):
                if ref:
                    notify(ref["uri"], "reply", ref["uri"])
            embed = record.get("embed") or {}
            if embed.get("$type") == "app.bsky.embed.record":
                notify(embed["record"]["uri"], "quote", embed["record"]["uri"])
            for facet in record.get("facets") or []:
                for feature in facet.get("features", []):
                    if feature.get("$type") == "app.bsky.richtext.facet#mention":
                        notify(f"at://{feature['did']}", "mention", None)
        return [(did, reason, subject) for did, (reason, subject) in found.items()]


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def _on_boundary(encoded: bytes, offset: int) -> bool:
    # A UTF-8 continuation byte is 0b10xxxxxx: no character starts there.
    return offset == len(encoded) or (encoded[offset] & 0xC0) != 0x80


def _cid(data: bytes) -> str:
    return "bafyrei" + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")


def _limit(default: int) -> tuple[int, Response | None]:
    value = request.args.get("limit", str(default))
    if not value.isdigit() or not 1 <= int(value) <= PAGE_MAX:
        return 0, _error(400, "InvalidRequest", f"limit must be an integer from 1 to {PAGE_MAX}")
    return int(value), None


def _cursor_key(cursor: str) -> tuple[int, str] | None:
    at, _, cid = cursor.partition("::")
    return (int(at), cid) if at.isdigit() and cid else None


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms_of(value: object) -> int:
    """A record's datetime in milliseconds; a far-future one where it cannot be read (min() skips it)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return 2**62
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _tid_now() -> str:
    # Microseconds, made to increase: records made in a tight loop must not share a key.
    global _last_tid
    with _tid_lock:
        _last_tid = max(_last_tid + 1, time.time_ns() // 1000)
        value = _last_tid << 10
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(value >> shift) & 0x1F] for shift in range(60, -1, -5))


def _proxy_page(status: int) -> Response:
    """What nginx or Cloudflare in front of the PDS answers when the PDS was slow to."""
    page = proxy_error_page(status)
    return Response(page.body, status, content_type=page.content_type, headers=dict(page.headers))


def _error(status: int, name: str, message: str) -> Response:
    response = jsonify({"error": name, "message": message})
    response.status_code = status
    return response


def serve(**options: Any) -> Iterator[FakePds]:
    """A started server, stopped afterwards: the body of a pytest fixture."""
    server = FakePds(**options).start()
    try:
        yield server
    finally:
        server.stop()
