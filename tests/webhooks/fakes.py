"""Faithful fakes of the webhook receivers Crier posts to, each a small Flask app on 127.0.0.1.

Each runs in a real HTTP server (werkzeug's, on a free port, in a thread), so the adapters are tested over
real connections: their timeouts, their error classes and their headers are the ones production sees. Each
fake keeps what it accepted, so a test can tell "refused" from "posted", and can be told to fail the ways
the real service fails, including accepting a message and then stalling until the client gives up.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

# How long a stalled answer waits at most; the server's stop releases it sooner.
STALL_SECONDS = 10.0


class FakeServer:
    """A Flask app served on 127.0.0.1 in a thread, until stop()."""

    def __init__(self, app: Flask) -> None:
        self.released = threading.Event()
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        # A short poll keeps stop() quick: each test starts and stops its own server.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def stall(self) -> None:
        """Hold the answer back until the client has given up (or the server stops)."""
        self.released.wait(STALL_SECONDS)


@contextmanager
def serving(fake: Any) -> Iterator[Any]:
    """Run a fake's app for the duration of the block; the fake learns its base_url."""
    server = FakeServer(fake.app)
    fake.server = server
    fake.base_url = server.base_url
    server.start()
    try:
        yield fake
    finally:
        server.stop()


def free_port() -> int:
    """A port nothing listens on (it was free a moment ago): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def hanging_up_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads each request whole and closes the connection without answering.

    Yields its base URL and the requests it read, so a test can see the request did arrive.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stopping = threading.Event()
    received: list[bytes] = []

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                with suppress(OSError):
                    received.append(_read_request(connection))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()


def _read_request(connection: socket.socket) -> bytes:
    """The whole request, so that closing afterwards is a clean hang-up, not a reset."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


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


