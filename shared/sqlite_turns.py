"""SQLite's writers take turns on locks of their own before SQLite's write lock: a thread lock within a
process, a POSIX lock on a file beside the database between processes.

Every write transaction on SQLite begins IMMEDIATE (shared.db). One that finds SQLite's write lock taken
waits in SQLite's busy handler, which sleeps and looks again (1, 2, 5, 10 … 100 ms): with sixteen API
threads in two gunicorn workers writing at once, most of the waiting was sleep while the lock was free,
and the unluckiest waited seconds (POST /v1/posts p99 2.1 s at 71/s in issue 16's first measure; 951 ms
with only the thread lock, the two processes still meeting in the busy handler). Waiting on these locks,
the next writer of a process starts the moment the last one is done, and one of another process within a
millisecond.

Reads are not queued: under WAL they go on beside a writer. A writer that waits on the thread lock longer
than SQLite's busy timeout goes on to SQLite's lock anyway, so a thread holding two write transactions at
once fails as it did before instead of waiting for itself. A process that does not take the lock file (the
sqlite3 shell, another program) is still kept out by SQLite's own lock, which alone makes writes safe: these
locks only decide who asks for it next.

The lock between processes is fcntl.lockf's, held by the process, not flock's, held by an open file: two
engines of one process on the same file (tests make them) then never wait for each other there, where
flock would make a thread that holds a write on one wait forever to begin one on the other.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

try:
    import fcntl
except ImportError:  # Windows: threads take turns; processes meet in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

HOLDS_WRITE_TURN = "crier_holds_write_turn"
RETRY_SECONDS = 0.001


class WriteTurns:
    """One process's turns at writing one SQLite database."""

    def __init__(self, lock_file: Path | None, wait_seconds: float) -> None:
        self.lock_file = lock_file if fcntl is not None else None
        self.wait_seconds = wait_seconds
        self._threads = threading.Lock()
        self._descriptor: int | None = None
        self._opened_by: int | None = None

    def take(self) -> bool:
        """Wait for this thread's turn; False when either wait outlasted the busy timeout (the writer then
        goes on to SQLite's lock, and its busy timeout, as without turns)."""
        if not self._threads.acquire(timeout=self.wait_seconds):
            return False
        if self.lock_file is not None:
            try:
                if not self._lock_file_within(time.monotonic() + self.wait_seconds):
                    self._threads.release()
                    return False
            except OSError:
                self._threads.release()
                raise
        return True

    def _lock_file_within(self, deadline: float) -> bool:
        # Tried without blocking, every millisecond: a blocking lockf cannot time out, and a writer stopped
        # while holding the turn (a debugger, a hung disk) would keep the next one waiting for ever, where
        # SQLite's busy timeout gives up after its 15 s. A millisecond late at most is still a turn taken.
        descriptor = self._lock_descriptor()
        while True:
            try:
                fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as error:
                if error.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(RETRY_SECONDS)

    def give_back(self) -> None:
        if self.lock_file is not None and self._descriptor is not None:
            fcntl.lockf(self._descriptor, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        """Close the lock file (opened again at the next write). Closing it drops every POSIX lock this
        process holds on the file, another engine's on the same database too: that engine's writer then
        meets other processes in SQLite's busy handler, as without these locks; nothing is less safe."""
        if self._descriptor is not None and self._opened_by == os.getpid():
            os.close(self._descriptor)
        self._descriptor = None
        self._opened_by = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, os may already be gone
            self.close()

    def forget_parent(self) -> None:
        """In a forked child: the parent's thread lock may have been held by a thread the child does not
        have; the child opens the lock file anew (a POSIX lock is not inherited)."""
        self._threads = threading.Lock()
        self._descriptor = None
        self._opened_by = None

    def _lock_descriptor(self) -> int:
        if self._opened_by != os.getpid():
            assert self.lock_file is not None
            self._descriptor = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._opened_by = os.getpid()
        assert self._descriptor is not None
        return self._descriptor


def queue_writers(engine: Engine, database: Path | None, wait_seconds: float, reads_only_option: str) -> None:
    """Make the engine's write transactions take turns; `database` None for an in-memory database."""
    turns = WriteTurns(database.with_name(database.name + ".lock") if database else None, wait_seconds)
    held = weakref.ref(turns)

    def _in_child() -> None:
        alive = held()
        if alive is not None:
            alive.forget_parent()

    os.register_at_fork(after_in_child=_in_child)

    @event.listens_for(engine, "engine_disposed")
    def _close_lock_file(_engine: Engine) -> None:
        turns.close()

    # Before the "begin" listener that sends BEGIN IMMEDIATE: registered first, called first.
    @event.listens_for(engine, "begin")
    def _wait_for_turn(connection: Any) -> None:
        if connection.get_execution_options().get(reads_only_option, False):
            return
        if turns.take():
            connection.info[HOLDS_WRITE_TURN] = True

    def _end_turn(info: dict[str, Any]) -> None:
        if info.pop(HOLDS_WRITE_TURN, False):
            turns.give_back()

    # Given back just before the COMMIT or ROLLBACK runs (SQLAlchemy has no event after it): a writer that
    # starts in that moment finds SQLite's lock still held for the commit's few microseconds and waits in
    # the busy handler once. The pool's events end a turn whose connection went back or away without one.
    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _after_transaction(connection: Any) -> None:
        _end_turn(connection.info)

    @event.listens_for(engine, "checkin")
    @event.listens_for(engine, "invalidate")
    @event.listens_for(engine, "close")
    def _connection_returned(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        if record is not None:
            _end_turn(record.info)
