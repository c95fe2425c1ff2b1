"""Slack's incoming webhooks, faked over real HTTP on 127.0.0.1 (tests/networks/fake_servers.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Flask, Response, request

from tests.networks.fake_servers import FakeServer, Switches


class FakeSlack(FakeServer):
    """Slack's incoming webhooks, as Slack's documentation describes them.

    Follows: "Sending messages using incoming webhooks" (POST JSON with `text` to
    /services/T…/B…/…; 200 with the body `ok`; errors as plain-text codes: invalid_payload and no_text (400),
    invalid_token (403), no_service for a removed or disabled webhook (404), channel_is_archived (410),
    rollup_error (500)), the changelog "Improving error conditions for Incoming Webhooks" (2016-05-17), and
    "Rate limits" (one message per second per webhook, then 429 with Retry-After).
    """

    def __init__(self) -> None:
        self.switches = Switches()
        self.hooks: dict[str, dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []
        super().__init__(self._build())

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
                self.stall()
            return plain(200, "ok")

        return app
