"""A receiver of the `webhook` network's posts, faked over real HTTP on 127.0.0.1 (see
tests/networks/fake_servers.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request

from tests.networks.fake_servers import FakeServer, Switches


@dataclass
class Received:
    """One request the receiver accepted."""

    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FakePostReceiver(FakeServer):
    """A receiver of the `webhook` network's posts, as shared/networks/post_receiver's docstring specifies.

    It checks the X-Crier-Signature (HMAC-SHA256 of the body with the shared secret, compared in constant
    time) and answers 401 when it does not match, dedupes on `Idempotency-Key` (a repeat answers the first
    answer), and answers with a JSON `{"id", "url"}` unless told to answer with a plain body.
    """

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.switches = Switches()
        self.received: list[Received] = []
        # How it answers a post it took: its status, and a body of its own instead of `{"id", "url"}`.
        self.answer_status = 201
        self.answer_body: str | None = None
        self.answer_headers: dict[str, str] = {}
        # The answer given for each Idempotency-Key, given again to a repeat.
        self.answers: dict[str, dict[str, str]] = {}
        super().__init__(self._build())

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/crier"

    def _build(self) -> Flask:
        app = Flask("fake-receiver")

        @app.post("/hooks/crier")
        def receive() -> Response:
            body = request.get_data()
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, request.headers.get("X-Crier-Signature", "")):
                return Response("bad signature", status=401)
            switches = self.switches
            if switches.rate_limited:
                switches.rate_limited -= 1
                return Response("slow down", status=429, headers={"Retry-After": "7"})
            if switches.fail_times:
                switches.fail_times -= 1
                return Response("upstream trouble", status=switches.fail_status or 500)
            key = request.headers.get("Idempotency-Key", "")
            self.received.append(Received(body, dict(request.headers)))
            if switches.stall_after_storing:
                switches.stall_after_storing = False
                self.stall()
            if self.answer_body is not None:
                return Response(self.answer_body, status=self.answer_status, headers=self.answer_headers)
            answer = self.answers.setdefault(
                key,
                {
                    "id": f"r-{len(self.answers) + 1}",
                    "url": f"https://receiver.example/p/{len(self.answers) + 1}",
                },
            )
            return Response(json.dumps(answer), status=self.answer_status, mimetype="application/json")

        return app
