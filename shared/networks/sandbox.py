"""The sandbox network: a real network of Crier's own, for demos, tests and benchmarks.

It stores posts in a database of its own (not Crier's), hands out ids and URLs, honours idempotency keys
the way Mastodon does, and can be told per channel to be slow or to fail the ways real networks fail:
refusing with a 5xx before storing, or storing and then timing out so the caller cannot know. It does what
the real networks do, so a new user can try every feature without an account: threads (each reply stored
under the delivery's key and its number, `key:n`, as Mastodon's adapter sends them), and images or a video
with their alt text (the store keeps each file's type, size, digest and description, not its bytes). Its
posts gain likes, reposts, replies, quotes, bookmarks and views as they age, by a deterministic curve, so
metrics exist without any background process; an account's followers grow a little each day, likewise.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import DatabaseError

from shared.config import Settings
from shared.db import create_db_engine
from shared.networks.ports import (
    Account,
    Audience,
    Draft,
    Engagement,
    MediaItem,
    MediaRule,
    NetworkError,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
    Transient,
)

TEXT_LIMIT = 500
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4",)
MEDIA_MAX_BYTES = 16 * 1024 * 1024
MAX_MEDIA = 4
ALT_TEXT_LIMIT = 1500
URL_TEMPLATE = "https://sandbox.invalid/@{handle}/{post_id}"
# How fast engagement grows: a post has half its final likes after this many seconds.
ENGAGEMENT_HALF_LIFE_SECONDS = 60.0

metadata = MetaData()
sandbox_posts = Table(
    "sandbox_posts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("handle", String(200), nullable=False),
    Column("text", Text, nullable=False),
    # Not unique: the store records every post it was asked to make, so a duplicate is visible.
    Column("idempotency_key", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The post a thread reply answers; None for a post that starts a thread (or stands alone).
    Column("in_reply_to_id", String(32), nullable=True),
    # Each attachment's type, size, SHA-256 and alt text, in order.
    Column("media", JSON, nullable=True),
    # When its text was last changed (an edit through Crier); None if never.
    Column("edited_at", DateTime(timezone=True), nullable=True),
    # How many times it was edited: an edit applied twice is visible.
    Column("edits", Integer, nullable=True),
    Index("ix_sandbox_posts_idempotency_key", "idempotency_key"),
)
# Columns added since the store's first version: a store made before them gains them (see _ensure_table).
LATER_COLUMNS = ("in_reply_to_id", "media", "edited_at", "edits")


# A minute: slower than any real network answers, and well inside a publish attempt's lease.
MAX_LATENCY_MS = 60_000


def _finite(value: float) -> bool:
    return isinstance(value, int) or math.isfinite(value)


@dataclass(frozen=True)
class SandboxOptions:
    """A sandbox channel's behaviour, from the channel's settings."""

    latency_ms: float = 0.0
    failure_rate: float = 0.0
    stored_then_timeout_rate: float = 0.0
    honours_idempotency_key: bool = True

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> tuple[SandboxOptions, list[str]]:
        problems = [f"unknown option {key!r}" for key in settings if key not in cls.__dataclass_fields__]
        values: dict[str, Any] = {}
        for name in ("latency_ms", "failure_rate", "stored_then_timeout_rate"):
            if name not in settings:
                continue
            value = settings[name]
            # An int is finite however large (and math.isfinite cannot convert one past a float's range).
            if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
                problems.append(f"{name} must be a finite number")
            elif value < 0 or value > (MAX_LATENCY_MS if name == "latency_ms" else 1):
                bound = f"between 0 and {MAX_LATENCY_MS:,}" if name == "latency_ms" else "between 0 and 1"
                problems.append(f"{name} must be {bound}")
            else:
                values[name] = float(value)
        if "honours_idempotency_key" in settings:
            if isinstance(settings["honours_idempotency_key"], bool):
                values["honours_idempotency_key"] = settings["honours_idempotency_key"]
            else:
                problems.append("honours_idempotency_key must be true or false")
        return cls(**values), problems


class SandboxStore:
    """The sandbox network's own storage."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False
        self._ready_lock = threading.Lock()

    def _ensure_table(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                metadata.create_all(self.engine)
            except DatabaseError:
                # Another process created it between the check and the CREATE; it exists either way.
                metadata.create_all(self.engine)
            self._add_later_columns()
            self._ready = True

    def _add_later_columns(self) -> None:
        """Give a store made by an older Crier the columns added since, so its posts are kept."""
        present = {column["name"] for column in inspect(self.engine).get_columns(sandbox_posts.name)}
        for name in LATER_COLUMNS:
            if name in present:
                continue
            column = sandbox_posts.c[name]
            kind = column.type.compile(dialect=self.engine.dialect)
            try:
                with self.engine.begin() as connection:
                    connection.exec_driver_sql(f"ALTER TABLE {sandbox_posts.name} ADD COLUMN {name} {kind}")
            except DatabaseError:
                pass  # another process added it first

    def add(
        self,
        handle: str,
        text: str,
        idempotency_key: str,
        *,
        in_reply_to_id: str | None = None,
        media: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        self._ensure_table()
        row = {
            "id": uuid.uuid4().hex,
            "handle": handle,
            "text": text,
            "idempotency_key": idempotency_key,
            "created_at": datetime.now(UTC),
            "in_reply_to_id": in_reply_to_id,
            "media": list(media) or None,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(sandbox_posts).values(**row))
        return row

    def find_by_key(self, idempotency_key: str) -> dict[str, Any] | None:
        self._ensure_table()
        query = (
            select(sandbox_posts)
            .where(sandbox_posts.c.idempotency_key == idempotency_key)
            .order_by(sandbox_posts.c.created_at)
            .limit(1)
        )
        with self.engine.begin() as connection:
            row = connection.execute(query).mappings().first()
        return dict(row) if row else None

    def get_many(self, post_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self._ensure_table()
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(sandbox_posts).where(sandbox_posts.c.id.in_(post_ids))
            ).mappings()
            return {row["id"]: dict(row) for row in rows}

    def edit(self, post_id: str, text: str) -> dict[str, Any] | None:
        """Give a post a new text; the post as it is now, or None if there is none."""
        self._ensure_table()
        with self.engine.begin() as connection:
            changed = connection.execute(
                sandbox_posts.update()
                .where(sandbox_posts.c.id == post_id)
                .values(
                    text=text, edited_at=datetime.now(UTC), edits=func.coalesce(sandbox_posts.c.edits, 0) + 1
                )
            )
            if changed.rowcount != 1:
                return None
            row = (
                connection.execute(select(sandbox_posts).where(sandbox_posts.c.id == post_id))
                .mappings()
                .one()
            )
        return dict(row)

    def delete(self, post_id: str) -> bool:
        """Remove a post; False if there was none."""
        self._ensure_table()
        with self.engine.begin() as connection:
            deleted = connection.execute(sandbox_posts.delete().where(sandbox_posts.c.id == post_id))
        return deleted.rowcount == 1

    def count_posts_of(self, handle: str) -> int:
        self._ensure_table()
        query = select(func.count()).where(sandbox_posts.c.handle == handle)
        with self.engine.begin() as connection:
            return int(connection.scalar(query) or 0)

    def count_by_key(self) -> dict[str, int]:
        """How many posts were stored under each idempotency key: more than one is a duplicate."""
        self._ensure_table()
        query = select(sandbox_posts.c.idempotency_key, func.count()).group_by(
            sandbox_posts.c.idempotency_key
        )
        with self.engine.begin() as connection:
            return {key: count for key, count in connection.execute(query)}


def engagement_at(post_id: str, age_seconds: float) -> Engagement:
    """The counts a sandbox post has at a given age: rising quickly, then levelling off."""
    seed = int.from_bytes(hashlib.sha256(post_id.encode()).digest()[:4], "big")
    final_likes = 20 + seed % 180
    share = max(age_seconds, 0.0) / (max(age_seconds, 0.0) + ENGAGEMENT_HALF_LIFE_SECONDS)
    likes = int(final_likes * share)
    counts = {
        "likes": likes,
        "reposts": likes // 5,
        "replies": likes // 10,
        "quotes": likes // 30,
        "bookmarks": likes // 8,
        "views": likes * 30 + int(share * 100),
    }
    return Engagement(**counts, raw={"id": post_id, **counts})


def audience_on(handle: str, moment: datetime, posts: int) -> Audience:
    """An account's counts at a moment: a few hundred followers, and a few more each day."""
    seed = int.from_bytes(hashlib.sha256(handle.encode()).digest()[:4], "big")
    days = (moment - datetime(2026, 1, 1, tzinfo=UTC)).days
    counts = {"followers": 200 + seed % 800 + 3 * max(days, 0), "following": 50 + seed % 150, "posts": posts}
    return Audience(**counts, raw={"handle": handle, **counts})


class SandboxNetwork:
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
        for label, text in _labelled_texts(draft):
            if label != "the text" and not text.strip():
                problems.append(f"{label} is empty")
            problems += _length_problems(label, text)
        return problems + _media_problems(draft.media)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return [
            TextPreview(
                text=text,
                length=_graphemes(text),
                limit=TEXT_LIMIT,
                problems=tuple(_length_problems(label, text)),
            )
            for label, text in _labelled_texts(draft)
        ]

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

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Store the post, then each thread reply, each one request that may fail as the channel says.

        Parts already `published` are not sent again: the thread goes on from the last of them.
        """
        problems = self.validate(draft)
        if problems:
            raise Rejected("sandbox: 422 " + "; ".join(problems))
        options, _ = SandboxOptions.parse(account.settings)
        parts = list(published[: 1 + len(draft.thread)])
        texts = (draft.text, *draft.thread)
        for index in range(len(parts), len(texts)):
            try:
                row = self._store_one(
                    options,
                    account.handle,
                    texts[index],
                    _part_key(idempotency_key, index),
                    in_reply_to_id=parts[-1].external_id if parts else None,
                    media=[item.summary() for item in draft.media] if index == 0 else [],
                )
            except NetworkError as error:
                raise error.after(parts) from None
            parts.append(self._part(row))
        return PublishedPost.of(parts)

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
        """The post stored under the delivery's key, and each reply stored under `key:n`, up to a gap.

        Certain either way, as a lookup by key is: a thread found in part comes back in part.
        """
        parts: list[PublishedPart] = []
        for index in range(1 + (len(draft.thread) if draft is not None else 0)):
            row = self.store.find_by_key(_part_key(idempotency_key, index))
            if row is None:
                break
            parts.append(self._part(row))
        return PublishedPost.of(parts) if parts else None

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
                external_id, (now - _aware(row["created_at"])).total_seconds()
            )
        return result

    @staticmethod
    def _part(row: Mapping[str, Any]) -> PublishedPart:
        return PublishedPart(
            external_id=row["id"],
            url=URL_TEMPLATE.format(handle=row["handle"], post_id=row["id"]),
            created_at=_aware(row["created_at"]),
        )


def _part_key(idempotency_key: str, index: int) -> str:
    """The key a part is stored under: the delivery's own for the post, `key:n` for reply n."""
    return idempotency_key if index == 0 else f"{idempotency_key}:{index}"


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _labelled_texts(draft: Draft) -> list[tuple[str, str]]:
    return [("the text", draft.text)] + [
        (f"thread item {index}", text) for index, text in enumerate(draft.thread, 1)
    ]


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
