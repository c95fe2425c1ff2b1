"""A Discord webhook, from the URL that is its credential, and the messages it sends: their ids and
addresses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.networks.ports import PublishedPart
from shared.networks.toolkit.answers import as_utc

APP_URL = "https://discord.com/channels"
WEBHOOK_URL = re.compile(
    r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/(?P<id>\d{1,25})/(?P<token>[\w-]{1,200})/?"
)
SNOWFLAKE = re.compile(r"\d{1,25}")


@dataclass(frozen=True)
class Webhook:
    """The parts of a webhook URL; the token is the secret."""

    id: str
    token: str

    def __repr__(self) -> str:
        return f"Webhook(id={self.id!r}, token=[redacted])"


def parse_webhook_url(url: object) -> Webhook | None:
    """The webhook a Discord webhook URL names, or None if it is not one."""
    if not isinstance(url, str):
        return None
    match = WEBHOOK_URL.fullmatch(url.strip())
    return Webhook(match["id"], match["token"]) if match else None


def _reference(message: Mapping[str, Any], in_thread: bool) -> str:
    """The external id: the message id, prefixed by its thread's id when it is in one (delete needs it)."""
    return f"{message['channel_id']}/{message['id']}" if in_thread else str(message["id"])


def message_part(message: Mapping[str, Any], guild_id: str | None, in_thread: bool) -> PublishedPart:
    """A sent message as one part of a delivery, dated by Discord's `timestamp`."""
    try:
        created_at: datetime | None = as_utc(datetime.fromisoformat(str(message["timestamp"])))
    except (KeyError, ValueError):
        created_at = None
    return PublishedPart(
        external_id=_reference(message, in_thread),
        url=_message_address(guild_id, message),
        created_at=created_at,
    )


def _message_address(guild_id: str | None, message: Mapping[str, Any]) -> str:
    if guild_id is None:
        return ""
    return f"{APP_URL}/{guild_id}/{message['channel_id']}/{message['id']}"
