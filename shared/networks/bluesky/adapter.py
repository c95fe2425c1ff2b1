"""The `bluesky` network's adapter: publishing each post at its own record key, and reading counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.bluesky.channel import (
    IMAGE_MAX_BYTES,
    IMAGE_TYPES,
    MAX_IMAGES,
    ChannelSettings,
    draft_problems,
    langs_of,
    length_problems,
    parse_settings,
)
from shared.networks.bluesky.record_keys import POST, at_uri, record_key, split_uri
from shared.networks.bluesky.records import PostRecords, Ref, record_time
from shared.networks.bluesky.sessions import Credentials, Sessions, credentials_of
from shared.networks.bluesky.xrpc import BlueskyDialect, engagement, error_name, read_missing
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    Draft,
    Engagement,
    MediaRule,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    Rejected,
    TextPreview,
    Transient,
)
from shared.networks.toolkit.answers import reading, required_text
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.counts import BatchReads, counts_in_batches
from shared.networks.toolkit.parts import FindPart, FoundByKey, MakePart, PartByPart, text_previews
from shared.text.bluesky import BLUESKY_MAX_GRAPHEMES, bluesky_length

# app.bsky.feed.getPosts takes at most 25 URIs.
GET_POSTS_LIMIT = 25


class BlueskyNetwork(PartByPart, FoundByKey):
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
        problems = self.validate(draft)
        if problems:
            raise Rejected("Bluesky would refuse this draft: " + "; ".join(problems))
        session = self._sessions.of(channel, credentials)
        langs = langs_of(draft, channel)
        records = PostRecords(self._calls, self._sessions, channel, credentials)
        made: list[Ref] = []

        def create(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            rkey = record_key(idempotency_key, index)
            ref = self._existing(channel, session.did, rkey)
            if ref is None:
                if index == 0:
                    # Nothing is posted while the images upload: a failure here leaves no post.
                    record = records.record(draft.text, langs, embed=records.embed(draft))
                else:
                    record = records.record(draft.thread[index - 1], langs, reply_to=(made[0], made[-1]))
                ref = self._create(channel, credentials, rkey, record)
            made.append(ref)
            return ref.as_part()

        return create

    def _create(
        self, channel: ChannelSettings, credentials: Credentials, rkey: str, record: dict[str, Any]
    ) -> Ref:
        session = self._sessions.of(channel, credentials)
        response = self._sessions.call(
            channel,
            credentials,
            "POST",
            "com.atproto.repo.createRecord",
            write=True,
            json={"repo": session.did, "collection": POST, "rkey": rkey, "validate": True, "record": record},
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
            existing = self._existing(channel, session.did, rkey)
            if existing is not None:
                return existing
        raise self._calls.refusal(response, what=channel.host, write=True)

    def _existing(self, channel: ChannelSettings, did: str, rkey: str) -> Ref | None:
        """The post at this key of the account's repository, or None when there is none."""
        response = self._calls.send(
            "GET",
            f"{channel.pds_url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": POST, "rkey": rkey},
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
        return Ref(
            uri=str(body.get("uri") or at_uri(did, rkey)),
            cid=cid,
            created_at=record_time(value) if isinstance(value, Mapping) else None,
        )

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
