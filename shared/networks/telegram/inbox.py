"""What people say to the channel, read from the bot's updates: comments, replies, mentions, messages.

A channel's comments live in its linked discussion group (getChat's `linked_chat_id`): Telegram copies
each channel post there as an automatic forward (`is_automatic_forward`, with `forward_origin` naming the
channel post), and a comment is a group message in that post's thread (`message_thread_id`), replying to
the forward or to another comment. The bot receives them as `message` updates when it is an administrator
of the group (a bot in privacy mode gets only replies to itself and mentions of it).

Read as entries of the channel's inbox:
- REPLY: a comment in the thread of a channel post, or a message in a group answering the bot's own;
- MENTION: a group message naming the bot or the channel by @username;
- DIRECT_MESSAGE: a private message to the bot.
The channel's and the bot's own messages (the automatic forwards included) and the group's other talk
are left out.

A message is named as the adapter names the messages it sends (`<chat id>/<message id>`), so a reply to
the bot's answer in the group matches the delivery that made it; and a comment answering a channel post
names the post in the channel (from the forward's origin), not its copy in the group. Telegram nests one
reply level only: a comment answering another comment does not say which post its thread hangs on, so its
`thread_root` is left unknown.

The position is the next update's id (`{"offset": N}`), passed as getUpdates' `offset`, which confirms
every update before it (see shared.networks.telegram.updates). Crier passes the position back only once it
stored the page read with it: so an update is confirmed by the read after the one that stored it, and a
page read but not stored (a crash in between) is read again, never lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.networks.inbox import Author, InboxEntry
from shared.networks.ports import InboxKind, Rejected, ReplyTarget
from shared.networks.telegram.messages import APP_URL, SentMessages, message_address
from shared.networks.toolkit.answers import identifier
from shared.text.telegram import code_point_index

# The reaction `like` sets: one emoji, as a bot may set one reaction a message.
LIKE_EMOJI = "\U0001f44d"


@dataclass(frozen=True)
class Scene:
    """Who is who in the bot's updates: the channel, its discussion group (if linked), and the bot."""

    channel_id: int
    channel_username: str | None
    group_id: int | None
    bot_id: int
    bot_username: str

    def names(self) -> set[str]:
        """The @usernames a mention of the account may use, lower-cased."""
        return {name.lower() for name in (self.bot_username, self.channel_username) if name}


