"""Discord's webhook endpoints, faked over real HTTP on 127.0.0.1 (tests/networks/fake_servers.py)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from typing import Any

from flask import Flask, Response, request

from tests.networks.fake_servers import FakeServer, Switches


class FakeDiscord(FakeServer):
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
        super().__init__(self._build())

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
                self.stall()
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
