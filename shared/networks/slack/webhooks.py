"""A Slack incoming webhook, from the URL that is its credential, and the text as Slack shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass

WEBHOOK_URL = re.compile(
    r"https://hooks\.slack(?:-gov)?\.com(?P<path>/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)/?"
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
