"""The declarative base, the column types every model shares, and the engine factory.

Sessions are made by shared.models, which imports every model first: this module is below every feature.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

from sqlalchemy import JSON, DateTime, Engine, Enum, Index, MetaData, Table, create_engine, event, exc, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, Dialect, Result, make_url
from sqlalchemy.orm import DeclarativeBase, mapped_column, sessionmaker
from sqlalchemy.orm import Session as Session
from sqlalchemy.types import TypeDecorator

from shared.sqlite_turns import queue_writers

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_SECONDS = 15
# A pooled PostgreSQL connection idle this long is pinged before use; one used more recently is trusted.
PING_AFTER_IDLE_SECONDS = 1.0
# The execution option `reading` sets: the connection's transaction only reads.
READING_ONLY = "crier_reading_only"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no timezone-aware type, so without this a value written as 09:00+02:00 would read back as a
    naive 07:00 on SQLite and an aware one on PostgreSQL; every comparison in the scheduler depends on the two
    agreeing.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} would be ambiguous; give it a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


uuid_pk = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
utc_timestamp = Annotated[datetime, mapped_column(UTCDateTime())]
created_timestamp = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow)]


class Base(DeclarativeBase):
    """Every model's base: owns the constraint naming convention and the shared column types."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of only the rows for which the SQL condition `where` holds, on PostgreSQL and SQLite alike."""
    return Index(name, *columns, unique=unique, postgresql_where=text(where), sqlite_where=text(where))


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; on SQLite, one that is safe for several processes writing at once."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, **kwargs)
        _ping_idle_connections(engine)
        return engine

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start, not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    on_disk = Path(parsed.database) if parsed.database and parsed.database != ":memory:" else None
    queue_writers(engine, on_disk, SQLITE_BUSY_TIMEOUT_SECONDS, READING_ONLY)

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # Every transaction takes SQLite's write lock up front. A deferred transaction that reads and then
        # writes fails at once with SQLITE_BUSY (no busy-timeout wait) when another process wrote in
        # between, and the scheduler's claim must be atomic across processes: SQLAlchemy silently drops
        # FOR UPDATE SKIP LOCKED on SQLite. The price, readers waiting behind a short write, is small at
        # the embedded mode's scale.
        # A transaction that only reads (`reading`) begins deferred: WAL lets it read beside a writer.
        reads_only = connection.get_execution_options().get(READING_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")

    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle, and replace it if the ping fails.

    pool_pre_ping pays a round trip on every checkout: three per API request that writes a post, 18 % of
    an API worker's time under load. A connection returned to the pool a moment ago was alive a moment ago;
    one that sat idle may have been cut by a restart or a firewall. When the server goes away under load, the
    requests holding connections at that moment fail (503, retried by their callers), the error invalidates
    the whole pool, and every later checkout connects afresh.
    """

    @event.listens_for(engine, "checkin")
    def _note_return(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)  # what pool_pre_ping would run, outside a transaction
        except Exception as error:
            # The pool retries the checkout with a new connection (SQLAlchemy's disconnect handling).
            raise exc.DisconnectionError() from error


@contextmanager
def reading(sessions: sessionmaker[Session], *, snapshot: bool = True) -> Iterator[Session]:
    """A transaction that only reads, committed on leaving.

    On SQLite it does not take the write lock, so the API's reads in several processes go on while one
    writes. Nothing may be written in it: a deferred SQLite transaction that writes after another process
    did fails at once instead of waiting its turn.

    Without `snapshot`, on PostgreSQL each statement runs on its own (autocommit): no BEGIN and no COMMIT,
    two round trips fewer, for reads that need no consistent view across statements (a token, the rules a
    text is checked by, which the write that follows checks again).
    """
    with sessions.begin() as session:
        options: dict[str, Any] = {READING_ONLY: True}
        if not snapshot and session.get_bind().dialect.name == "postgresql":
            options["isolation_level"] = "AUTOCOMMIT"
        session.connection(execution_options=options)
        yield session


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched: how a compare-and-set tells whether it won."""
    return cast(CursorResult[Any], result).rowcount


def table_of(model: type[Base]) -> Table:
    """A model's Table, typed as one (mapped classes declare `__table__` as a FromClause)."""
    return cast(Table, model.__table__)


def insert_on_conflict(session: Session, target: Any) -> SQLiteInsert:
    """An INSERT into `target` (a model or table) that can say ON CONFLICT, in the session's dialect.

    PostgreSQL's and SQLite's INSERTs offer the same on_conflict_do_nothing and on_conflict_do_update; the
    type names SQLite's for both.
    """
    if session.get_bind().dialect.name == "postgresql":
        return cast(SQLiteInsert, postgresql_insert(target))
    return sqlite_insert(target)


# PostgreSQL gets JSONB (indexable, compact); SQLite stores the same documents as JSON text.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def enum_column(enum: type[StrEnum]) -> Enum:
    """A string enum stored as its values in a VARCHAR: new members need no ALTER TYPE."""
    return Enum(enum, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


json_document = Annotated[dict[str, Any], mapped_column(JSONDocument, default=dict)]