class FakeDiscord:
    """Discord's webhook endpoints, as its developer documentation describes them.

    Follows: Webhook Resource (Get Webhook with Token answers the webhook object without `user`; Execute
    Webhook answers 204 unless `?wait=true`, then the created message object; `thread_id` posts into a thread
    and unknown ones answer 10003 Unknown Channel; `thread_name` opens a thread in a forum channel; content
    up to 2000 characters, otherwise 400 with code 50035 Invalid Form Body and a nested `errors` object; an
    empty message is code 50006; Get, Edit (PATCH, answering the message with `edited_timestamp`) and
    Delete Webhook Message, 404 code 10008 Unknown Message), Rate Limits
    (429 with JSON `message`, `retry_after`, `global`, and headers Retry-After, X-RateLimit-Limit,
    -Remaining, -Reset, -Reset-After, -Bucket, -Scope), Opcodes and Status Codes (10015 Unknown Webhook for
    a deleted webhook, 401 with 50027 Invalid Webhook Token for a wrong token).
    """

    def __init__(self) -> None:
        self.server: FakeServer
        self.base_url = ""
        self.switches = Switches()
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.forum_channels: set[str] = set()
        self.threads: dict[str, str] = {}  # thread id → parent channel id
        self.executions: list[dict[str, Any]] = []
        self.edits: list[str] = []  # the id of each message edited, once per edit
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self._lock = threading.Lock()
        self._remaining: dict[str, int] = {}
        self.app = self._build()

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    def snowflake(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def add_webhook(self, name: str = "Crier", *, forum: bool = False) -> str:
        """A new incoming webhook in a new channel; its URL as Discord shows it."""
        webhook_id, channel_id, guild_id = self.snowflake(), self.snowflake(), self.snowflake()
        token = hashlib.sha256(webhook_id.encode()).hexdigest() + "-Tk_" + webhook_id[-6:]
        self.webhooks[webhook_id] = {
            "id": webhook_id,
            "type": 1,
            "name": name,
            "avatar": None,
            "channel_id": channel_id,
            "guild_id": guild_id,
            "application_id": None,
            "token": token,
        }
        if forum:
            self.forum_channels.add(channel_id)
        return f"https://discord.com/api/webhooks/{webhook_id}/{token}"

    def add_thread(self, webhook_url: str) -> str:
        webhook_id = webhook_url.rstrip("/").split("/")[-2]
        thread_id = self.snowflake()
        self.threads[thread_id] = self.webhooks[webhook_id]["channel_id"]
        return thread_id

    def delete_webhook(self, webhook_url: str) -> None:
        self.webhooks[webhook_url.rstrip("/").split("/")[-2]]["deleted"] = True

    def _build(self) -> Flask:
        app = Flask("fake-discord")

        def error(status: int, code: int, message: str, **extra: Any) -> Response:
            body = {"message": message, "code": code, **extra}
            return Response(json.dumps(body), status=status, mimetype="application/json")

        def find(webhook_id: str, token: str) -> dict[str, Any] | Response:
            webhook = self.webhooks.get(webhook_id)
            if webhook is None or webhook.get("deleted"):
                return error(404, 10015, "Unknown Webhook")
            if not hmac.compare_digest(webhook["token"], token):
                return error(401, 50027, "Invalid Webhook Token")
            return webhook

        @app.get("/api/v10/webhooks/<webhook_id>/<token>")
        def get_webhook(webhook_id: str, token: str) -> Response:
            found = find(webhook_id, token)
            if isinstance(found, Response):
                return found
            shown = {key: value for key, value in found.items() if key != "deleted"}
            return Response(json.dumps(shown), mimetype="application/json")

        @app.post("/api/v10/webhooks/<webhook_id>/<token>")
        def execute(webhook_id: str, token: str) -> Response:
            found = find(webhook_id, token)
            if isinstance(found, Response):
                return found
            switches = self.switches
            if switches.rate_limited:
                switches.rate_limited -= 1
                return Response(
                    json.dumps(
                        {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}
                    ),
                    status=429,
                    mimetype="application/json",
                    headers={
                        "Retry-After": "1",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": f"{time.time() + 0.2:.3f}",
                        "X-RateLimit-Reset-After": "0.2",
                        "X-RateLimit-Bucket": "fakebucket",
                        "X-RateLimit-Scope": "shared",
                    },
                )
            if switches.fail_times:
                switches.fail_times -= 1
                return error(switches.fail_status or 500, 0, "500: Internal Server Error")
            payload = request.get_json(silent=True)
            if not isinstance(payload, dict):
                return error(400, 50109, "The request body contains invalid JSON.")
            content = payload.get("content")
            if not content:
                return error(400, 50006, "Cannot send an empty message")
            if len(content) > 2000:
                return error(
                    400,
                    50035,
                    "Invalid Form Body",
                    errors={
                        "content": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 2000 or fewer in length.",
                                }
                            ]
                        }
                    },
                )
            channel_id = found["channel_id"]
            thread_id = request.args.get("thread_id")
            if thread_id is not None:
                if self.threads.get(thread_id) != channel_id:
                    return error(404, 10003, "Unknown Channel")
                channel_id = thread_id
            elif found["channel_id"] in self.forum_channels:
                if not payload.get("thread_name"):
                    return error(
                        400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
                    )
                channel_id = self.snowflake()
                self.threads[channel_id] = found["channel_id"]
            message = {
                "id": self.snowflake(),
                "type": 0,
                "content": content,
                "channel_id": channel_id,
                "webhook_id": webhook_id,
                "author": {
                    "id": webhook_id,
                    "username": payload.get("username") or found["name"],
                    "bot": True,
                },
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            }
            self.messages[message["id"]] = message
            self.executions.append({"payload": payload, "args": dict(request.args)})
            if switches.stall_after_storing:
                switches.stall_after_storing = False
                self.server.stall()
            headers = self._bucket_headers(webhook_id)
            if request.args.get("wait") != "true":
                return Response(status=204, headers=headers)
            return Response(json.dumps(message), mimetype="application/json", headers=headers)

        @app.get("/api/v10/webhooks/<webhook_id>/<token>/messages/<message_id>")
        def get_message(webhook_id: str, token: str, message_id: str) -> Response:
            found = find(webhook_id, token)
            if isinstance(found, Response):
                return found
            message = self._message_of(webhook_id, message_id, request.args.get("thread_id"))
            if message is None:
                return error(404, 10008, "Unknown Message")
            return Response(json.dumps(message), mimetype="application/json")

        @app.patch("/api/v10/webhooks/<webhook_id>/<token>/messages/<message_id>")
        def edit_message(webhook_id: str, token: str, message_id: str) -> Response:
            # Edit Webhook Message: the message with its new content and `edited_timestamp`.
            found = find(webhook_id, token)
            if isinstance(found, Response):
                return found
            message = self._message_of(webhook_id, message_id, request.args.get("thread_id"))
            if message is None:
                return error(404, 10008, "Unknown Message")
            payload = request.get_json(silent=True)
            if not isinstance(payload, dict) or len(str(payload.get("content", ""))) > 2000:
                return error(400, 50035, "Invalid Form Body")
            if "content" in payload:
                message["content"] = payload["content"]
            message["edited_timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            self.edits.append(message_id)
            return Response(json.dumps(message), mimetype="application/json")

        @app.delete("/api/v10/webhooks/<webhook_id>/<token>/messages/<message_id>")
        def delete_message(webhook_id: str, token: str, message_id: str) -> Response:
            found = find(webhook_id, token)
            if isinstance(found, Response):
                return found
            if self._message_of(webhook_id, message_id, request.args.get("thread_id")) is None:
                return error(404, 10008, "Unknown Message")
            del self.messages[message_id]
            return Response(status=204)

        return app

    def _message_of(self, webhook_id: str, message_id: str, thread_id: str | None) -> dict[str, Any] | None:
        message = self.messages.get(message_id)
        if message is None or message["webhook_id"] != webhook_id:
            return None
        # A message in a thread is only found when the thread is named, as on Discord.
        in_thread = message["channel_id"] in self.threads
        if in_thread != (thread_id is not None) or (thread_id and message["channel_id"] != thread_id):
            return None
        return message

    def _bucket_headers(self, webhook_id: str) -> dict[str, str]:
        with self._lock:
            remaining = self._remaining.get(webhook_id, self.switches.bucket) - 1
            if remaining <= 0:
                self._remaining[webhook_id] = self.switches.bucket
                remaining = 0
            else:
                self._remaining[webhook_id] = remaining
        return {
            "X-RateLimit-Limit": str(self.switches.bucket),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": str(self.switches.bucket_reset_after),
            "X-RateLimit-Bucket": "fakebucket",
        }


class FakeSlack:
    """Slack's incoming webhooks, as Slack's documentation describes them.

    Follows: "Sending messages using incoming webhooks" (POST JSON with `text` to
    /services/T…/B…/…; 200 with the body `ok`; errors as plain-text codes: invalid_payload and no_text (400),
    invalid_token (403), no_service for a removed or disabled webhook (404), channel_is_archived (410),
    rollup_error (500)), the changelog "Improving error conditions for Incoming Webhooks" (2016-05-17), and
    "Rate limits" (one message per second per webhook, then 429 with Retry-After).
    """

    def __init__(self) -> None:
        self.server: FakeServer
        self.base_url = ""
        self.switches = Switches()
        self.hooks: dict[str, dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []
        self.app = self._build()

    def add_webhook(self, channel: str = "#general") -> str:
        number = len(self.hooks) + 1
        path = f"/services/T0{number:07d}/B0{number:07d}/{hashlib.sha256(channel.encode()).hexdigest()[:24]}"
        self.hooks[path] = {"channel": channel, "revoked": False, "archived": False}
        return f"https://hooks.slack.com{path}"

    def revoke(self, url: str) -> None:
        self.hooks[url.removeprefix("https://hooks.slack.com")]["revoked"] = True

    def archive(self, url: str) -> None:
        self.hooks[url.removeprefix("https://hooks.slack.com")]["archived"] = True

    def _build(self) -> Flask:
        app = Flask("fake-slack")

        def plain(status: int, body: str, **headers: str) -> Response:
            return Response(body, status=status, mimetype="text/html", headers=headers)

        @app.post("/services/<team>/<bot>/<secret>")
        def incoming(team: str, bot: str, secret: str) -> Response:
            hook = self.hooks.get(f"/services/{team}/{bot}/{secret}")
            if hook is None or hook["revoked"]:
                return plain(404, "no_service")
            if hook["archived"]:
                return plain(410, "channel_is_archived")
            switches = self.switches
            if switches.rate_limited:
                switches.rate_limited -= 1
                return plain(429, "rate_limited", **{"Retry-After": "30"})
            if switches.fail_times:
                switches.fail_times -= 1
                return plain(switches.fail_status or 500, switches.fail_body or "rollup_error")
            try:
                payload = json.loads(request.get_data())
            except ValueError:
                return plain(400, "invalid_payload")
            if not isinstance(payload, dict):
                return plain(400, "invalid_payload")
            if not payload.get("text") and not payload.get("blocks") and not payload.get("attachments"):
                return plain(400, "no_text")
            self.posted.append({"channel": hook["channel"], **payload})
            if switches.stall_after_storing:
                switches.stall_after_storing = False
                self.server.stall()
            return plain(200, "ok")

        return app


@dataclass
class Received:
    """One request the receiver accepted."""

    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeReceiver:
    """A receiver of Crier's generic webhook, as shared/networks/webhook.py's docstring specifies it.

    It checks the X-Crier-Signature (HMAC-SHA256 of the body with the shared secret, compared in constant
    time) and answers 401 when it does not match, dedupes on `Idempotency-Key` (a repeat answers the first
    answer), and answers with a JSON `{"id", "url"}` unless told to answer with a plain body.
    """

    secret: str
    server: FakeServer = field(init=False)
    base_url: str = ""
    switches: Switches = field(default_factory=Switches)
    received: list[Received] = field(default_factory=list)
    answer_status: int = 201
    answer_body: str | None = None
    answer_headers: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = self._build()

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
                self.server.stall()
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
