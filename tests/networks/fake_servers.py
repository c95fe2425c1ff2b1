"""The plumbing every fake server of these tests shares: a WSGI app served over real HTTP on a free port of
127.0.0.1, in a thread, from start() to stop().

The fakes of the networks (tests/networks/<network>/fake.py) and the misbehaving proxy are each one: they
are tested over real connections, so their timeouts, error classes and headers are the ones production
sees. Each fake keeps what it accepted, so a test can tell "refused" from "posted", and can be told to
fail the ways the real service fails, including accepting a post and then stalling until the client gives
up, or hanging up without an answer.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from flask import request
from werkzeug.serving import BaseWSGIServer, make_server

# How long a stalled answer waits at most; the server's stop releases it sooner.
STALL_SECONDS = 10.0

Fake = TypeVar("Fake", bound="FakeServer")


class FakeServer:
    """A WSGI app (a Flask app, or any callable of environ and start_response) served on 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.released = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        # A short poll keeps stop() quick: each test starts and stops its own server.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def stall(self, seconds: float = STALL_SECONDS) -> None:
        """Hold the answer back until the client has given up (or the server stops)."""
        self.released.wait(seconds)

    @staticmethod
    def hang_up() -> None:
        """Close the request's connection without a byte of answer (call it while serving a request)."""
        connection = request.environ.get("werkzeug.socket")
        assert isinstance(connection, socket.socket)
        connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def serving(fake: Fake) -> Iterator[Fake]:
    """The fake, started for the duration of the block."""
    with fake:
        yield fake


@dataclass
class Switches:
    """How a fake answers its next calls."""

    # Answer the next N posts with a 429.
    rate_limited: int = 0
    # Answer the next N posts with this status (a 5xx, or a 504 from a gateway) instead of posting.
    fail_status: int | None = None
    fail_body: str | None = None
    fail_times: int = 0
    # Accept (store) the next post, then hold the answer back until the client gives up.
    stall_after_storing: bool = False
    # How many posts the bucket allows before announcing it is empty (Discord's X-RateLimit-Remaining).
    bucket: int = 5
    bucket_reset_after: float = 0.05
