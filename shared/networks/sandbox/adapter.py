"""The `sandbox` network's adapter: posts kept in the sandbox's own table, as a real network keeps them."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import regex

from shared.config import Settings
from shared.db import create_db_engine
from shared.networks.ports import (
    Account,
    Audience,
    Draft,
    Engagement,
    MediaItem,
    MediaRule,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    Rejected,
    TextPreview,
    Transient,
)
from shared.networks.sandbox.behaviour import SandboxOptions, audience_on, engagement_at
from shared.networks.sandbox.store import SandboxStore
from shared.networks.toolkit.answers import as_utc
from shared.networks.toolkit.parts import (
    FindPart,
    FoundByKey,
    MakePart,
    PartByPart,
    labelled_texts,
    part_key,
    part_label,
    text_previews,
)

TEXT_LIMIT = 500
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4",)
MEDIA_MAX_BYTES = 16 * 1024 * 1024
MAX_MEDIA = 4
ALT_TEXT_LIMIT = 1500
URL_TEMPLATE = "https://sandbox.invalid/@{handle}/{post_id}"


class SandboxNetwork(PartByPart, FoundByKey):
    """The `sandbox` network's adapter."""

    info = NetworkInfo(
        name="sandbox",
        display_name="Sandbox",
        text_limit=TEXT_LIMIT,
        supports_threads=True,
        media=MediaRule(
            content_types=IMAGE_TYPES + VIDEO_TYPES,
            max_bytes=MEDIA_MAX_BYTES,
            max_items=MAX_MEDIA,
            alt_text_limit=ALT_TEXT_LIMIT,
        ),
        can_delete=True,
        can_edit=True,
        metrics=("likes", "reposts", "replies", "quotes", "bookmarks", "views"),
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
        problems: list[str] = []
        if not draft.text.strip() and not draft.media:
            problems.append("the text is empty")
        for label, text in labelled_texts(draft):
            if label != "the text" and not text.strip():
                problems.append(f"{label} is empty")
            problems += _length_problems(label, text)
        return problems + _media_problems(draft.media)

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
                in_reply_to_id=parts[-1].external_id if parts else None,
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


def _graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _length_problems(label: str, text: str) -> list[str]:
    length = _graphemes(text)
    if length > TEXT_LIMIT:
        return [f"{label} is {length} characters (grapheme clusters) long; the sandbox allows {TEXT_LIMIT}"]
    return []


def _media_problems(media: Sequence[MediaItem]) -> list[str]:
    problems = []
    if len(media) > MAX_MEDIA:
        problems.append(f"{len(media)} attachments; the sandbox takes at most {MAX_MEDIA}")
    if any(item.content_type in VIDEO_TYPES for item in media) and len(media) > 1:
        problems.append("a video must be the only attachment")
    for number, item in enumerate(media, 1):
        if item.content_type not in IMAGE_TYPES + VIDEO_TYPES:
            problems.append(f"attachment {number}: the sandbox takes {', '.join(IMAGE_TYPES + VIDEO_TYPES)}")
        if len(item.data) > MEDIA_MAX_BYTES:
            problems.append(f"attachment {number} is {len(item.data)} bytes; the limit is {MEDIA_MAX_BYTES}")
        if item.alt_text and len(item.alt_text) > ALT_TEXT_LIMIT:
            problems.append(f"attachment {number}: the description is over {ALT_TEXT_LIMIT} characters")
    return problems
