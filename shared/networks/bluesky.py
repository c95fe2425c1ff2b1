"""Bluesky: the adapter for an account on any AT Protocol PDS (bsky.social by default), by app password.

Followed, from the AT Protocol and Bluesky documents (atproto.com/specs, docs.bsky.app, and the lexicons in
bluesky-social/atproto, lexicons/): com.atproto.server.createSession, refreshSession and getSession (an app
password buys an access token and a single-use refresh token; an expired access token answers 400
`ExpiredToken`); com.atproto.repo.createRecord, getRecord and deleteRecord; com.atproto.repo.uploadBlob;
com.atproto.identity.resolveHandle; app.bsky.feed.post (text of at most 300 graphemes and 3000 bytes,
`createdAt`, `facets`, `langs` of at most 3, `reply` with strong refs to the root and parent, `embed`);
app.bsky.richtext.facet; app.bsky.embed.images (at most 4, each blob at most 1,000,000 bytes, `alt` required
but unbounded) and app.bsky.embed.external; app.bsky.feed.getPosts (at most 25 URIs; posts it cannot see are
left out) and app.bsky.feed.defs#postView (likeCount, repostCount, replyCount, quoteCount, and bookmarkCount
since the app.bsky.bookmark lexicons of 2025); app.bsky.actor.getProfile and
app.bsky.actor.defs#profileViewDetailed (followersCount, followsCount, postsCount); the specs "Record Key" and
"Timestamp Identifiers (TIDs)", and "XRPC" (error bodies `{"error", "message"}`); "Rate Limits"
(docs.bsky.app/docs/advanced-guides/rate-limits: 5,000 points an hour and 35,000 a day per account, a created
record costing 3; RateLimit-* headers, Reset in epoch seconds; createSession 30 per 5 minutes and 300 a day
per handle). From the PDS's source (bluesky-social/atproto, packages/pds/src/repo/prepare.ts and
packages/repo/src/mst): createRecord checks a client's record key for record-key syntax only, and creating at
a key that is taken fails inside the repository tree, which the PDS answers as a 500.

Exactly once, by record key. Each post's record key is computed from the delivery's idempotency key (see
`record_key`), so every attempt of one delivery writes to the same path of the account's repository, and a
path holds one record. Before creating, publish reads that path: an earlier attempt's post is returned, not
made again. If two attempts race, the second createRecord fails, and the record found there is returned.
So a retry can never make a second post, whatever went wrong before, and `find_published` is certain.

What counts as "the request may have been sent" is as in the Mastodon adapter: only a connection never made
(ConnectError, ConnectTimeout, PoolTimeout, UnsupportedProtocol) proves a createRecord did not arrive.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.outbound import UPLOAD, AddressPolicy, Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthExpired,
    Draft,
    Engagement,
    MediaItem,
    MediaRule,
    NetworkError,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    TextPreview,
    Transient,
)
from shared.networks.toolkit.answers import answer_object, network_words, reading, refusal, sanitized
from shared.networks.toolkit.calls import transport_failure
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, check_server_url
from shared.text.bluesky import BLUESKY_MAX_BYTES, BLUESKY_MAX_GRAPHEMES, Facet, bluesky_length, detect_facets

DEFAULT_PDS = "https://bsky.social"
SETTING_KEYS = frozenset({"pds_url", "langs", LEGACY_LOOPBACK_SETTING})
POST = "app.bsky.feed.post"

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
# app.bsky.embed.images: `image` is a blob of maxSize 1000000; at most 4 images.
IMAGE_MAX_BYTES = 1_000_000
MAX_IMAGES = 4
# app.bsky.feed.post: `langs` holds at most 3 language tags.
MAX_LANGS = 3
# app.bsky.feed.getPosts takes at most 25 URIs.
GET_POSTS_LIMIT = 25

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=120.0, pool=5.0)

# -- Record keys -------------------------------------------------------------------------------------------

_BASE32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
# 2000-01-01T00:00:00Z in microseconds: the start of the range our keys' timestamp part falls in.
_KEY_EPOCH_MICROS = 946_684_800_000_000
_KEY_SPAN_BITS = 48  # about 8.9 years: 2000 to 2008, before any clock-made post key on the network


def record_key(idempotency_key: str, item: int = 0) -> str:
    """The record key of a delivery's post (item 0) or of its thread reply `item`: a TID, the same every time.

    The app.bsky.feed.post lexicon declares `"key": "tid"`. The reference PDS checks only the record-key
    syntax today (its prepare.ts carries a TODO to check the lexicon's key type), so a free-form key such as
    `crier-<uuid>` would be taken now and might be refused later; a TID is valid under both rules.

    A TID is 64 bits: a zero, 53 bits of microseconds since 1970, 10 bits of "clock id", in 13 characters
    of base32-sortable. Crier's idempotency key (a random UUID) carries no time, and publish() is not told
    when the delivery was first attempted, so both parts come from SHA-256 of the key: 48 bits place the
    timestamp between 2000 and 2008 (no post made by a clock can collide with ours), 10 bits are the clock
    id. 58 bits of hash per account make a collision between two of one account's deliveries negligible
    (about one in 10^7 after a million posts). The timestamp part says nothing about when it was posted,
    which the TID spec warns readers not to trust anyway; `createdAt` holds the true time.
    """
    material = idempotency_key if item == 0 else f"{idempotency_key}:{item}"
    digest = int.from_bytes(hashlib.sha256(material.encode("utf-8")).digest()[:8], "big")
    micros = _KEY_EPOCH_MICROS + (digest >> (64 - _KEY_SPAN_BITS))
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_BASE32_SORTABLE[(value >> shift) & 0x1F] for shift in range(60, -1, -5))


# -- Settings ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSettings:
    """A Bluesky channel's options, checked."""

    pds_url: str
    langs: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.pds_url).netloc


