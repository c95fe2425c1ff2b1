"""The `slack` network's adapter: a post as one message of a channel's incoming webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from shared.config import Settings
from shared.networks.outbound import DEFAULT_TIMEOUT, Outbound
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    NetworkInfo,
    Profile,
    PublishedPost,
    Rejected,
    TextPreview,
)
from shared.networks.slack.webhooks import IncomingWebhook, escape, parse_webhook_url
from shared.networks.toolkit.answers import network_words
from shared.networks.toolkit.calls import Calls, Dialect
from shared.networks.toolkit.parts import InOneRequest
from shared.networks.toolkit.settings import unknown_options
from shared.networks.toolkit.write_only import WriteOnly
from shared.text.slack import SLACK_TEXT_LIMIT, slack_length

# The answers that mean the webhook itself no longer works: removed, its app or workspace gone, its
# channel deleted or archived. Every later post would fail the same way until the channel is reconnected.
WEBHOOK_GONE = frozenset(
    {
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "invalid_token",
        "channel_not_found",
        "channel_is_archived",
    }
)


class SlackDialect(Dialect):
    """Slack answers a refusal in plain text: a code such as `no_service` or `invalid_payload`."""

    def credentials_refused(self, response: httpx.Response) -> bool:
        return network_words(response) in WEBHOOK_GONE


class SlackNetwork(WriteOnly, InOneRequest):
    """The `slack` network's adapter."""

    cannot_look_up = "an incoming webhook cannot read the channel"
    info = NetworkInfo(
        name="slack",
        display_name="Slack",
        text_limit=SLACK_TEXT_LIMIT,
        # Counted as sent, after escaping: "&" goes out as "&amp;", five characters.
        text_unit="characters (UTF-16 code units)",
        metrics=(),
        # An incoming webhook cannot reply in a thread: it gets no message timestamp to reply to.
        supports_threads=False,
        credential_keys=("webhook_url",),
        can_find_published=False,
    )

    SETTINGS = ("slack_markup",)

    def __init__(
        self,
        outbound: Outbound | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        hooks_base: str | None = None,
    ) -> None:
        self._calls = Calls(outbound or Outbound(), timeout, dialect=SlackDialect())
        # CRIER_SLACK_HOOKS_URL (a proxy, a test's fake); unset, each webhook URL's own Slack host.
        self._hooks_base = hooks_base.rstrip("/") if hooks_base else None

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackNetwork:
        return cls(Outbound.from_settings(settings), hooks_base=settings.slack_hooks_url)

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = unknown_options(settings, self.SETTINGS)
        if "slack_markup" in settings and not isinstance(settings["slack_markup"], bool):
            problems.append("slack_markup must be true or false")
        return problems

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the credentials' shape, without calling Slack."""
        if parse_webhook_url(credentials.get("webhook_url")) is None:
            return ["webhook_url must be a Slack incoming webhook URL (https://hooks.slack.com/services/…)"]
        return []

    def validate(self, draft: Draft) -> list[str]:
        return _problems(draft, escape(draft.text))

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        text = self._as_sent(account, draft.text)
        return [
            TextPreview(
                text=text,
                length=slack_length(text),
                limit=SLACK_TEXT_LIMIT,
                problems=tuple(_problems(draft, text)),
            )
        ]

    def publish_whole(self, account: Account, draft: Draft, idempotency_key: str) -> PublishedPost:
        webhook = self._webhook(account)
        text = self._as_sent(account, draft.text)
        problems = self.check_settings(account.settings) + _problems(draft, text)
        if problems:
            raise Rejected("Slack: not sent: " + "; ".join(problems))
        secrets = [webhook.secret]
        response = self._calls.send(
            "POST", self._url(webhook), what="Slack", write=True, secrets=secrets, json={"text": text}
        )
        self._calls.check(response, what="Slack", write=True, secrets=secrets)
        # Slack gives no id or link: the key stands in, so the delivery still records an id.
        return PublishedPost(external_id=idempotency_key, url="")

    def delete(self, account: Account, external_id: str) -> None:
        raise Rejected("Slack: an incoming webhook cannot delete its messages; delete it in Slack.")

    def verify(self, account: Account) -> Profile:
        # Slack offers no read-only call for an incoming webhook, and any POST that Slack accepts posts a
        # message. So only the URL's shape is checked here; the first post proves it works (a revoked
        # webhook answers no_service, and the channel asks to be reconnected).
        self._webhook(account)
        return Profile(handle=account.handle)

    def _webhook(self, account: Account) -> IncomingWebhook:
        webhook = parse_webhook_url(account.credentials.get("webhook_url"))
        if webhook is None:
            raise AuthExpired("Slack: the channel's webhook URL is missing or malformed; reconnect it.")
        return webhook

    def _url(self, webhook: IncomingWebhook) -> str:
        return (self._hooks_base or webhook.base) + webhook.path

    @staticmethod
    def _as_sent(account: Account, text: str) -> str:
        return text if account.settings.get("slack_markup") is True else escape(text)


def _problems(draft: Draft, text: str) -> list[str]:
    problems = []
    if not text.strip():
        problems.append("the text is empty")
    elif slack_length(text) > SLACK_TEXT_LIMIT:
        problems.append(f"the text is {slack_length(text)} characters long; Slack allows {SLACK_TEXT_LIMIT}")
    if draft.thread:
        problems.append("a Slack incoming webhook cannot post a thread: send the items as separate posts")
    if draft.media:
        problems.append("a Slack incoming webhook takes no uploads: remove the media")
    return problems
