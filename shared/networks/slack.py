"""Slack: posts through a channel's incoming webhook.

Follows Slack's documentation: "Sending messages using incoming webhooks" (POST `{"text": …}` as JSON to the
hooks.slack.com URL; a success answers 200 `ok`; failures answer a plain-text code: invalid_payload,
no_text, too_many_attachments, user_not_found (400), action_prohibited, posting_to_general_channel_denied,
invalid_token (403), channel_not_found, no_service, no_team, team_disabled (404), channel_is_archived (410),
rollup_error (500)), the changelog "Improving error conditions for Incoming Webhooks" (2016-05-17, the
status codes for those strings), "Rate limits" (incoming webhooks: one message per second, short bursts;
beyond that a 429 with Retry-After), and "Formatting text for app surfaces" (&, < and > are control
characters, escaped as &amp; &lt; &gt;).

An incoming webhook answers `ok` and nothing more: no message id, no timestamp. So Crier cannot link to the
message, find it after an uncertain attempt, delete it, or read its reactions.

The webhook URL is the credential. It is checked to be a Slack hooks URL, so a stored value can never send a
request elsewhere, and it never appears in an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
)
from shared.networks.toolkit.answers import network_words, refusal
from shared.networks.toolkit.calls import keep_secrets_out_of_http_logs, transport_failure
from shared.networks.toolkit.write_only import WriteOnly
from shared.text.slack import SLACK_TEXT_LIMIT, slack_length

HOOKS_BASE = "https://hooks.slack.com"
WEBHOOK_URL = re.compile(
    r"https://hooks\.slack(?:-gov)?\.com(?P<path>/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)/?"
)
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


@dataclass(frozen=True)
class IncomingWebhook:
    """A Slack incoming webhook; its path holds the secret."""

    base: str
    path: str

    def __repr__(self) -> str:
        return "IncomingWebhook([redacted])"

    @property
    def secret(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def parse_webhook_url(url: object) -> IncomingWebhook | None:
    """The incoming webhook a Slack hooks URL names, or None if it is not one."""
    if not isinstance(url, str):
        return None
    match = WEBHOOK_URL.fullmatch(url.strip())
    if match is None:
        return None
    return IncomingWebhook(base=url.strip()[: match.start("path")], path=match["path"])


def escape(text: str) -> str:
    """The text as Slack shows it literally: & < > escaped, so `<!channel>` cannot ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNetwork(WriteOnly):
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
        keep_secrets_out_of_http_logs()
        self._http = (outbound or Outbound()).client(timeout)
        # Tests point this at a fake; in production each URL's own Slack host is used.
        self._hooks_base = hooks_base.rstrip("/") if hooks_base else None

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackNetwork:
        return cls(Outbound.from_settings(settings))

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = [f"unknown option {key!r}" for key in settings if key not in self.SETTINGS]
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

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        webhook = self._webhook(account)
        text = self._as_sent(account, draft.text)
        problems = self.check_settings(account.settings) + _problems(draft, text)
        if problems:
            raise Rejected("Slack: not sent: " + "; ".join(problems))
        try:
            response = self._http.post(self._url(webhook), json={"text": text})
        except httpx.TransportError as error:
            raise transport_failure(error, what="Slack", secrets=[webhook.secret]) from None
        status = response.status_code
        if 200 <= status < 300:
            # Slack gives no id or link: the key stands in, so the delivery still records an id.
            return PublishedPost(external_id=idempotency_key, url="")
        # Slack answers a refusal in plain text: a code such as `no_service` or `invalid_payload`.
        code = network_words(response, secrets=[webhook.secret])
        raise refusal(
            response,
            what="Slack",
            write=True,
            words=code,
            credentials_refused=code in WEBHOOK_GONE,
            secrets=[webhook.secret],
        )

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