def parse_settings(
    settings: Mapping[str, Any], policy: AddressPolicy
) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used.

    `allow_insecure_loopback`, which older channels carry, is read and ignored (see LEGACY_LOOPBACK_SETTING).
    """
    problems = [f"unknown option {key!r}" for key in settings if key not in SETTING_KEYS]
    pds_url, url_problems = check_server_url(
        settings.get("pds_url", DEFAULT_PDS),
        setting="pds_url",
        example=DEFAULT_PDS,
        secret="an app password",
        policy=policy,
    )
    problems += url_problems
    langs, lang_problems = _check_langs(settings.get("langs"))
    problems += lang_problems
    if problems or pds_url is None:
        return None, problems
    return ChannelSettings(pds_url=pds_url, langs=langs), []


def _check_langs(value: object) -> tuple[tuple[str, ...], list[str]]:
    if value is None:
        return (), []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(_is_language_tag(lang) for lang in value):
        return (), ["langs must be a list of language tags such as ['en'] or ['pt-BR']"]
    if len(value) > MAX_LANGS:
        return (), [f"langs may name at most {MAX_LANGS} languages"]
    return tuple(value), []


def _is_language_tag(value: object) -> bool:
    # BCP 47 in its common shapes: a 2-3 letter language, then subtags of letters and digits.
    if not isinstance(value, str) or not value.isascii():
        return False
    language, *subtags = value.split("-")
    return (
        language.isalpha()
        and 2 <= len(language) <= 3
        and all(subtag.isalnum() and 1 <= len(subtag) <= 8 for subtag in subtags)
    )


# -- Sessions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """What createSession or refreshSession answered: who, and the two tokens."""

    did: str
    handle: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)


@dataclass(frozen=True)
class Credentials:
    identifier: str
    app_password: str = field(repr=False)
    # The session an earlier process made and kept (see save), so this one need not sign in again.
    stored_session: Session | None = field(default=None, repr=False)
    save: Callable[[Mapping[str, Any]], None] | None = field(default=None, repr=False, compare=False)

    def keep(self, session: Session) -> None:
        """Store a new or refreshed session with the credentials, for the next process to start from."""
        if self.save is None:
            return
        stored = {
            "did": session.did,
            "handle": session.handle,
            "access_jwt": session.access_jwt,
            "refresh_jwt": session.refresh_jwt,
        }
        try:
            self.save({"identifier": self.identifier, "app_password": self.app_password, "session": stored})
        except Exception:
            # Keeping it saves a sign-in later; failing to must not fail the post that is going out now.
            log.warning("could not store the refreshed Bluesky session", exc_info=True)

    @property
    def cache_key(self) -> str:
        # New credentials for the same handle (the person reconnected) must not reuse the old session.
        digest = hashlib.sha256(f"{self.identifier}\0{self.app_password}".encode()).hexdigest()
        return digest


@dataclass(frozen=True)
class Ref:
    """A strong reference to a record (com.atproto.repo.strongRef)."""

    uri: str
    cid: str
    # The record's createdAt, where it was read: when the post was made, as the network shows it.
    created_at: datetime | None = None

    def as_json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}

    def as_part(self) -> PublishedPart:
        return PublishedPart(external_id=self.uri, url=post_url(self.uri), created_at=self.created_at)


class BlueskyNetwork:
    """The `bluesky` network's adapter: one per process, for every PDS and account."""

    info = NetworkInfo(
        name="bluesky",
        display_name="Bluesky",
        text_limit=BLUESKY_MAX_GRAPHEMES,
        text_unit="graphemes (and at most 3,000 UTF-8 bytes)",
        supports_threads=True,
        media=MediaRule(
            content_types=IMAGE_TYPES,
            max_bytes=IMAGE_MAX_BYTES,
            max_items=MAX_IMAGES,
            # app.bsky.embed.images sets no limit on `alt`.
            alt_text_limit=None,
        ),
        metrics=("likes", "reposts", "replies", "quotes", "bookmarks"),
        credential_keys=("identifier", "app_password"),
        can_find_published=True,
        # A post record can be deleted; Bluesky has no edit (its clients never change a post's record).
        can_delete=True,
        # Bluesky's PDS allows an account 5,000 points an hour and 35,000 a day, a created record costing 3
        # (docs.bsky.app, "Rate Limits"), and likes, follows and reposts the person makes by hand count too.
        # 300 posts an hour with a burst of 50 spends at most 1,050 points in an hour and 21,600 in a day:
        # under a third and under two thirds. Thread replies are records too and are not counted here.
        account_rate=Rate.per_hour(300, burst=50),
        engagement_batch_size=GET_POSTS_LIMIT,
        # "Rate Limits": 3,000 API requests per 5 minutes per IP address, so across every account this Crier
        # reads for. Metrics and snapshots take at most half.
        network_read_rate=Rate.per_minute(300, burst=50),
    )

    def __init__(self, outbound: Outbound | None = None, *, http: httpx.Client | None = None) -> None:
        self._outbound = outbound or Outbound()
        self._http = http or self._outbound.client(TIMEOUT)
        self._lock = threading.Lock()
        # Sessions live in this process only: refreshed tokens are not written back (see the report).
        self._sessions: dict[tuple[str, str], Session] = {}
        self._session_locks: dict[tuple[str, str], threading.Lock] = {}
        # Servers that refused getPosts for want of it: read one post at a time there.
        self._no_batch_read: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> BlueskyNetwork:
        return cls(Outbound.from_settings(settings))

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings, self._outbound.policy)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the identifier's and app password's shape; whether they work, verify() asks."""
        problems = []
        if not isinstance(credentials.get("identifier"), str) or not credentials["identifier"].strip():
            problems.append("identifier must be the account's handle (alice.bsky.social) or email")
        if not isinstance(credentials.get("app_password"), str) or not credentials["app_password"].strip():
            problems.append("app_password must be an app password made in Bluesky's settings")
        return problems

    def validate(self, draft: Draft) -> list[str]:
        problems: list[str] = []
        if not draft.text.strip() and not draft.media:
            problems.append("the text is empty")
        problems += [
            f"thread item {index} is empty" for index, text in enumerate(draft.thread, 1) if not text.strip()
        ]
        for label, text in _labelled_texts(draft):
            problems += [f"{label} {problem}" for problem in _length_problems(text)]
        problems += _media_problems(draft.media)
        problems += _option_problems(draft)
        return problems

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        previews = []
        for text in (draft.text, *draft.thread):
            graphemes, _ = bluesky_length(text)
            previews.append(
                TextPreview(
                    text=text,
                    length=graphemes,
                    limit=BLUESKY_MAX_GRAPHEMES,
                    problems=tuple(f"the text {problem}" for problem in _length_problems(text)),
                )
            )
        return previews

    # -- Publishing ----------------------------------------------------------------------------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Create the post, then each thread item as a reply to the one before, each at its own fixed key.

        Each record's path is read first, so a retry picks up where an earlier attempt stopped: a thread
        whose first two records were made is finished, not started again. That read is also why the parts
        already `published` need no special care here: their keys hold them.
        """
        channel = self._channel(account)
        credentials = _credentials(account)
        problems = self.validate(draft)
        if problems:
            raise Rejected("Bluesky would refuse this draft: " + "; ".join(problems))
        session = self._session(channel, credentials)
        langs = _langs(draft, channel)
        handles: dict[str, str | None] = {}

        root = self._existing(channel, session.did, record_key(idempotency_key))
        if root is None:
            # Nothing is posted while the images upload: a failure here leaves no post.
            embed = self._embed(channel, credentials, draft)
            record = self._post_record(channel, credentials, draft.text, langs, handles, embed=embed)
            root = self._create(channel, credentials, record_key(idempotency_key), record)
        made = [root]
        for index, text in enumerate(draft.thread, 1):
            rkey = record_key(idempotency_key, index)
            try:
                reply = self._existing(channel, session.did, rkey)
                if reply is None:
                    record = self._post_record(
                        channel, credentials, text, langs, handles, reply_to=(root, made[-1])
                    )
                    reply = self._create(channel, credentials, rkey, record)
            except NetworkError as error:
                raise error.after([ref.as_part() for ref in made]) from None
            made.append(reply)
        return PublishedPost.of([ref.as_part() for ref in made])

    def _post_record(
        self,
        channel: ChannelSettings,
        credentials: Credentials,
        text: str,
        langs: tuple[str, ...],
        handles: dict[str, str | None],
        *,
        embed: dict[str, Any] | None = None,
        reply_to: tuple[Ref, Ref] | None = None,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        facets = self._facets(channel, credentials, text, handles)
        if facets:
            record["facets"] = facets
        if langs:
            record["langs"] = list(langs)
        if reply_to is not None:
            root, parent = reply_to
            record["reply"] = {"root": root.as_json(), "parent": parent.as_json()}
        if embed is not None:
            record["embed"] = embed
        return record

    def _facets(
        self, channel: ChannelSettings, credentials: Credentials, text: str, handles: dict[str, str | None]
    ) -> list[dict[str, Any]]:
        facets = []
        for facet in detect_facets(text):
            feature = self._feature(channel, credentials, facet, handles)
            if feature is not None:
                facets.append(
                    {
                        "index": {"byteStart": facet.byte_start, "byteEnd": facet.byte_end},
                        "features": [feature],
                    }
                )
        return facets

    def _feature(
        self, channel: ChannelSettings, credentials: Credentials, facet: Facet, handles: dict[str, str | None]
    ) -> dict[str, str] | None:
        if facet.kind == "link":
            return {"$type": "app.bsky.richtext.facet#link", "uri": facet.value}
        if facet.kind == "tag":
            return {"$type": "app.bsky.richtext.facet#tag", "tag": facet.value}
        handle = facet.value.lower()
        if handle not in handles:
            handles[handle] = self._resolve_handle(channel, credentials, handle)
        did = handles[handle]
        # A handle that resolves to no account stays plain text, as the official clients leave it.
        return None if did is None else {"$type": "app.bsky.richtext.facet#mention", "did": did}

    def _resolve_handle(self, channel: ChannelSettings, credentials: Credentials, handle: str) -> str | None:
        response = self._call(
            channel,
            credentials,
            "GET",
            "com.atproto.identity.resolveHandle",
            params={"handle": handle},
        )
        if response.status_code == 400:
            return None  # "Unable to resolve handle"
        _check(response, channel.host)
        did = answer_object(response, what=channel.host, write=False).get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    def _embed(
        self, channel: ChannelSettings, credentials: Credentials, draft: Draft
    ) -> dict[str, Any] | None:
        if draft.media:
            return {
                "$type": "app.bsky.embed.images",
                "images": [
                    {"image": self._upload(channel, credentials, item), "alt": item.alt_text or ""}
                    for item in draft.media
                ],
            }
        card = draft.options.get("link_card")
        if isinstance(card, Mapping):
            return {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": str(card["uri"]),
                    "title": str(card.get("title") or ""),
                    "description": str(card.get("description") or ""),
                },
            }
        return None

    def _upload(self, channel: ChannelSettings, credentials: Credentials, item: MediaItem) -> dict[str, Any]:
        response = self._call(
            channel,
            credentials,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=item.data,
            headers={"Content-Type": item.content_type},
            timeout=UPLOAD_TIMEOUT,
            extensions=UPLOAD,
        )
        _check(response, channel.host)
        blob = answer_object(response, what=channel.host, write=False).get("blob")
        if not isinstance(blob, dict):
            raise Transient(f"{channel.host}: uploadBlob answered without a blob")
        return blob

    def _create(
        self, channel: ChannelSettings, credentials: Credentials, rkey: str, record: dict[str, Any]
    ) -> Ref:
        session = self._session(channel, credentials)
        response = self._call(
            channel,
            credentials,
            "POST",
            "com.atproto.repo.createRecord",
            may_post=True,
            json={"repo": session.did, "collection": POST, "rkey": rkey, "validate": True, "record": record},
        )
        if response.is_success:
            body = answer_object(response, what=channel.host, write=True)
            with reading(channel.host, write=True):
                return Ref(uri=_text(body["uri"]), cid=_text(body["cid"]), created_at=_record_time(record))
        if response.status_code not in (401, 403, 429):
            # A taken key fails inside the PDS's repository tree (a 500 from the reference PDS, a 400 or 409
            # elsewhere): whatever the answer, a record at our key is the one an earlier attempt made.
            existing = self._existing(channel, session.did, rkey)
            if existing is not None:
                return existing
        _check(response, channel.host, may_have_posted=True)
        raise AssertionError("unreachable: _check raises for every unsuccessful answer")

    def _existing(self, channel: ChannelSettings, did: str, rkey: str) -> Ref | None:
        """The post at this key of the account's repository, or None when there is none."""
        response = self._send(
            "GET",
            f"{channel.pds_url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": POST, "rkey": rkey},
        )
        if response.status_code == 400 and _error_name(response) in ("RecordNotFound", "InvalidRequest"):
            return None
        if response.status_code == 404:
            return None
        _check(response, channel.host)
        body = answer_object(response, what=channel.host, write=False)
        cid = body.get("cid")
        if not isinstance(cid, str):
            raise Transient(f"{channel.host}: getRecord answered without the record's cid")
        value = body.get("value")
        return Ref(
            uri=str(body.get("uri") or at_uri(did, rkey)),
            cid=cid,
            created_at=_record_time(value) if isinstance(value, Mapping) else None,
        )

    # -- Finding what an uncertain attempt made ------------------------------------------------------

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
        last_attempted_at: datetime | None = None,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost | None:
        """The post at the delivery's record key, and as much of its thread as its keys hold; None when
        the post's key holds nothing.

        Certain either way: the keys are the delivery's own. Should an attempt still in flight land after
        an answer, the publish that follows finds its record instead of making another; so a thread found
        in part comes back in part, and publishing goes on from its last reply.
        """
        channel = self._channel(account)
        session = self._session(channel, _credentials(account))
        root = self._existing(channel, session.did, record_key(idempotency_key))
        if root is None:
            return None
        made = [root]
        for index in range(1, len(draft.thread) + 1 if draft is not None else 1):
            reply = self._existing(channel, session.did, record_key(idempotency_key, index))
            if reply is None:
                break
            made.append(reply)
        return PublishedPost.of([ref.as_part() for ref in made])

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts in batches of 25 (app.bsky.feed.getPosts); a post it leaves out is looked up in the repo.

        A server that refuses the batch read for want of it (405, 501, another 4xx that is not about the
        session or the pace) is read one post at a time with getPostThread from then on.
        """
        channel = self._channel(account)
        credentials = _credentials(account)
        result: dict[str, Engagement | PostGone] = {}
        uris = list(dict.fromkeys(external_ids))
        for start in range(0, len(uris), GET_POSTS_LIMIT):
            chunk = uris[start : start + GET_POSTS_LIMIT]
            seen = self._read_batch(channel, credentials, chunk)
            if seen is None:
                seen = self._read_each(channel, credentials, chunk)
            for uri in chunk:
                post = seen.get(uri)
                if post is None:
                    result[uri] = self._missing(channel, uri)
                    continue
                with reading(channel.host, write=False):
                    result[uri] = _engagement(post)
        return result

    def _read_batch(
        self, channel: ChannelSettings, credentials: Credentials, uris: list[str]
    ) -> dict[str, Mapping[str, Any]] | None:
        with self._lock:
            if channel.pds_url in self._no_batch_read:
                return None
        response = self._call(channel, credentials, "GET", "app.bsky.feed.getPosts", params={"uris": uris})
        if _read_missing(response):
            with self._lock:
                self._no_batch_read.add(channel.pds_url)
            return None
        _check(response, channel.host)
        posts = answer_object(response, what=channel.host, write=False).get("posts")
        if not isinstance(posts, list):
            raise Transient(f"{channel.host}: getPosts answered without a list of posts")
        return {str(post.get("uri")): post for post in posts if isinstance(post, dict)}

    def _read_each(
        self, channel: ChannelSettings, credentials: Credentials, uris: list[str]
    ) -> dict[str, Mapping[str, Any]]:
        seen: dict[str, Mapping[str, Any]] = {}
        for uri in uris:
            response = self._call(
                channel,
                credentials,
                "GET",
                "app.bsky.feed.getPostThread",
                params={"uri": uri, "depth": 0, "parentHeight": 0},
            )
            if response.status_code == 400 and _error_name(response) == "NotFound":
                continue  # looked up in the repository next, as getPosts leaving it out would be
            _check(response, channel.host)
            thread = answer_object(response, what=channel.host, write=False).get("thread")
            post = thread.get("post") if isinstance(thread, dict) else None
            if isinstance(post, dict):
                seen[uri] = post
        return seen

    def _missing(self, channel: ChannelSettings, uri: str) -> Engagement | PostGone:
        # getPosts leaves out what the AppView has not indexed yet (seconds after posting) or hides, as
        # well as what is deleted: only the repository can tell the post is gone.
        did, rkey = _split_uri(uri)
        if self._existing(channel, did, rkey) is None:
            return PostGone(f"{channel.host}: the post {uri} no longer exists")
        return Engagement(raw={"uri": uri, "indexed": False})

    def delete(self, account: Account, external_id: str) -> None:
        channel = self._channel(account)
        credentials = _credentials(account)
        session = self._session(channel, credentials)
        did, rkey = _split_uri(external_id)
        if did != session.did:
            raise Rejected(f"{external_id} is not a post of {session.handle}: it cannot be deleted by them")
        # deleteRecord succeeds for a key that holds nothing, so look first.
        if self._existing(channel, did, rkey) is None:
            raise PostGone(f"{channel.host}: the post {external_id} does not exist (any more)")
        response = self._call(
            channel,
            credentials,
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": did, "collection": POST, "rkey": rkey},
        )
        _check(response, channel.host)

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts, from app.bsky.actor.getProfile (a profileViewDetailed)."""
        channel = self._channel(account)
        credentials = _credentials(account)
        did = self._session(channel, credentials).did
        response = self._call(channel, credentials, "GET", "app.bsky.actor.getProfile", params={"actor": did})
        _check(response, channel.host)
        profile = answer_object(response, what=channel.host, write=False)
        counts = {
            key: profile[key]
            for key in ("followersCount", "followsCount", "postsCount")
            if isinstance(profile.get(key), int)
        }
        return Audience(
            followers=counts.get("followersCount"),
            following=counts.get("followsCount"),
            posts=counts.get("postsCount"),
            raw={"did": did, **counts},
        )

    def verify(self, account: Account) -> Profile:
        channel = self._channel(account)
        response = self._call(channel, _credentials(account), "GET", "com.atproto.server.getSession")
        _check(response, channel.host)
        body = answer_object(response, what=channel.host, write=False)
        handle = str(body.get("handle") or body.get("did"))
        return Profile(handle=handle, url=f"https://bsky.app/profile/{handle}")

    # -- Sessions ------------------------------------------------------------------------------------

    def _session(self, channel: ChannelSettings, credentials: Credentials) -> Session:
        key = (channel.pds_url, credentials.cache_key)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                return session
            lock = self._session_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                session = self._sessions.get(key)
            if session is None:
                # A session kept by an earlier process, if any: should it have expired, the first call
                # says so and it is refreshed like any other.
                session = credentials.stored_session
                if session is None:
                    session = self._create_session(channel, credentials)
                    credentials.keep(session)
                with self._lock:
                    self._sessions[key] = session
            return session

    def _renew(self, channel: ChannelSettings, credentials: Credentials, stale: Session) -> Session:
        """A working session in place of `stale`: refreshed, else created anew. One thread at a time."""
        key = (channel.pds_url, credentials.cache_key)
        with self._lock:
            lock = self._session_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                current = self._sessions.get(key)
            if current is not None and current.access_jwt != stale.access_jwt:
                return current  # another thread renewed it while this one waited
            # A refresh token is single-use: only the thread holding the lock may spend it.
            session = self._refresh_session(channel, stale) or self._create_session(channel, credentials)
            credentials.keep(session)
            with self._lock:
                self._sessions[key] = session
            return session

    def _forget(self, channel: ChannelSettings, credentials: Credentials) -> None:
        with self._lock:
            self._sessions.pop((channel.pds_url, credentials.cache_key), None)

    def _create_session(self, channel: ChannelSettings, credentials: Credentials) -> Session:
        response = self._send(
            "POST",
            f"{channel.pds_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": credentials.identifier, "password": credentials.app_password},
        )
        if response.status_code in (400, 401):
            raise AuthExpired(
                f"{channel.host} refused the identifier and app password ({_error_text(response)}): "
                "connect the account again with a new app password"
            )
        _check(response, channel.host)
        return _session_from(response, channel.host)

    def _refresh_session(self, channel: ChannelSettings, stale: Session) -> Session | None:
        response = self._send(
            "POST",
            f"{channel.pds_url}/xrpc/com.atproto.server.refreshSession",
            token=stale.refresh_jwt,
        )
        if response.status_code in (400, 401):
            return None  # expired, revoked or spent: a new session from the app password
        _check(response, channel.host)
        return _session_from(response, channel.host)

    # -- HTTP ----------------------------------------------------------------------------------------

    def _channel(self, account: Account) -> ChannelSettings:
        channel, problems = parse_settings(account.settings, self._outbound.policy)
        if channel is None:
            raise Rejected("the Bluesky channel's settings are not usable: " + "; ".join(problems))
        return channel

    def _call(
        self,
        channel: ChannelSettings,
        credentials: Credentials,
        method: str,
        nsid: str,
        *,
        may_post: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One XRPC call with the account's session, renewed once if the PDS says the token expired."""
        session = self._session(channel, credentials)
        url = f"{channel.pds_url}/xrpc/{nsid}"
        response = self._send(method, url, token=session.access_jwt, may_post=may_post, **kwargs)
        if _session_refused(response):
            # Refused before anything was written, so sending again cannot make a second post.
            session = self._renew(channel, credentials, session)
            response = self._send(method, url, token=session.access_jwt, may_post=may_post, **kwargs)
            if _session_refused(response):
                self._forget(channel, credentials)
        return response

    def _send(
        self, method: str, url: str, *, token: str | None = None, may_post: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One request. Transport failures become Transient, except after a write that may have landed."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        host = urllib.parse.urlsplit(url).netloc
        try:
            return self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as error:
            raise transport_failure(error, what=host, sent_a_write=may_post) from error


def _session_refused(response: httpx.Response) -> bool:
    # An expired access token answers 400 ExpiredToken; a revoked or unknown one 401.
    return response.status_code == 401 or (
        response.status_code == 400 and _error_name(response) in ("ExpiredToken", "InvalidToken")
    )


def _check(response: httpx.Response, host: str, *, may_have_posted: bool = False) -> None:
    """Raise the error an unsuccessful answer means (shared.networks.answers reads it for every network)."""
    if response.is_success:
        return
    if _error_name(response) == "RateLimitExceeded" and response.status_code != 429:
        raise RateLimited(
            f"{host} answered {response.status_code}: {_error_text(response)}", _reset_at(response)
        )
    raise refusal(
        response,
        what=host,
        write=may_have_posted,
        words=_error_text(response),
        credentials_refused=_session_refused(response),
        reset_at=_reset_at(response),
    )


def _read_missing(response: httpx.Response) -> bool:
    """Whether a read was refused for want of the route, not for the session or the pace."""
    if response.status_code in (404, 405, 501):
        return True
    if response.status_code == 429 or _session_refused(response) or not 400 <= response.status_code < 500:
        return False
    return _error_name(response) in (None, "MethodNotImplemented", "XRPCNotSupported")


def _error_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    name = body.get("error") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _error_text(response: httpx.Response) -> str:
    """XRPC's `{"error", "message"}` as "error: message"; any other body as the network wrote it."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("message")]
        text = ": ".join(part for part in parts if isinstance(part, str) and part)
        if text:
            return sanitized(text)
    return network_words(response)


def _reset_at(response: httpx.Response) -> datetime | None:
    # RateLimit-Reset is a Unix time in seconds on Bluesky's PDS.
    value = response.headers.get("RateLimit-Reset")
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _session_from(response: httpx.Response, host: str) -> Session:
    body = answer_object(response, what=host, write=False)
    with reading(host, write=False):
        return Session(
            did=_text(body["did"]),
            handle=_text(body["handle"]),
            access_jwt=_text(body["accessJwt"]),
            refresh_jwt=_text(body["refreshJwt"]),
        )


def _credentials(account: Account) -> Credentials:
    identifier = account.credentials.get("identifier")
    password = account.credentials.get("app_password")
    if not (isinstance(identifier, str) and identifier and isinstance(password, str) and password):
        raise AuthExpired("the Bluesky channel has no identifier and app password: connect the account again")
    return Credentials(
        identifier=identifier.strip().removeprefix("@"),
        app_password=password,
        stored_session=_stored_session(account.credentials.get("session")),
        save=account.save_credentials,
    )


def _stored_session(stored: object) -> Session | None:
    if not isinstance(stored, Mapping):
        return None
    fields_ = ("did", "handle", "access_jwt", "refresh_jwt")
    if not all(isinstance(stored.get(name), str) and stored.get(name) for name in fields_):
        return None
    return Session(**{name: stored[name] for name in fields_})


def at_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST}/{rkey}"


def _split_uri(uri: str) -> tuple[str, str]:
    """The repository's DID and the record key of a post's at:// URI."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or parts[1] != POST or not parts[2]:
        raise Rejected(f"{uri!r} is not the at:// URI of a Bluesky post")
    return parts[0], parts[2]


def _text(value: object) -> str:
    """A field an answer must give as text; TypeError (read inside `reading`) for anything else."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected text, not {type(value).__name__}")
    return value


def _record_time(record: Mapping[str, Any]) -> datetime | None:
    """A post record's createdAt, aware; None when it is missing or unreadable."""
    try:
        created = datetime.fromisoformat(str(record["createdAt"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)


def post_url(uri: str) -> str:
    """The post's page on bsky.app. By DID, not handle: a handle may change, the DID stays."""
    did, rkey = _split_uri(uri)
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def _labelled_texts(draft: Draft) -> list[tuple[str, str]]:
    return [("the text", draft.text)] + [
        (f"thread item {index}", text) for index, text in enumerate(draft.thread, 1)
    ]


def _length_problems(text: str) -> list[str]:
    graphemes, size = bluesky_length(text)
    problems = []
    if graphemes > BLUESKY_MAX_GRAPHEMES:
        problems.append(f"is {graphemes} graphemes long; Bluesky allows {BLUESKY_MAX_GRAPHEMES}")
    if size > BLUESKY_MAX_BYTES:
        problems.append(f"is {size} bytes of UTF-8; Bluesky allows {BLUESKY_MAX_BYTES}")
    return problems


def _media_problems(media: Sequence[MediaItem]) -> list[str]:
    problems = []
    if len(media) > MAX_IMAGES:
        problems.append(f"{len(media)} images; Bluesky takes at most {MAX_IMAGES}")
    for number, item in enumerate(media, 1):
        if item.content_type not in IMAGE_TYPES:
            problems.append(f"attachment {number}: Crier sends {', '.join(IMAGE_TYPES)} to Bluesky")
        elif len(item.data) > IMAGE_MAX_BYTES:
            problems.append(f"attachment {number} is {len(item.data)} bytes; the limit is {IMAGE_MAX_BYTES}")
    return problems


def _option_problems(draft: Draft) -> list[str]:
    problems = []
    if "langs" in draft.options:
        problems += _check_langs(draft.options["langs"])[1]
    card = draft.options.get("link_card")
    if card is not None:
        if not isinstance(card, Mapping) or not isinstance(card.get("uri"), str):
            problems.append("link_card must have a uri, and may have a title and a description")
        elif draft.media:
            problems.append("a post carries images or a link card, not both")
    return problems


def _langs(draft: Draft, channel: ChannelSettings) -> tuple[str, ...]:
    if "langs" in draft.options:
        return _check_langs(draft.options["langs"])[0]
    return channel.langs


def _engagement(post: Mapping[str, Any]) -> Engagement:
    # Every count the view carries is kept in raw, mapped or not (a `viewCount`, say), so that one added to
    # the lexicon later can be recovered from the samples already stored.
    counts = {
        key: value
        for key, value in post.items()
        if key.endswith("Count") and isinstance(value, int) and not isinstance(value, bool)
    }
    return Engagement(
        likes=counts.get("likeCount"),
        reposts=counts.get("repostCount"),
        replies=counts.get("replyCount"),
        quotes=counts.get("quoteCount"),
        bookmarks=counts.get("bookmarkCount"),
        raw={"uri": _text(post["uri"]), **counts},
    )
