"""A fake of a workspace's webhook receiver: a threaded http.server on 127.0.0.1 that keeps every request.

It answers 200 unless told otherwise: a test scripts its next answers (a 500, a 429 with Retry-After, a
410, a 400, or a hang until the client gives up). `is_signed_with` is the check the contract in
shared/notifications/sending.py asks receivers to make.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How long a hanging answer waits at most; stopping the receiver releases it sooner.
HANG_SECONDS = 10.0


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    # Hold the answer back until the client has given up (or the receiver stops).
    hang: bool = False


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def is_signed_with(self, secret: str) -> bool:
        """The receiver's check: HMAC-SHA256 of the exact body bytes, compared in constant time."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("X-Crier-Signature", ""))


class ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    # Concurrent senders open dozens of connections at once; http.server's backlog of 5 would refuse some.
    request_queue_size = 128
    # Connections accepted, whatever came over them: a test that nothing connected at all reads it.
    accepted = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.accepted += 1
        return True


class Receiver:
    """Records every POST; answers from its script, then 200."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.script: deque[Answer] = deque()
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/crier"

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def connections(self) -> int:
        """How many connections were made to the receiver, whether or not a request came over them."""
        return self._server.accepted

    def answer(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order."""
        with self._lock:
            self.script.extend(answers)

    def _next_answer(self, request: ReceivedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            return self.script.popleft() if self.script else Answer()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = receiver._next_answer(ReceivedRequest(self.path, dict(self.headers.items()), body))
                if answer.hang:
                    receiver.released.wait(HANG_SECONDS)
                data = answer.body.encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up on a hanging answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the tests read self.requests

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
