"""A message the bot sent: its id as Crier keeps it, and its address.

A message is named by its chat's numeric id and its own (`-1001234567890/42`): Telegram's message ids are
counted per chat, and a channel's @username may change while its numeric id does not. An album
(sendMediaGroup) is several messages, named together (`-1001234567890/42,43,44`), so that deleting it
removes every one; its first carries the caption, and replies and edits go to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.networks.ports import PublishedPart
from shared.networks.toolkit.answers import identifier

APP_URL = "https://t.me"
_EXTERNAL_ID = re.compile(r"(?P<chat>-?\d{1,20})/(?P<messages>\d{1,12}(?:,\d{1,12}){0,9})")
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


@dataclass(frozen=True)
class SentMessages:
    """The messages one part of a delivery is: one, or an album's."""

    chat_id: int
    message_ids: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.message_ids[0]

    @property
    def external_id(self) -> str:
        return f"{self.chat_id}/{','.join(str(message_id) for message_id in self.message_ids)}"


def parse_external_id(external_id: str) -> SentMessages | None:
    """The messages an external id names, or None if it is not one this adapter made."""
    match = _EXTERNAL_ID.fullmatch(external_id)
    if match is None:
        return None
    return SentMessages(int(match["chat"]), tuple(int(part) for part in match["messages"].split(",")))


def message_address(chat: Mapping[str, Any], message_id: int) -> str:
    """The message's t.me link: by the channel's or group's @username when it has one, else the private
    `/c/` form, which opens only for members; none for a private chat, whose messages have no link."""
    if chat.get("type") == "private":
        return ""
    username = chat.get("username")
    if isinstance(username, str) and _USERNAME.fullmatch(username):
        return f"{APP_URL}/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    # A channel's or supergroup's id is -100 followed by the id t.me/c/ links use.
    if chat_id.startswith("-100") and chat_id[4:].isdigit():
        return f"{APP_URL}/c/{chat_id[4:]}/{message_id}"
    return ""


def sent_part(messages: list[Mapping[str, Any]]) -> PublishedPart:
    """One part of a delivery from the Message objects Telegram answered (one, or an album's in order).

    Read inside the toolkit's `reading` block: a field missing or of the wrong type is a malformed answer.
    """
    if not messages:
        raise ValueError("no message in the answer")
    chat = messages[0]["chat"]
    chat_id = int(identifier(chat["id"]))
    ids = tuple(int(identifier(message["message_id"])) for message in messages)
    date = messages[0].get("date")
    created_at = (
        datetime.fromtimestamp(date, UTC) if isinstance(date, int) and not isinstance(date, bool) else None
    )
    return PublishedPart(
        external_id=SentMessages(chat_id, ids).external_id,
        url=message_address(chat, ids[0]),
        created_at=created_at,
    )
