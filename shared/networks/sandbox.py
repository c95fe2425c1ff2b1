"""The sandbox network: a real network of Crier's own, for demos, tests and benchmarks.

It stores posts in a database of its own (not Crier's), hands out ids and URLs, honours idempotency keys
the way Mastodon does, and can be told per channel to be slow or to fail the ways real networks fail:
refusing with a 5xx before storing, or storing and then timing out so the caller cannot know. Its posts
gain likes, reposts, replies, quotes, bookmarks and views as they age, by a deterministic curve, so metrics
exist without any background process; an account's followers grow a little each day, for the same reason.
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
from sqlalchemy import Column, DateTime, Engine, Index, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.exc import DatabaseError

from shared.config import Settings
from shared.db import create_db_engine
from shared.networks.ports import (
    Account,
    Audience,
    Draft,
    Engagement,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPost,
    TextPreview,
    Transient,
)

TEXT_LIMIT = 500
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
    Index("ix_sandbox_posts_idempotency_key", "idempotency_key"),
)


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
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                problems.append(f"{name} must be a finite number")
            elif value < 0 or (name != "latency_ms" and value > 1):
                bound = "at least 0" if name == "latency_ms" else "between 0 and 1"
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
            self._ready = True

    def add(self, handle: str, text: str, idempotency_key: str) -> dict[str, Any]:
        self._ensure_table()
        row = {
            "id": uuid.uuid4().hex,
            "handle": handle,
            "text": text,
            "idempotency_key": idempotency_key,
            "created_at": datetime.now(UTC),
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
        if draft.thread:
            return ["the sandbox has no threads: the thread's replies would not be sent"]
        if not draft.text.strip():
            return ["the text is empty"]
        length = len(regex.findall(r"\X", draft.text))
        if length > TEXT_LIMIT:
            return [
                f"the text is {length} characters (grapheme clusters) long; the sandbox allows {TEXT_LIMIT}"
            ]
        return []

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return [
            TextPreview(
                text=text, length=len(regex.findall(r"\X", text)), limit=TEXT_LIMIT, problems=tuple(problems)
            )
            for text, problems in [(draft.text, self.validate(draft))]
        ]

    def delete(self, account: Account, external_id: str) -> None:
        if not self.store.delete(external_id):
            raise PostGone(f"sandbox: no post {external_id}")

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts: followers by a curve of the handle and the day, posts as the store holds."""
        return audience_on(account.handle, datetime.now(UTC), self.store.count_posts_of(account.handle))

    def verify(self, account: Account) -> Profile:
        return Profile(
            handle=account.handle, url=URL_TEMPLATE.format(handle=account.handle, post_id="").rstrip("/")
        )

    def publish(self, account: Account, draft: Draft, idempotency_key: str) -> PublishedPost:
        options, _ = SandboxOptions.parse(account.settings)
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        if self._rng.random() < options.failure_rate:
            raise Transient("sandbox: 503 Service Unavailable (injected before storing)")
        if options.honours_idempotency_key:
            earlier = self.store.find_by_key(idempotency_key)
            if earlier is not None:
                return self._published(earlier)
        row = self.store.add(account.handle, draft.text, idempotency_key)
        if self._rng.random() < options.stored_then_timeout_rate:
            raise OutcomeUnknown("sandbox: read timed out after the post was stored (injected)")
        return self._published(row)

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
    ) -> PublishedPost | None:
        row = self.store.find_by_key(idempotency_key)
        return self._published(row) if row else None

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
            created_at = row["created_at"]
            if created_at.tzinfo is None:  # SQLite hands back naive UTC
                created_at = created_at.replace(tzinfo=UTC)
            result[external_id] = engagement_at(external_id, (now - created_at).total_seconds())
        return result

    @staticmethod
    def _published(row: Mapping[str, Any]) -> PublishedPost:
        return PublishedPost(
            external_id=row["id"], url=URL_TEMPLATE.format(handle=row["handle"], post_id=row["id"])
        )
