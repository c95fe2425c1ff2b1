"""How the engine hands out connections: reads that do not queue behind SQLite's writer, and PostgreSQL
connections checked only when they sat idle."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from shared import db
from shared.db import create_db_engine, reading
from shared.models import create_session_factory
from shared.sqlite_turns import WriteTurns
from tests.conftest import create_postgres_database, drop_postgres_database


def test_a_reading_transaction_on_sqlite_reads_while_another_process_holds_the_write_lock(tmp_path: Path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'crier.db'}")
    sessions = create_session_factory(engine)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")
            connection.exec_driver_sql("INSERT INTO notes VALUES ('kept')")
        seen: list[str] = []

        def read() -> None:
            with reading(sessions) as session:
                seen.extend(session.execute(text("SELECT body FROM notes")).scalars())

        with sessions.begin() as writer:
            writer.execute(text("INSERT INTO notes VALUES ('not yet committed')"))
            reader = threading.Thread(target=read)
            reader.start()
            # The writer holds BEGIN IMMEDIATE's lock for as long as the reader is given (the busy timeout
            # is 15 s): a reader that queued for the lock would still be waiting here.
            reader.join(timeout=5)
            assert not reader.is_alive(), "the read waited for the writer's lock"
        assert seen == ["kept"]
    finally:
        engine.dispose()


# Where a writer can wait for its turn: on the turns' locks (a thread lock, then the lock file), or in
# SQLite's busy handler under the BEGIN IMMEDIATE, which sleeps in steps up to 100 ms while the lock is free.
WAITING_PLACES = {
    "take": "the thread lock",
    "_lock_file_within": "the lock file",
    "_begin_immediate": "SQLite",
}


def where_it_waits(thread_id: int, seconds: float = 10) -> str:
    """Where a thread of this process waits to begin writing: the innermost of WAITING_PLACES on its stack."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread_id)
        while frame is not None:
            if frame.f_code.co_name in WAITING_PLACES:
                return WAITING_PLACES[frame.f_code.co_name]
            frame = frame.f_back
        time.sleep(0.01)
    return "nowhere: it did not wait"


def test_a_writer_waits_for_a_thread_of_its_own_process_on_a_lock_not_in_sqlites_busy_handler(tmp_path: Path):
    """Threads of one process queue on a lock of their own: the waiter is woken by the commit itself."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'crier.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")

        def write() -> None:
            with engine.begin() as waiting:
                waiting.exec_driver_sql("INSERT INTO notes VALUES ('second')")

        with engine.begin() as first:
            first.exec_driver_sql("INSERT INTO notes VALUES ('first')")
            second = threading.Thread(target=write)
            second.start()
            assert second.ident is not None
            assert where_it_waits(second.ident) == "the thread lock"
        second.join(timeout=20)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 2
    finally:
        engine.dispose()


def _write_and_say_where_it_waited(database: str, waited: Any) -> None:
    """Another process's writer: a thread of its own says where the writer waits for its turn."""
    main_thread = threading.get_ident()
    reporter = threading.Thread(target=lambda: waited.put(where_it_waits(main_thread)), daemon=True)
    engine = create_db_engine(database)
    try:
        reporter.start()
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO notes VALUES ('from the other process')")
    finally:
        engine.dispose()


def test_a_writer_waits_for_another_process_on_the_lock_file_not_in_sqlites_busy_handler(tmp_path: Path):
    """Between processes the turn is a lock on a file beside the database, tried every millisecond: the
    other process's writer begins a millisecond after the commit at most, not at the end of a 100 ms sleep."""
    database = f"sqlite:///{tmp_path / 'crier.db'}"
    engine = create_db_engine(database)
    spawning = multiprocessing.get_context("spawn")
    waited = spawning.Queue()
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")
        with engine.begin() as first:
            first.exec_driver_sql("INSERT INTO notes VALUES ('first')")
            other = spawning.Process(target=_write_and_say_where_it_waited, args=(database, waited))
            other.start()
            assert waited.get(timeout=60) == "the lock file"
        other.join(timeout=30)
        assert other.exitcode == 0
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 2
        assert (tmp_path / "crier.db.lock").stat().st_mode & 0o077 == 0, "the lock file is private"
    finally:
        engine.dispose()


