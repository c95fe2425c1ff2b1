"""The sandbox network's own storage: one table of posts, in a database of its own (not Crier's)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError

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
    Index("ix_sandbox_posts_created_at", "created_at"),
)
# Held while a post is stored on PostgreSQL: posts are stored one at a time (see SandboxStore._next_time).
ADVISORY_LOCK = 0x5A4D_B0C5
# Who liked which post: one row per account and post, so a like asked twice is one like.
sandbox_likes = Table(
    "sandbox_likes",
    metadata,
    Column("post_id", String(32), primary_key=True),
    Column("handle", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# Columns added since the store's first version: a store made before them gains them (see _ensure_table).
LATER_COLUMNS = ("in_reply_to_id", "media", "edited_at", "edits")


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
        post_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a post; given `post_id`, only if no post has that id yet (the row as stored either way)."""
        self._ensure_table()
        if post_id is not None:
            existing = self.get_many([post_id]).get(post_id)
            if existing is not None:
                return existing
        row: dict[str, Any] = {
            "id": post_id or uuid.uuid4().hex,
            "handle": handle,
            "text": text,
            "idempotency_key": idempotency_key,
            "in_reply_to_id": in_reply_to_id,
            "media": list(media) or None,
        }
        try:
            with self.engine.begin() as connection:
                row["created_at"] = self._next_time(connection)
                connection.execute(insert(sandbox_posts).values(**row))
        except DatabaseError:
            if post_id is None:
                raise
            # Another reader stored the same post first: it is the one kept.
            return self.get_many([post_id])[post_id]
        return row

    @staticmethod
    def _next_time(connection: Connection) -> datetime:
        """Now, or just after the latest post: one post at a time, each later than every one before.

        Readers page by (time, id), so a post must never become visible behind one already read. Posts are
        stored one at a time (SQLite's write lock, taken when the transaction begins; an advisory lock on
        PostgreSQL) and each is later than all before it, so none commits behind another.
        """
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        latest = connection.scalar(select(func.max(sandbox_posts.c.created_at)))
        now = datetime.now(UTC)
        if latest is not None:
            latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
            now = max(now, latest + timedelta(microseconds=1))
        return now

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

    def said_to(self, handle: str, after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        """Others' posts answering `handle`'s or naming @handle, oldest first, after the (time, id) given."""
        self._ensure_table()
        own = select(sandbox_posts.c.id).where(sandbox_posts.c.handle == handle)
        condition = and_(
            sandbox_posts.c.handle != handle,
            or_(
                sandbox_posts.c.in_reply_to_id.in_(own.scalar_subquery()),
                sandbox_posts.c.text.contains(f"@{handle}", autoescape=True),
            ),
        )
        return self._page(condition, after, limit)

    def matching(self, words: str, after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        """Posts whose text contains `words` (any case), oldest first, after the (time, id) given."""
        self._ensure_table()
        condition = func.lower(sandbox_posts.c.text).contains(words.lower(), autoescape=True)
        return self._page(condition, after, limit)

    def _page(
        self, condition: ColumnElement[bool], after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        query = select(sandbox_posts).where(condition)
        if after is not None:
            at, post_id = after
            query = query.where(
                or_(
                    sandbox_posts.c.created_at > at,
                    and_(sandbox_posts.c.created_at == at, sandbox_posts.c.id > post_id),
                )
            )
        query = query.order_by(sandbox_posts.c.created_at, sandbox_posts.c.id).limit(limit)
        with self.engine.begin() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def latest_of(self, handle: str, limit: int) -> list[dict[str, Any]]:
        """The account's own latest posts that start a thread or stand alone, newest first."""
        self._ensure_table()
        query = (
            select(sandbox_posts)
            .where(sandbox_posts.c.handle == handle, sandbox_posts.c.in_reply_to_id.is_(None))
            .order_by(sandbox_posts.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.begin() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def replies_to(self, post_ids: Sequence[str]) -> list[dict[str, Any]]:
        self._ensure_table()
        query = select(sandbox_posts).where(sandbox_posts.c.in_reply_to_id.in_(post_ids))
        with self.engine.begin() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def like(self, post_id: str, handle: str) -> bool:
        """`handle` likes the post; False when it already did (the like is kept once)."""
        self._ensure_table()
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(sandbox_likes).values(post_id=post_id, handle=handle, created_at=datetime.now(UTC))
                )
        except DatabaseError:
            return False
        return True

    def likes_of(self, post_id: str) -> list[str]:
        self._ensure_table()
        with self.engine.begin() as connection:
            return list(
                connection.scalars(select(sandbox_likes.c.handle).where(sandbox_likes.c.post_id == post_id))
            )