def offset_of(position: str) -> int:
    """The update id a stored position asks from; Rejected for a position this adapter did not make."""
    try:
        offset = json.loads(position)["offset"]
    except (ValueError, TypeError, KeyError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise Rejected(f"Telegram: {position[:80]!r} is not an inbox position this adapter made")
    return offset


def position_at(offset: int) -> str:
    return json.dumps({"offset": offset}, separators=(",", ":"))


def entry_of(message: Mapping[str, Any], scene: Scene) -> InboxEntry | None:
    """The inbox entry a message is to the channel; None when it says nothing to it.

    Read inside the toolkit's `reading` block: a field missing or of the wrong type is a malformed answer.
    """
    kind = kind_of(message, scene)
    if kind is None:
        return None
    chat = message["chat"]
    chat_id, message_id = int(identifier(chat["id"])), int(identifier(message["message_id"]))
    external_id = SentMessages(chat_id, (message_id,)).external_id
    ref: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
    # sendMessage takes message_thread_id in forum topics only; elsewhere a reply stays in its thread.
    if message.get("is_topic_message") is True and isinstance(message.get("message_thread_id"), int):
        ref["message_thread_id"] = message["message_thread_id"]
    text = message.get("text") or message.get("caption") or ""
    in_reply_to, thread_root = _answered(message, scene)
    return InboxEntry(
        external_id=external_id,
        kind=kind,
        author=author_of(message),
        text=str(text),
        # Telegram's text is plain; formatting comes apart, in entities.
        plain_text=str(text),
        url=message_address(chat, message_id) or None,
        created_at=datetime.fromtimestamp(int(message["date"]), UTC),
        reply_target=ReplyTarget(external_id, ref),
        in_reply_to=in_reply_to,
        thread_root=thread_root,
        raw=message,
    )


def kind_of(message: Mapping[str, Any], scene: Scene) -> InboxKind | None:
    """What a message is to the channel, or None: its own, or talk in a group not addressed to it."""
    chat = message["chat"]
    if _by_the_account(message, scene):
        return None
    if chat.get("type") == "private":
        return InboxKind.DIRECT_MESSAGE
    if chat.get("type") not in ("group", "supergroup"):
        return None
    parent = message.get("reply_to_message")
    if isinstance(parent, Mapping) and (
        _from_bot(parent, scene) or _channel_post_copy(parent, scene) is not None
    ):
        return InboxKind.REPLY
    in_post_thread = (
        chat.get("id") == scene.group_id
        and isinstance(message.get("message_thread_id"), int)
        and message.get("is_topic_message") is not True
    )
    if in_post_thread:
        return InboxKind.REPLY
    if _mentions(message, scene):
        return InboxKind.MENTION
    return None


def author_of(message: Mapping[str, Any]) -> Author:
    """Who wrote it: a person (`from`), or a chat writing as itself (`sender_chat`: a channel, a group's
    anonymous administrator). Bots cannot read profile photos as addresses: no avatar."""
    sender_chat = message.get("sender_chat")
    if isinstance(sender_chat, Mapping):
        username = sender_chat.get("username")
        title = sender_chat.get("title")
        return Author(
            handle=f"@{username}" if username else identifier(sender_chat["id"]),
            display_name=str(title) if title else None,
            url=f"{APP_URL}/{username}" if username else None,
        )
    user = message["from"]
    username = user.get("username")
    name = " ".join(str(part) for part in (user.get("first_name"), user.get("last_name")) if part)
    return Author(
        handle=f"@{username}" if username else identifier(user["id"]),
        display_name=name or None,
        url=f"{APP_URL}/{username}" if username else None,
    )


def _answered(message: Mapping[str, Any], scene: Scene) -> tuple[str | None, str | None]:
    """The external ids of the message it answers and of its thread's first post, where Telegram says."""
    parent = message.get("reply_to_message")
    if not isinstance(parent, Mapping):
        return None, None
    post = _channel_post_copy(parent, scene)
    if post is not None:
        return post, post
    chat_id = int(identifier(message["chat"]["id"]))
    return SentMessages(chat_id, (int(identifier(parent["message_id"])),)).external_id, None


def _channel_post_copy(message: Mapping[str, Any], scene: Scene) -> str | None:
    """The channel post's external id, when the message is its automatic forward to the discussion group."""
    origin = message.get("forward_origin")
    if message.get("is_automatic_forward") is not True or not isinstance(origin, Mapping):
        return None
    if origin.get("type") != "channel" or not isinstance(origin.get("chat"), Mapping):
        return None
    if origin["chat"].get("id") != scene.channel_id:
        return None
    return SentMessages(scene.channel_id, (int(identifier(origin["message_id"])),)).external_id


def _by_the_account(message: Mapping[str, Any], scene: Scene) -> bool:
    """The bot's own, or the channel's: its posts, their automatic forwards, an admin writing as it."""
    sender_chat = message.get("sender_chat")
    if isinstance(sender_chat, Mapping) and sender_chat.get("id") == scene.channel_id:
        return True
    return message.get("is_automatic_forward") is True or _from_bot(message, scene)


def _from_bot(message: Mapping[str, Any], scene: Scene) -> bool:
    sender = message.get("from")
    return isinstance(sender, Mapping) and sender.get("id") == scene.bot_id


def _mentions(message: Mapping[str, Any], scene: Scene) -> bool:
    """Whether an entity names the bot or the channel: an @username, or the bot by a text mention."""
    text = message.get("text") if "text" in message else message.get("caption")
    entities = message.get("entities") if "text" in message else message.get("caption_entities")
    if not isinstance(text, str) or not isinstance(entities, list):
        return False
    names = scene.names()
    for entity in entities:
        if not isinstance(entity, Mapping):
            continue
        if entity.get("type") == "text_mention":
            user = entity.get("user")
            if isinstance(user, Mapping) and user.get("id") == scene.bot_id:
                return True
        elif entity.get("type") == "mention":
            try:
                start = code_point_index(text, int(entity["offset"]))
                end = code_point_index(text, int(entity["offset"]) + int(entity["length"]))
            except (KeyError, TypeError, ValueError):
                continue
            if text[start:end].removeprefix("@").lower() in names:
                return True
    return False


def reply_problems(target: ReplyTarget | None) -> list[str]:
    """Why a reply target cannot be answered on Telegram (its ref names no message); empty when it can."""
    if target is None:
        return []
    ref = target.ref
    problems = []
    if not _whole(ref.get("chat_id"), positive=False):
        problems.append("the post to reply to names no Telegram chat (ref.chat_id)")
    if not _whole(ref.get("message_id"), positive=True):
        problems.append("the post to reply to names no Telegram message (ref.message_id)")
    if "message_thread_id" in ref and not _whole(ref.get("message_thread_id"), positive=True):
        problems.append("the post to reply to names a malformed topic (ref.message_thread_id)")
    return problems


def _whole(value: object, *, positive: bool) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return value > 0 if positive else value != 0