HOLD_THE_LOCK_FILE = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(descriptor, fcntl.LOCK_EX)
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin: a writer stopped while it held the turn
"""


def test_a_turn_held_by_a_stopped_process_is_given_up_on_after_the_busy_timeout(tmp_path: Path):
    """A writer stopped while it holds the lock file (a debugger, a hung disk) does not keep the others
    waiting for ever: past the wait, they go on to SQLite's lock and its busy timeout, as without turns."""
    lock_file = tmp_path / "crier.db.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK_FILE, str(lock_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    turns = WriteTurns(lock_file, wait_seconds=0.3)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"holding\n"
        started = time.monotonic()
        assert turns.take() is False
        assert 0.3 <= time.monotonic() - started < 5
        assert turns.take() is False, "the thread lock was given back with the failed wait"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    assert turns.take() is True, "the turn is taken once its holder has gone"
    turns.give_back()
    turns.close()


def test_the_lock_file_is_closed_with_its_engine(tmp_path: Path):
    """Tests and tools make and dispose of engines by the hundred: none may leave its lock file open."""

    def open_lock_files() -> int:
        return sum(1 for fd in Path("/proc/self/fd").iterdir() if fd.resolve() == tmp_path / "crier.db.lock")

    for _ in range(3):
        engine = create_db_engine(f"sqlite:///{tmp_path / 'crier.db'}")
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS notes (body TEXT)")
        assert open_lock_files() == 1
        engine.dispose()
        assert open_lock_files() == 0


def test_every_other_transaction_on_sqlite_still_takes_the_write_lock_first(tmp_path: Path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'crier.db'}")
    sessions = create_session_factory(engine)
    try:
        with sessions.begin() as session:
            assert session.connection().exec_driver_sql("SELECT 1").scalar() == 1
            raw = session.connection().connection.driver_connection
            assert raw is not None
            assert raw.in_transaction
            # A second connection cannot take the lock while this transaction holds it.
            with engine.connect() as contender:
                driver = contender.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA busy_timeout = 100")
                with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                    contender.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        engine.dispose()


@pytest.fixture
def postgres_url():
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


def _backend_pid(connection: sa.Connection) -> int:
    return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_postgresql_connection_cut_while_idle_is_replaced_before_anyone_uses_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    engine = create_db_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            first = _backend_pid(connection)
        killer = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with killer.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        killer.dispose()

        with engine.connect() as connection:
            assert _backend_pid(connection) != first
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_a_postgresql_connection_used_a_moment_ago_is_handed_out_without_a_ping(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = create_db_engine(postgres_url, pool_size=1, max_overflow=0)
    statements: list[str] = []
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        pings: list[object] = []
        monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection))
        for _ in range(3):
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 2")
        assert pings == []
        assert statements == ["SELECT 2"] * 3
    finally:
        engine.dispose()


def test_a_postgresql_connection_that_sat_idle_is_pinged_once_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = create_db_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        pings: list[object] = []
        real_ping = engine.dialect.do_ping
        monkeypatch.setattr(
            engine.dialect, "do_ping", lambda dbapi_connection: pings.append(1) or real_ping(dbapi_connection)
        )
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        assert pings == [1]
    finally:
        engine.dispose()


def test_a_reading_without_snapshot_on_postgresql_opens_no_transaction_and_one_with_snapshot_does(
    postgres_url: str,
):
    engine = create_db_engine(postgres_url)
    sessions = create_session_factory(engine)
    try:
        for snapshot, expected in ((False, TransactionStatus.IDLE), (True, TransactionStatus.INTRANS)):
            with reading(sessions, snapshot=snapshot) as session:
                assert session.execute(text("SELECT 1")).scalar() == 1
                driver = session.connection().connection.driver_connection
                assert driver is not None
                assert driver.info.transaction_status is expected, f"snapshot={snapshot}"
        # The pool hands the connection on as it was before: the next transaction is a real one.
        with sessions.begin() as session:
            session.execute(text("SELECT 1"))
            driver = session.connection().connection.driver_connection
            assert driver is not None
            assert driver.info.transaction_status is TransactionStatus.INTRANS
    finally:
        engine.dispose()
