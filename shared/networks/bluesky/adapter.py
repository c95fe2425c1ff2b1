"""The `bluesky` network's adapter: publishing each post at its own record key, and reading counts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.bluesky.channel import (
    MEDIA_RULE,
    ChannelSettings,
    draft_problems,
    langs_of,
    length_problems,
    parse_settings,
)
from shared.networks.bluesky.inbox import (
    KINDS_BY_REASON,
    notification_entry,
    notification_time,
    post_entry,
    post_time,
    search_query_problems,
    thread_entries,
)
from shared.networks.bluesky.newest_first import Page, read_newest_first
from shared.networks.bluesky.record_keys import POST, record_key, split_uri
from shared.networks.bluesky.records import PostRecords, Ref, record_time, reply_refs
from shared.networks.bluesky.sessions import Credentials, Sessions, credentials_of
from shared.networks.bluesky.xrpc import BlueskyDialect, engagement, error_name, read_missing
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    Draft,
    Engagement,
    InboxAbilities,
    InboxKind,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    Rejected,
    ReplyTarget,
    TextPreview,
    Transient,
)
from shared.networks.toolkit.answers import reading, required_text
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.counts import BatchReads, audience_from, counts_in_batches
from shared.networks.toolkit.parts import (
    FindPart,
    FoundByKey,
    MakePart,
    PartByPart,
    refuse_before_sending,
    text_previews,
)
from shared.text.bluesky import BLUESKY_MAX_GRAPHEMES, bluesky_length

log = logging.getLogger(__name__)

# app.bsky.feed.getPosts takes at most 25 URIs.
GET_POSTS_LIMIT = 25
# listNotifications and searchPosts take a `limit` of 1 to 100: the most, to read a backlog in few calls.
PAGE_LIMIT = 100
# getPostThread's defaults (replies 6 deep, parents 80 high), said out loud.
THREAD_DEPTH = 6
THREAD_PARENT_HEIGHT = 80
LIKE = "app.bsky.feed.like"
THREADGATE = "app.bsky.feed.threadgate"
# app.bsky.feed.threadgate: `hiddenReplies` holds at most 300 URIs.
MAX_HIDDEN_REPLIES = 300
# Read-modify-write rounds of a threadgate before giving up for now (a person editing it at the same time).
GATE_ATTEMPTS = 3


class BlueskyNetwork(PartByPart, FoundByKey):
    """The `bluesky` network's adapter: one per process, for every PDS and account."""

    info = NetworkInfo(
        name="bluesky",
        display_name="Bluesky",
        text_limit=BLUESKY_MAX_GRAPHEMES,
        text_unit="graphemes (and at most 3,000 UTF-8 bytes)",
        supports_threads=True,
        media=MEDIA_RULE,
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
        # reads for. Metrics, snapshots and the inbox together take at most half.
        network_read_rate=Rate.per_minute(300, burst=50),
        # Bluesky's direct messages are another service (chat.bsky.*, through the PDS's proxy) with its own
        # authorization for app passwords: not read here.
        inbox=InboxAbilities(
            kinds=(InboxKind.REPLY, InboxKind.MENTION, InboxKind.QUOTE),
            can_search=True,
            can_reply=True,
            can_like=True,
            can_hide=True,
        ),
    )

    # Each part's record key is read before the part is made, so every attempt goes from the first part
    # and finds those already made at their keys.
    resumes_from_published = False

    def __init__(self, outbound: Outbound | None = None, *, http: httpx.Client | None = None) -> None:
        self._calls = Calls(outbound or Outbound(), SERVER_TIMEOUT, dialect=BlueskyDialect(), http=http)
        self._sessions = Sessions(self._calls)
        self._batch_reads = BatchReads()

    @classmethod
    def from_settings(cls, settings: Settings) -> BlueskyNetwork:
        return cls(Outbound.from_settings(settings))

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings, self._calls.outbound.policy)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the identifier's and app password's shape; whether they work, verify() asks."""
        problems = []
        if not isinstance(credentials.get("identifier"), str) or not credentials["identifier"].strip():
            problems.append("identifier must be the account's handle (alice.bsky.social) or email")
        if not isinstance(credentials.get("app_password"), str) or not credentials["app_password"].strip():
            problems.append("app_password must be an app password made in Bluesky's settings")
        return problems

    def validate(self, draft: Draft) -> list[str]:
        return draft_problems(draft)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return text_previews(
            draft,
            limit=BLUESKY_MAX_GRAPHEMES,
            length=lambda text: bluesky_length(text)[0],
            problems=lambda _, text: [f"the text {problem}" for problem in length_problems(text)],
        )

    # -- Publishing ----------------------------------------------------------------------------------

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """Create the post, then each thread item as a reply to the one before, each at its own fixed key.

        Each record's path is read first, so a retry picks up where an earlier attempt stopped: a thread
        whose first two records were made is finished, not started again. That read is also why the parts
        already published need no special care here: their keys hold them.
        """
        channel = self._channel(account)
        credentials = credentials_of(account)
        refuse_before_sending(self.validate(draft), network="Bluesky")
        session = self._sessions.of(channel, credentials)
        langs = langs_of(draft, channel)
        records = PostRecords(self._calls, self._sessions, channel, credentials)
        made: list[Ref] = []
        # A reply from the inbox: the first part answers the post, and every part stays in its thread.
        answering = None if draft.reply_to is None else reply_refs(draft.reply_to)

        def create(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            rkey = record_key(idempotency_key, index)
            ref = self._existing(channel, session.did, rkey)
            if ref is None:
                if index == 0:
                    # Nothing is posted while the images upload: a failure here leaves no post.
                    record = records.record(draft.text, langs, embed=records.embed(draft), reply_to=answering)
                else:
                    root = made[0] if answering is None else answering[0]
                    record = records.record(draft.thread[index - 1], langs, reply_to=(root, made[-1]))
                ref = self._create(channel, credentials, rkey, record)
            made.append(ref)
            return ref.as_part()

        return create

    def _create(
        self,
        channel: ChannelSettings,
        credentials: Credentials,
        rkey: str,
        record: dict[str, Any],
        collection: str = POST,
    ) -> Ref:
        session = self._sessions.of(channel, credentials)
        response = self._sessions.call(
            channel,
            credentials,
            "POST",
            "com.atproto.repo.createRecord",
            write=True,
            json={
                "repo": session.did,
                "collection": collection,
                "rkey": rkey,
                "validate": True,
                "record": record,
            },
        )
        if response.is_success:
            body = self._calls.answer(response, what=channel.host, write=True)
            with reading(channel.host, write=True):
                return Ref(
                    uri=required_text(body["uri"]),
                    cid=required_text(body["cid"]),
                    created_at=record_time(record),
                )
        if response.status_code not in (401, 403, 429):
            # A taken key fails inside the PDS's repository tree (a 500 from the reference PDS, a 400 or 409
            # elsewhere): whatever the answer, a record at our key is the one an earlier attempt made.
            existing = self._existing_record(channel, session.did, collection, rkey)
            if existing is not None:
                return existing[0]
        raise self._calls.refusal(response, what=channel.host, write=True)

    def _existing(self, channel: ChannelSettings, did: str, rkey: str) -> Ref | None:
        """The post at this key of the account's repository, or None when there is none."""
        existing = self._existing_record(channel, did, POST, rkey)
        return None if existing is None else existing[0]

    def _existing_record(
        self, channel: ChannelSettings, did: str, collection: str, rkey: str
    ) -> tuple[Ref, Mapping[str, Any]] | None:
        """The record at this path of the account's repository and its value, or None when there is none."""
        response = self._calls.send(
            "GET",
            f"{channel.pds_url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": collection, "rkey": rkey},
        )
        if response.status_code == 400 and error_name(response) in ("RecordNotFound", "InvalidRequest"):
            return None
        if response.status_code == 404:
            return None
        body = self._calls.answer(response, what=channel.host)
        cid = body.get("cid")
        if not isinstance(cid, str):
            raise Transient(f"{channel.host}: getRecord answered without the record's cid")
        value = body.get("value")
        value = value if isinstance(value, Mapping) else {}
        ref = Ref(
            uri=str(body.get("uri") or f"at://{did}/{collection}/{rkey}"),
            cid=cid,
            created_at=record_time(value),
        )
        return ref, value

    # -- Finding what an uncertain attempt made ------------------------------------------------------

    def part_finder(self, account: Account, idempotency_key: str) -> FindPart:
        """The parts at the delivery's record keys. Should an attempt still in flight land after this
        answer, the publish that follows finds its record there instead of making another."""
        channel = self._channel(account)
        did = self._sessions.of(channel, credentials_of(account)).did

        def find(index: int) -> PublishedPart | None:
            ref = self._existing(channel, did, record_key(idempotency_key, index))
            return None if ref is None else ref.as_part()

        return find

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts in batches of 25 (app.bsky.feed.getPosts); a post it leaves out is looked up in the repo.

        A server without the batch read is read one post at a time with getPostThread.
        """
        channel = self._channel(account)
        credentials = credentials_of(account)
        return counts_in_batches(
            external_ids,
            batch_size=GET_POSTS_LIMIT,
            read_batch=lambda uris: self._read_batch(channel, credentials, uris),
            read_each=lambda uris: self._read_each(channel, credentials, uris),
            engagement=engagement,
            missing=lambda uri: self._missing(channel, uri),
            what=channel.host,
        )

    def _read_batch(
        self, channel: ChannelSettings, credentials: Credentials, uris: list[str]
    ) -> dict[str, Mapping[str, Any]] | None:
        if not self._batch_reads.offered_by(channel.pds_url):
            return None
        response = self._sessions.call(
            channel, credentials, "GET", "app.bsky.feed.getPosts", params={"uris": uris}
        )
        if read_missing(response):
            self._batch_reads.refused_by(channel.pds_url)
            return None
        posts = self._calls.answer(response, what=channel.host).get("posts")
        if not isinstance(posts, list):
            raise Transient(f"{channel.host}: getPosts answered without a list of posts")
        return {str(post.get("uri")): post for post in posts if isinstance(post, dict)}

    def _read_each(
        self, channel: ChannelSettings, credentials: Credentials, uris: list[str]
    ) -> dict[str, Mapping[str, Any]]:
        seen: dict[str, Mapping[str, Any]] = {}
        for uri in uris:
            response = self._sessions.call(
                channel,
                credentials,
                "GET",
                "app.bsky.feed.getPostThread",
                params={"uri": uri, "depth": 0, "parentHeight": 0},
            )
            if response.status_code == 400 and error_name(response) == "NotFound":
                continue  # looked up in the repository next, as getPosts leaving it out would be
            thread = self._calls.answer(response, what=channel.host).get("thread")
            post = thread.get("post") if isinstance(thread, dict) else None
            if isinstance(post, dict):
                seen[uri] = post
        return seen

    def _missing(self, channel: ChannelSettings, uri: str) -> Engagement | PostGone:
        # getPosts leaves out what the AppView has not indexed yet (seconds after posting) or hides, as
        # well as what is deleted: only the repository can tell the post is gone.
        did, rkey = split_uri(uri)
        if self._existing(channel, did, rkey) is None:
            return PostGone(f"{channel.host}: the post {uri} no longer exists")
        return Engagement(raw={"uri": uri, "indexed": False})

    def delete(self, account: Account, external_id: str) -> None:
        channel = self._channel(account)
        credentials = credentials_of(account)
        session = self._sessions.of(channel, credentials)
        did, rkey = split_uri(external_id)
        if did != session.did:
            raise Rejected(f"{external_id} is not a post of {session.handle}: it cannot be deleted by them")
        # deleteRecord succeeds for a key that holds nothing, so look first.
        if self._existing(channel, did, rkey) is None:
            raise PostGone(f"{channel.host}: the post {external_id} does not exist (any more)")
        response = self._sessions.call(
            channel,
            credentials,
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": did, "collection": POST, "rkey": rkey},
        )
        self._calls.check(response, what=channel.host)

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts, from app.bsky.actor.getProfile (a profileViewDetailed)."""
        channel = self._channel(account)
        credentials = credentials_of(account)
        did = self._sessions.of(channel, credentials).did
        response = self._sessions.call(
            channel, credentials, "GET", "app.bsky.actor.getProfile", params={"actor": did}
        )
        profile = self._calls.answer(response, what=channel.host)
        return audience_from(
            profile, followers="followersCount", following="followsCount", posts="postsCount", did=did
        )

    # -- The engagement inbox ------------------------------------------------------------------------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """Replies, mentions and quotes, from app.bsky.notification.listNotifications, by newest_first's
        position: one pass from the newest down to what an earlier pass read, a page per call."""
        channel = self._channel(account)
        credentials = credentials_of(account)

        def fetch(cursor: str | None) -> Page[tuple[datetime, str, Mapping[str, Any]]]:
            params: dict[str, Any] = {"limit": PAGE_LIMIT, "reasons": list(KINDS_BY_REASON)}
            if cursor is not None:
                params["cursor"] = cursor
            response = self._sessions.call(
                channel, credentials, "GET", "app.bsky.notification.listNotifications", params=params
            )
            return self._page(channel, response, "notifications", notification_time)

        read = read_newest_first(position, fetch, lambda item: (item[0], item[1]))
        # An AppView that ignores `reasons` lists likes and follows too: they are passed over here.
        entries = [_readable(notification_entry, item[2], channel.host) for item in read.items]
        return InboxPage(_once_each(entries), read.position, read.more)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The thread around a post (app.bsky.feed.getPostThread): its parents, the post, its replies."""
        channel = self._channel(account)
        split_uri(external_id)
        response = self._sessions.call(
            channel,
            credentials_of(account),
            "GET",
            "app.bsky.feed.getPostThread",
            params={"uri": external_id, "depth": THREAD_DEPTH, "parentHeight": THREAD_PARENT_HEIGHT},
        )
        if response.status_code == 400 and error_name(response) == "NotFound":
            raise PostGone(f"{channel.host} knows no post {external_id}")
        thread = self._calls.answer(response, what=channel.host).get("thread")
        if not isinstance(thread, dict) or not isinstance(thread.get("post"), dict):
            # A #notFoundPost or #blockedPost: the AppView will not show it to this account.
            raise PostGone(f"{channel.host} does not show the post {external_id} to this account")
        with reading(channel.host, write=False):
            return thread_entries(thread)

    def search_posts(self, account: Account, query: str, position: str | None) -> InboxPage:
        """Posts matching `query`, newest first (app.bsky.feed.searchPosts, sort=latest), read by passes
        as the inbox is (newest_first)."""
        channel = self._channel(account)
        credentials = credentials_of(account)

        def fetch(cursor: str | None) -> Page[tuple[datetime, str, Mapping[str, Any]]]:
            params: dict[str, Any] = {"q": query.strip(), "sort": "latest", "limit": PAGE_LIMIT}
            if cursor is not None:
                params["cursor"] = cursor
            response = self._sessions.call(
                channel, credentials, "GET", "app.bsky.feed.searchPosts", params=params
            )
            return self._page(channel, response, "posts", post_time)

        read = read_newest_first(position, fetch, lambda item: (item[0], item[1]))
        entries = [_readable(_found_post, item[2], channel.host) for item in read.items]
        return InboxPage(_once_each(entries), read.position, read.more)

    def query_problems(self, query: str) -> list[str]:
        return search_query_problems(query)

    def _page(
        self,
        channel: ChannelSettings,
        response: httpx.Response,
        field: str,
        key: Callable[[Mapping[str, Any]], tuple[datetime, str]],
    ) -> Page[tuple[datetime, str, Mapping[str, Any]]]:
        body = self._calls.answer(response, what=channel.host)
        with reading(channel.host, write=False):
            items = body[field]
            if not isinstance(items, list):
                raise TypeError(f"{field} is not a list")
            cursor = body.get("cursor")
            return Page(
                [(*key(item), item) for item in items],
                cursor if isinstance(cursor, str) and cursor else None,
            )

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """An app.bsky.feed.like record at a key of the like's own (record_key), so a retry finds it there."""
        cid = target.ref.get("cid")
        if not isinstance(cid, str) or not cid:
            raise Rejected("the post to like lacks its content id: read it from the inbox again")
        split_uri(target.external_id)
        channel = self._channel(account)
        credentials = credentials_of(account)
        did = self._sessions.of(channel, credentials).did
        rkey = record_key(idempotency_key)
        if self._existing_record(channel, did, LIKE, rkey) is not None:
            return
        record = {
            "$type": LIKE,
            "subject": {"uri": target.external_id, "cid": cid},
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        self._create(channel, credentials, rkey, record, collection=LIKE)

    def hide_reply(self, account: Account, target: ReplyTarget, *, root: str | None) -> None:
        """Add the reply to `hiddenReplies` of the threadgate of its thread's first post, the account's.

        The threadgate lives at the root post's record key in the same repository (app.bsky.feed.threadgate);
        it is read, changed and written back with putRecord's swapRecord, so a threadgate changed meanwhile
        (the person set who may reply, in the app) is read again rather than overwritten.
        """
        root_uri = root or target.ref.get("root_uri")
        if not isinstance(root_uri, str):
            raise Rejected("the reply to hide does not say which thread it is in: read it again")
        root_did, root_rkey = split_uri(root_uri)
        channel = self._channel(account)
        credentials = credentials_of(account)
        did = self._sessions.of(channel, credentials).did
        if root_did != did:
            raise Rejected(
                "Bluesky lets only the author of a thread's first post hide replies in it, and this "
                "thread starts with another account's post"
            )
        if target.external_id == root_uri:
            raise Rejected("a thread's first post is not a reply: it cannot be hidden")
        for _ in range(GATE_ATTEMPTS):
            existing = self._existing_record(channel, did, THREADGATE, root_rkey)
            gate: dict[str, Any] = dict(existing[1]) if existing else {}
            hidden = [uri for uri in gate.get("hiddenReplies") or [] if isinstance(uri, str)]
            if target.external_id in hidden:
                return
            if len(hidden) >= MAX_HIDDEN_REPLIES:
                raise Rejected(f"Bluesky hides at most {MAX_HIDDEN_REPLIES} replies in one thread")
            gate.update(
                {
                    "$type": THREADGATE,
                    "post": root_uri,
                    "createdAt": gate.get("createdAt")
                    or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "hiddenReplies": [*hidden, target.external_id],
                }
            )
            response = self._sessions.call(
                channel,
                credentials,
                "POST",
                "com.atproto.repo.putRecord",
                write=True,
                json={
                    "repo": did,
                    "collection": THREADGATE,
                    "rkey": root_rkey,
                    "validate": True,
                    "record": gate,
                    # None: there must be no threadgate yet; a cid: it must be the one read.
                    "swapRecord": existing[0].cid if existing else None,
                },
            )
            if response.is_success:
                return
            if not (response.status_code == 400 and error_name(response) == "InvalidSwap"):
                raise self._calls.refusal(response, what=channel.host, write=True)
        raise Transient(f"{channel.host}: the thread's reply settings kept changing while a reply was hidden")

    def verify(self, account: Account) -> Profile:
        channel = self._channel(account)
        response = self._sessions.call(
            channel, credentials_of(account), "GET", "com.atproto.server.getSession"
        )
        body = self._calls.answer(response, what=channel.host)
        handle = str(body.get("handle") or body.get("did"))
        return Profile(handle=handle, url=f"https://bsky.app/profile/{handle}")

    def _channel(self, account: Account) -> ChannelSettings:
        channel, problems = parse_settings(account.settings, self._calls.outbound.policy)
        if channel is None:
            raise Rejected("the Bluesky channel's settings are not usable: " + "; ".join(problems))
        return channel


def _found_post(view: Mapping[str, Any]) -> InboxEntry:
    return post_entry(view, InboxKind.POST)


def _readable(
    entry_of: Callable[[Mapping[str, Any]], InboxEntry | None], item: Mapping[str, Any], host: str
) -> InboxEntry | None:
    """The entry an item of a page is, or None when the AppView sent one Crier cannot read.

    Passed over, not retried: the position moves past it with its page, and one malformed item must not
    stop an account's inbox for good. Its time and URI were read already, so the reading stays in order.
    """
    try:
        return entry_of(item)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        log.warning(
            "%s: passed over an item of the inbox Crier cannot read (%s): %s", host, error, item.get("uri")
        )
        return None


def _once_each(entries: Sequence[InboxEntry | None]) -> tuple[InboxEntry, ...]:
    """The entries, each post once: one post may be a reply to the account and mention it too."""
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if entry is not None and entry.external_id not in seen:
            seen.add(entry.external_id)
            kept.append(entry)
    return tuple(kept)
