"""The `sandbox` network's adapter: posts kept in the sandbox's own table, as a real network keeps them."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import regex

from shared.config import Settings
from shared.db import create_db_engine
from shared.networks.inbox import Author, InboxEntry, InboxPage
from shared.networks.ports import (
    Account,
    Audience,
    Draft,
    Engagement,
    InboxAbilities,
    InboxKind,
    MediaRule,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    Rejected,
    ReplyTarget,
    TextPreview,
    Transient,
)
from shared.networks.sandbox.behaviour import (
    AUDIENCE_REPLIES_PER_POST,
    SandboxOptions,
    audience_on,
    audience_reply,
    engagement_at,
)
from shared.networks.sandbox.store import SandboxStore
from shared.networks.toolkit.answers import as_utc
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.parts import (
    FindPart,
    FoundByKey,
    MakePart,
    PartByPart,
    empty_problems,
    labelled_texts,
    part_key,
    part_label,
    text_previews,
)

TEXT_LIMIT = 500
POST_ID = re.compile(r"[0-9a-f]{32}")
# Entries per page of an inbox or a search: small, so that paging is exercised.
INBOX_PAGE = 50
SEARCH_LIMIT = 200
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4",)
MEDIA_RULE = MediaRule(
    IMAGE_TYPES + VIDEO_TYPES, max_bytes=16 * 1024 * 1024, max_items=4, alt_text_limit=1500
)
URL_TEMPLATE = "https://sandbox.invalid/@{handle}/{post_id}"


class SandboxNetwork(PartByPart, FoundByKey):
    """The `sandbox` network's adapter."""

    info = NetworkInfo(
        name="sandbox",
        display_name="Sandbox",
        text_limit=TEXT_LIMIT,
        supports_threads=True,
        media=MEDIA_RULE,
        can_delete=True,
        can_edit=True,
        metrics=("likes", "reposts", "replies", "quotes", "bookmarks", "views"),
        inbox=InboxAbilities(
            kinds=(InboxKind.REPLY, InboxKind.MENTION), can_search=True, can_reply=True, can_like=True
        ),
    )

    def __init__(self, store: SandboxStore, rng: random.Random | None = None) -> None:
        self.store = store
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxNetwork:
        return cls(SandboxStore(create_db_engine(settings.resolved_sandbox_store_url)))

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return SandboxOptions.parse(settings)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        return []  # the sandbox takes none; unknown keys are refused before this is asked

    def validate(self, draft: Draft) -> list[str]:
        problems = empty_problems(draft)
        if draft.reply_to is not None and not POST_ID.fullmatch(draft.reply_to.external_id):
            problems.append(f"{draft.reply_to.external_id!r} is not the id of a sandbox post")
        for label, text in labelled_texts(draft):
            problems += _length_problems(label, text)
        return problems + media_problems(draft.media, MEDIA_RULE, "the sandbox", alone=VIDEO_TYPES)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return text_previews(
            draft,
            limit=TEXT_LIMIT,
            length=_graphemes,
            problems=lambda index, text: _length_problems(part_label(index), text),
        )

    def delete(self, account: Account, external_id: str) -> None:
        options, _ = SandboxOptions.parse(account.settings)
        self._before_request(options)
        if not self.store.delete(external_id):
            raise PostGone(f"sandbox: no post {external_id}")
        self._after_request(options, "deleted")

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """A post's new text, as slow and unreliable as the channel says, like a publish."""
        problems = _length_problems("the text", draft.text)
        if problems:
            raise Rejected("sandbox: 422 " + "; ".join(problems))
        options, _ = SandboxOptions.parse(account.settings)
        self._before_request(options)
        row = self.store.edit(external_id, draft.text)
        if row is None:
            raise PostGone(f"sandbox: no post {external_id}")
        self._after_request(options, "edited")
        return self._part(row)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        row = self.store.get_many([external_id]).get(external_id)
        if row is None:
            raise PostGone(f"sandbox: no post {external_id}")
        return bool(row["text"] == draft.text)

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts: followers by a curve of the handle and the day, posts as the store holds."""
        return audience_on(account.handle, datetime.now(UTC), self.store.count_posts_of(account.handle))

    def verify(self, account: Account) -> Profile:
        return Profile(
            handle=account.handle, url=URL_TEMPLATE.format(handle=account.handle, post_id="").rstrip("/")
        )

    # -- The inbox --------------------------------------------------------------------------------------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """Others' replies to the account's posts and posts naming @handle, oldest first, by (time, id).

        The store's clock orders them; a post stored by another process with an earlier time after a read
        passed it would be missed, which the sandbox, one machine's demo network, accepts.
        """
        options, _ = SandboxOptions.parse(account.settings)
        self._before_request(options)
        if options.audience_replies:
            self._let_audience_reply(account.handle)
        if position is None:
            rows = self.store.said_to(account.handle, None, 10**9)[-INBOX_PAGE:]
        else:
            rows = self.store.said_to(account.handle, _keyset(position), INBOX_PAGE)
        own = {row["id"] for row in self.store.latest_of(account.handle, 10**6)}
        entries = tuple(self._entry(row, account.handle, own) for row in rows)
        more = position is not None and len(rows) == INBOX_PAGE
        return InboxPage(entries, _position_after(rows, position), more=more)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The post's ancestors up to the thread's first post, and every reply under that, oldest first."""
        rows = self.store.get_many([external_id])
        if external_id not in rows:
            raise PostGone(f"sandbox: no post {external_id}")
        root = rows[external_id]
        while root["in_reply_to_id"] is not None:
            parent = self.store.get_many([root["in_reply_to_id"]]).get(root["in_reply_to_id"])
            if parent is None:
                break
            root = parent
        thread, frontier = [root], [root["id"]]
        while frontier:
            replies = self.store.replies_to(frontier)
            thread += replies
            frontier = [reply["id"] for reply in replies]
        own = {row["id"] for row in thread if row["handle"] == account.handle}
        thread.sort(key=lambda row: (as_utc(row["created_at"]), row["id"]))
        return [self._entry(row, account.handle, own) for row in thread]

    def search_posts(self, account: Account, query: str, position: str | None) -> InboxPage:
        """Posts containing the words (or the #tag as written), oldest first by (time, id)."""
        options, _ = SandboxOptions.parse(account.settings)
        self._before_request(options)
        if position is None:
            rows = self.store.matching(query.strip(), None, 10**9)[-INBOX_PAGE:]
        else:
            rows = self.store.matching(query.strip(), _keyset(position), INBOX_PAGE)
        entries = tuple(self._entry(row, account.handle, set(), kind=InboxKind.POST) for row in rows)
        return InboxPage(
            entries, _position_after(rows, position), more=position is not None and len(rows) == INBOX_PAGE
        )

    def query_problems(self, query: str) -> list[str]:
        if not query.strip():
            return ["the query is empty"]
        if len(query) > SEARCH_LIMIT:
            return [f"the query is {len(query)} characters; the sandbox searches at most {SEARCH_LIMIT}"]
        return []

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """A like kept once per account and post, as a network's favourite is."""
        options, _ = SandboxOptions.parse(account.settings)
        self._before_request(options)
        if target.external_id not in self.store.get_many([target.external_id]):
            raise PostGone(f"sandbox: no post {target.external_id}")
        self.store.like(target.external_id, account.handle)
        self._after_request(options, "liked")

    def _let_audience_reply(self, handle: str) -> None:
        """Write out the replies the engagement curve says the account's latest posts have by now."""
        now = datetime.now(UTC)
        for row in self.store.latest_of(handle, 20):
            replies = engagement_at(row["id"], (now - as_utc(row["created_at"])).total_seconds()).replies or 0
            for number in range(min(replies, AUDIENCE_REPLIES_PER_POST)):
                post_id, reader, text = audience_reply(row["id"], number)
                self.store.add(
                    reader,
                    f"@{handle} {text}",
                    f"audience:{post_id}",
                    in_reply_to_id=row["id"],
                    post_id=post_id,
                )

    def _entry(
        self, row: Mapping[str, Any], handle: str, own: set[str], *, kind: InboxKind | None = None
    ) -> InboxEntry:
        answers = row["in_reply_to_id"]
        if kind is None:
            kind = InboxKind.REPLY if answers is not None and answers in own else InboxKind.MENTION
        part = self._part(row)
        return InboxEntry(
            external_id=part.external_id,
            kind=kind,
            author=Author(
                handle=row["handle"], url=URL_TEMPLATE.format(handle=row["handle"], post_id="").rstrip("/")
            ),
            text=row["text"],
            plain_text=row["text"],
            url=part.url,
            created_at=as_utc(row["created_at"]),
            reply_target=ReplyTarget(part.external_id),
            in_reply_to=answers,
        )

    # -- Publishing ----------------------------------------------------------------------------------

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """Store the post, then each thread reply, each one request that may fail as the channel says."""
        problems = self.validate(draft)
        if problems:
            raise Rejected("sandbox: 422 " + "; ".join(problems))
        options, _ = SandboxOptions.parse(account.settings)
        texts = (draft.text, *draft.thread)

        def store(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            row = self._store_one(
                options,
                account.handle,
                texts[index],
                part_key(idempotency_key, index),
                in_reply_to_id=parts[-1].external_id if parts else _answered(draft),
                media=[item.summary() for item in draft.media] if index == 0 else [],
            )
            return self._part(row)

        return store

    def _store_one(
        self,
        options: SandboxOptions,
        handle: str,
        text: str,
        key: str,
        *,
        in_reply_to_id: str | None,
        media: Sequence[Mapping[str, Any]],
    ) -> Mapping[str, Any]:
        """One request to the network: as slow, as unreliable and as forgetful of keys as the channel says."""
        self._before_request(options)
        if options.honours_idempotency_key:
            earlier = self.store.find_by_key(key)
            if earlier is not None:
                return earlier
        row = self.store.add(handle, text, key, in_reply_to_id=in_reply_to_id, media=media)
        self._after_request(options, "stored")
        return row

    def _before_request(self, options: SandboxOptions) -> None:
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        if self._rng.random() < options.failure_rate:
            raise Transient("sandbox: 503 Service Unavailable (injected before storing)")

    def _after_request(self, options: SandboxOptions, done: str) -> None:
        if self._rng.random() < options.stored_then_timeout_rate:
            raise OutcomeUnknown(f"sandbox: read timed out after the post was {done} (injected)")

    def part_finder(self, account: Account, idempotency_key: str) -> FindPart:
        """The parts stored under the delivery's key and `key:n`: certain either way, as a key lookup is."""

        def find(index: int) -> PublishedPart | None:
            row = self.store.find_by_key(part_key(idempotency_key, index))
            return None if row is None else self._part(row)

        return find

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        rows = self.store.get_many(external_ids)
        now = datetime.now(UTC)
        result: dict[str, Engagement | PostGone] = {}
        for external_id in external_ids:
            row = rows.get(external_id)
            if row is None:
                result[external_id] = PostGone(f"sandbox: no post {external_id}")
                continue
            result[external_id] = engagement_at(
                external_id, (now - as_utc(row["created_at"])).total_seconds()
            )
        return result

    @staticmethod
    def _part(row: Mapping[str, Any]) -> PublishedPart:
        return PublishedPart(
            external_id=row["id"],
            url=URL_TEMPLATE.format(handle=row["handle"], post_id=row["id"]),
            created_at=as_utc(row["created_at"]),
        )


def _answered(draft: Draft) -> str | None:
    return draft.reply_to.external_id if draft.reply_to is not None else None


def _graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _length_problems(label: str, text: str) -> list[str]:
    length = _graphemes(text)
    if length > TEXT_LIMIT:
        return [f"{label} is {length} characters (grapheme clusters) long; the sandbox allows {TEXT_LIMIT}"]
    return []


def _keyset(position: str) -> tuple[datetime, str]:
    at, post_id = json.loads(position)
    return datetime.fromisoformat(at), str(post_id)


# Before every post: where a first read that found nothing leaves off, so that everything later is read.
_BEGINNING = json.dumps([datetime(1970, 1, 1, tzinfo=UTC).isoformat(), ""])


def _position_after(rows: Sequence[Mapping[str, Any]], position: str | None) -> str:
    """The (time, id) of the last row read, or the position as it was when nothing came."""
    if not rows:
        return position or _BEGINNING
    last = rows[-1]
    return json.dumps([as_utc(last["created_at"]).isoformat(), last["id"]])
