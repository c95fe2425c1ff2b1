"""Telegram's Bot API, faked over real HTTP on 127.0.0.1 (tests/networks/fake_servers.py).

Follows the Telegram Bot API reference, version 9.x (https://core.telegram.org/bots/api): Making requests
(`/bot<token>/<method>`, by GET or POST, parameters as a query string, application/json or
multipart/form-data; every answer `{"ok": true, "result": …}` or `{"ok": false, "error_code": N,
"description": "…", "parameters": {"retry_after": s, "migrate_to_chat_id": id}}`, the HTTP status being
error_code), sendMessage (text 1-4096 characters; links detected by Telegram as `url` entities with UTF-16
offsets; reply_parameters, link_preview_options, disable_notification), sendPhoto and sendVideo (a file
uploaded as multipart, caption 0-1024 characters), sendMediaGroup (2-10 items, files as attach://<name>,
answering an array of messages), editMessageText and editMessageCaption ("message is not modified" when
nothing would change), deleteMessage (48 hours; in a group, others' messages only by an administrator with
can_delete_messages), deleteMessages, getMe, getChat (ChatFullInfo's `linked_chat_id`), getChatMember,
setMessageReaction (one emoji a bot, set again unchanged) and getUpdates (`offset` confirming the updates
before it; a negative offset keeping the last -offset and forgetting the rest; `limit`; `allowed_updates`
remembered from call to call, for the updates made after it; 409 while a webhook is set); the
descriptions are the ones the Bot API sends ("Unauthorized", "Bad Request: chat not found", "Forbidden:
bot is not a member of the channel chat", "Too Many Requests: retry after N"…).

Comments follow the Bot API's Message (is_automatic_forward, forward_origin of type "channel",
message_thread_id, reply_to_message not nested further, entities of type "mention") and the Bots FAQ on
privacy mode: a channel post is copied to its linked discussion group as an automatic forward, a comment
is a group message in its thread; the bot receives a group's messages when it is an administrator there,
else only replies to its own messages and mentions of it; private messages to it always.

Switches (`self.switches`) make it misbehave as real servers do: a 429, a 5xx (with a JSON or plain-text
body), a send stored and then its answer held back or the connection hung up; `misbehaving` names the
methods (by prefix) the failures apply to. `while_reading` is called twice in each getUpdates, before and
after the page is taken: updates arriving while the bot reads.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request

from shared.text.telegram import utf16_span
from tests.networks.fake_servers import FakeServer, Switches

_LINK = re.compile(r"https?://[^\s]+")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}")


@dataclass
class TelegramSwitches(Switches):
    """Switches of the shared kind, plus Telegram's own."""

    # Store the next send, then close the connection without an answer.
    hang_up_after_storing: bool = False
    # Let this many more sends through, then apply the failure switches (a thread broken midway).
    sends_before_failing: int = 0
    # The wait a 429 announces, in parameters.retry_after.
    retry_after: int = 7
    # The methods, by prefix, the failure switches apply to.
    misbehaving: tuple[str, ...] = ("send",)


class FakeTelegram(FakeServer):
    """The Bot API for one or more bots and channels."""

    def __init__(self) -> None:
        self.switches = TelegramSwitches()
        self.bots: dict[str, dict[str, Any]] = {}  # token → the bot's User
        self.chats: dict[int, dict[str, Any]] = {}
        self.members: dict[tuple[int, int], dict[str, Any]] = {}  # (chat id, user id) → ChatMember
        self.users: dict[int, dict[str, Any]] = {}  # people (not bots) by id
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.migrated: dict[int, int] = {}  # a group's id → the supergroup it became
        self.updates: list[dict[str, Any]] = []
        self.allowed_updates: list[str] | None = None
        self.linked: dict[int, int] = {}  # a channel's id → its discussion group's, and back
        self.forwards: dict[tuple[int, int], int] = {}  # (channel, post) → its automatic forward's id
        self.reactions: dict[tuple[int, int], dict[int, list[dict[str, Any]]]] = {}  # message → bot → set
        self.while_reading: Callable[[], None] | None = None
        self.webhook_set = False
        self.sends: list[dict[str, Any]] = []  # each send stored, with its method and parameters
        self.calls: list[str] = []  # each method called, in order
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(100_000)
        self._lock = threading.RLock()
        super().__init__(self._build())

    # -- Setting the scene ---------------------------------------------------------------------------

    def add_bot(self, username: str = "crier_bot") -> str:
        """A bot, as @BotFather makes one; its token."""
        bot_id = 7_000_000_000 + len(self.bots) + 1
        token = f"{bot_id}:AAH{username.upper()}-secret_{bot_id % 997:03d}xyzXYZ0123"
        self.bots[token] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": username.title(),
            "username": username,
        }
        return token

    def add_channel(self, username: str | None = "crier_news", title: str = "Crier News") -> int:
        chat_id = -1_001_000_000_000 - len(self.chats) - 1
        self.chats[chat_id] = {"id": chat_id, "type": "channel", "title": title}
        if username:
            self.chats[chat_id]["username"] = username
        return chat_id

    def make_admin(self, token: str, chat_id: int, *, can_post: bool = True) -> None:
        bot = self.bots[token]
        self.members[(chat_id, bot["id"])] = {
            "status": "administrator",
            "user": bot,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_post_messages": can_post,
            "can_edit_messages": True,
        }

    def kick(self, token: str, chat_id: int) -> None:
        self.members[(chat_id, self.bots[token]["id"])] = {"status": "kicked", "user": self.bots[token]}

    def upgrade_to_supergroup(self, chat_id: int) -> int:
        """The channel's id now answers as a group that became a supergroup (migrate_to_chat_id)."""
        new_id = chat_id - 1_000_000
        self.migrated[chat_id] = new_id
        return new_id

    def react(self, chat_id: int, message_id: int, **counts: int) -> None:
        """A message_reaction_count update: each emoji's total on the message now."""
        reactions = [
            {"type": {"type": "emoji", "emoji": emoji}, "total_count": n} for emoji, n in counts.items()
        ]
        chat = self.chats[chat_id]
        if not self._receives("message_reaction_count"):
            return
        self.updates.append(
            {
                "update_id": next(self._update_ids),
                "message_reaction_count": {
                    "chat": chat,
                    "message_id": message_id,
                    "date": int(time.time()),
                    "reactions": reactions,
                },
            }
        )

    def add_discussion_group(self, channel_id: int, username: str | None = None) -> int:
        """A supergroup linked to the channel as its discussion group: its posts get comment threads."""
        group_id = -1_002_000_000_000 - len(self.chats) - 1
        self.chats[group_id] = {"id": group_id, "type": "supergroup", "title": "Comments"}
        if username:
            self.chats[group_id]["username"] = username
        self.linked[channel_id], self.linked[group_id] = group_id, channel_id
        return group_id

    def add_user(self, first_name: str, username: str | None = None, last_name: str | None = None) -> int:
        """A person on Telegram, with the private chat they would have with the bot; their id."""
        user_id = 100_000 + len([c for c in self.chats.values() if c["type"] == "private"]) + 1
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        for name, value in (("last_name", last_name), ("username", username)):
            if value:
                user[name] = chat[name] = value
        self.users[user_id] = user
        self.chats[user_id] = chat
        return user_id

    def comment(self, user_id: int, channel_id: int, post_id: int, text: str) -> dict[str, Any]:
        """A person's comment under a channel post: a reply to its automatic forward, in its thread."""
        group_id = self.linked[channel_id]
        return self.say(user_id, group_id, text, replying_to=self.forwards[(channel_id, post_id)])

    def say(self, user_id: int, chat_id: int, text: str, *, replying_to: int | None = None) -> dict[str, Any]:
        """A person's message in a group (in the thread of the message it replies to) or to the bot."""
        with self._lock:
            chat = self.chats[chat_id]
            message: dict[str, Any] = {
                "message_id": next(self._ids),
                "from": self.users[user_id],
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            entities = [
                {"type": "mention", "offset": offset, "length": length}
                for match in _MENTION.finditer(text)
                for offset, length in [utf16_span(text, match.start(), match.end())]
            ]
            if entities:
                message["entities"] = entities
            if replying_to is not None:
                parent = self.messages[(chat_id, replying_to)]
                message["reply_to_message"] = {k: v for k, v in parent.items() if k != "reply_to_message"}
                # In a supergroup a reply is in the thread of the message its chain began with.
                if chat["type"] == "supergroup":
                    message["message_thread_id"] = parent.get("message_thread_id", replying_to)
            self.messages[(chat_id, message["message_id"])] = message
            self._deliver(message)
            return message

    def _deliver(self, message: dict[str, Any]) -> None:
        """A message update, to the bots that receive it: all of a group's messages for an administrator
        (privacy mode spares them), replies to a bot's message and mentions of it otherwise."""
        chat = message["chat"]
        if chat["type"] in ("group", "supergroup"):
            parent = message.get("reply_to_message") or {}
            mentioned = {match.group().lower() for match in _MENTION.finditer(message.get("text", ""))}
            if not any(
                self.members.get((chat["id"], bot["id"]), {}).get("status") in ("administrator", "creator")
                or parent.get("from", {}).get("id") == bot["id"]
                or f"@{bot['username']}".lower() in mentioned
                for bot in self.bots.values()
            ):
                return
        elif chat["type"] != "private":
            return
        if not self._receives("message"):
            return
        with self._lock:
            self.updates.append({"update_id": next(self._update_ids), "message": message})

    def _receives(self, kind: str) -> bool:
        """Whether the bot's last allowed_updates lets an update of this kind be made: the list applies to
        updates made after the call that set it."""
        if self.allowed_updates:
            return kind in self.allowed_updates
        # Telegram's default: every kind but these, which must be asked for by name.
        return kind not in ("chat_member", "message_reaction", "message_reaction_count")

    def age(self, chat_id: int, message_id: int, seconds: int) -> None:
        self.messages[(chat_id, message_id)]["date"] -= seconds

    def channel_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return [message for (chat, _), message in sorted(self.messages.items()) if chat == chat_id]

    # -- The API --------------------------------------------------------------------------------------

    def _build(self) -> Flask:
        app = Flask("fake-telegram")

        @app.route("/bot<token>/<method>", methods=["GET", "POST"])
        def call(token: str, method: str) -> Response:
            bot = self.bots.get(token)
            if bot is None:
                return _error(401, "Unauthorized")
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                return _error(404, "Not Found")
            self.calls.append(method)
            params = _parameters()
            if method.startswith(self.switches.misbehaving):
                refused = self._misbehaviour()
                if refused is not None:
                    return refused
            with self._lock:
                answer = handler(bot, params)
            if isinstance(answer, Response):
                return answer
            if method.startswith("send") and self.switches.stall_after_storing:
                self.switches.stall_after_storing = False
                self.stall()
            if method.startswith("send") and self.switches.hang_up_after_storing:
                self.switches.hang_up_after_storing = False
                self.hang_up()
            return Response(json.dumps({"ok": True, "result": answer}), mimetype="application/json")

        return app

    def _misbehaviour(self) -> Response | None:
        switches = self.switches
        if switches.sends_before_failing:
            switches.sends_before_failing -= 1
            return None
        if switches.rate_limited:
            switches.rate_limited -= 1
            wait = switches.retry_after
            return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if switches.fail_times:
            switches.fail_times -= 1
            status = switches.fail_status or 500
            if switches.fail_body is not None:
                return Response(switches.fail_body, status=status, mimetype="text/plain")
            return _error(status, "Internal Server Error")
        return None

    def _chat(self, bot: dict[str, Any], chat_id: object, *, to_post: bool) -> dict[str, Any] | Response:
        """The chat a chat_id names, as the bot may see it; the refusal the Bot API gives otherwise."""
        chat: dict[str, Any] | None = None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self.chats.values() if c.get("username") == chat_id[1:]), None)
        else:
            try:
                numeric = int(str(chat_id))
            except ValueError:
                return _error(400, "Bad Request: chat not found")
            if numeric in self.migrated:
                return _error(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to_chat_id=self.migrated[numeric],
                )
            chat = self.chats.get(numeric)
        if chat is not None and chat["type"] == "private":
            return chat
        member = self.members.get((chat["id"], bot["id"])) if chat else None
        in_chat = member is not None and member["status"] in ("creator", "administrator", "member")
        # A private channel (no @username) is hidden from a bot that is not in it.
        if chat is None or (not in_chat and "username" not in chat):
            return _error(400, "Bad Request: chat not found")
        if to_post and chat["type"] != "channel":
            # Any member of a group may write there.
            if not in_chat:
                return _error(403, "Forbidden: bot is not a member of the supergroup chat")
        elif to_post:
            if member is not None and member["status"] == "kicked":
                return _error(403, "Forbidden: bot was kicked from the channel chat")
            if not in_chat:
                return _error(403, "Forbidden: bot is not a member of the channel chat")
            assert member is not None
            if member["status"] != "creator" and not member.get("can_post_messages"):
                return _error(400, "Bad Request: need administrator rights in the channel chat")
        return chat

    def _new_message(
        self, bot: dict[str, Any], chat: dict[str, Any], params: dict[str, Any], **content: Any
    ) -> dict[str, Any] | Response:
        """A message the bot sends: a channel's is signed by the channel, elsewhere by the bot."""
        sender = {"sender_chat": chat} if chat["type"] == "channel" else {"from": bot}
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            **sender,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        reply = _json_param(params.get("reply_parameters"))
        if isinstance(reply, dict):
            replied = self.messages.get((chat["id"], int(reply.get("message_id", 0))))
            if replied is None:
                return _error(400, "Bad Request: message to be replied not found")
            message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            if chat["type"] == "supergroup":
                message["message_thread_id"] = replied.get("message_thread_id", replied["message_id"])
        thread = params.get("message_thread_id")
        if thread is not None and int(thread) != message.get("message_thread_id"):
            return _error(400, "Bad Request: message thread not found")
        return message

    def _store(self, method: str, params: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.messages[(message["chat"]["id"], message["message_id"])] = message
            group_id = self.linked.get(message["chat"]["id"])
            if message["chat"]["type"] == "channel" and group_id is not None:
                self._forward_automatically(message, self.chats[group_id])
        self.sends.append(
            {"method": method, "params": params, "messages": [m["message_id"] for m in messages]}
        )

    def _forward_automatically(self, post: dict[str, Any], group: dict[str, Any]) -> None:
        """The channel post's copy in its discussion group, where its comments thread."""
        content = {k: v for k, v in post.items() if k in ("text", "caption", "entities", "photo", "video")}
        forward = {
            "message_id": next(self._ids),
            "sender_chat": post["chat"],
            "chat": group,
            "date": post["date"],
            "is_automatic_forward": True,
            "forward_origin": {
                "type": "channel",
                "chat": post["chat"],
                "message_id": post["message_id"],
                "date": post["date"],
            },
            **content,
        }
        self.messages[(group["id"], forward["message_id"])] = forward
        self.forwards[(post["chat"]["id"], post["message_id"])] = forward["message_id"]
        self._deliver(forward)

    def _sendMessage(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=True)
        if isinstance(chat, Response):
            return chat
        text = str(params.get("text") or "").strip()
        if not text:
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": text}
        entities = [
            {"type": "url", "offset": offset, "length": length}
            for match in _LINK.finditer(text)
            for offset, length in [utf16_span(text, match.start(), match.end())]
        ]
        if entities:
            content["entities"] = entities
        options = _json_param(params.get("link_preview_options"))
        if isinstance(options, dict):
            content["link_preview_options"] = options
        message = self._new_message(bot, chat, params, **content)
        if isinstance(message, Response):
            return message
        self._store("sendMessage", params, [message])
        return message

    def _send_file(self, bot: dict[str, Any], params: dict[str, Any], kind: str) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=True)
        if isinstance(chat, Response):
            return chat
        upload = request.files.get(kind)
        if upload is None:
            return _error(400, f"Bad Request: there is no {kind} in the request")
        caption = str(params.get("caption") or "")
        if len(caption) > 1024:
            return _error(400, "Bad Request: message caption is too long")
        message = self._new_message(bot, chat, params, caption=caption, **{kind: _file(kind, upload.read())})
        if isinstance(message, Response):
            return message
        self._store(f"send{kind.title()}", params, [message])
        return message

    def _sendPhoto(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        return self._send_file(bot, params, "photo")

    def _sendVideo(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        return self._send_file(bot, params, "video")

    def _sendMediaGroup(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=True)
        if isinstance(chat, Response):
            return chat
        media = _json_param(params.get("media"))
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            return _error(400, "Bad Request: media must include 2-10 items")
        group_id = str(next(self._ids) * 1000)
        messages = []
        for item in media:
            name = str(item.get("media", "")).removeprefix("attach://")
            upload = request.files.get(name)
            if upload is None or item.get("type") not in ("photo", "video"):
                return _error(400, "Bad Request: wrong file identifier/HTTP URL specified")
            caption = str(item.get("caption") or "")
            if len(caption) > 1024:
                return _error(400, "Bad Request: message caption is too long")
            content: dict[str, Any] = {
                "media_group_id": group_id,
                item["type"]: _file(item["type"], upload.read()),
            }
            if caption:
                content["caption"] = caption
            message = self._new_message(bot, chat, params, **content)
            if isinstance(message, Response):
                return message
            messages.append(message)
        self._store("sendMediaGroup", params, messages)
        return messages

    def _edited(self, bot: dict[str, Any], params: dict[str, Any], field: str) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=True)
        if isinstance(chat, Response):
            return chat
        message = self.messages.get((chat["id"], int(params.get("message_id", 0))))
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        if field == "text" and "text" not in message:
            return _error(400, "Bad Request: there is no text in the message to edit")
        if field == "caption" and "text" in message:
            return _error(400, "Bad Request: there is no caption in the message to edit")
        new = str(params.get(field) or "").strip()
        limit = 4096 if field == "text" else 1024
        if len(new) > limit:
            return _error(400, f"Bad Request: message {'is' if field == 'text' else 'caption is'} too long")
        if message.get(field) == new:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        message[field] = new
        message["edit_date"] = int(time.time())
        return message

    def _editMessageText(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        return self._edited(bot, params, "text")

    def _editMessageCaption(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        return self._edited(bot, params, "caption")

    def _deleteMessage(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=True)
        if isinstance(chat, Response):
            return chat
        key = (chat["id"], int(params.get("message_id", 0)))
        message = self.messages.get(key)
        if message is None:
            return _error(400, "Bad Request: message to delete not found")
        member = self.members.get((chat["id"], bot["id"]), {})
        others = message.get("from", {}).get("id") != bot["id"] and chat["type"] == "supergroup"
        if others and not (member.get("status") == "administrator" and member.get("can_delete_messages")):
            return _error(400, "Bad Request: message can't be deleted")
        if time.time() - message["date"] >= 48 * 3600:
            return _error(400, "Bad Request: message can't be deleted for everyone")
        del self.messages[key]
        return True

    def _deleteMessages(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=True)
        if isinstance(chat, Response):
            return chat
        ids = _json_param(params.get("message_ids"))
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return _error(400, "Bad Request: message identifiers are not specified")
        messages = [self.messages.get((chat["id"], int(i))) for i in ids]
        if any(m is not None and time.time() - m["date"] >= 48 * 3600 for m in messages):
            return _error(400, "Bad Request: message can't be deleted for everyone")
        for message_id in ids:  # those not found are skipped
            self.messages.pop((chat["id"], int(message_id)), None)
        return True

    def _getMe(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        return {**bot, "can_join_groups": True, "can_read_all_group_messages": False}

    def _getChat(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=False)
        if isinstance(chat, Response):
            return chat
        full = {**chat, "accent_color_id": 0, "max_reaction_count": 11}
        if chat["id"] in self.linked:
            full["linked_chat_id"] = self.linked[chat["id"]]
        return full

    def _getChatMember(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=False)
        if isinstance(chat, Response):
            return chat
        user_id = int(params.get("user_id", 0))
        member = self.members.get((chat["id"], user_id))
        if member is None:
            user = next((b for b in self.bots.values() if b["id"] == user_id), None)
            if user is None:
                return _error(400, "Bad Request: user not found")
            return {"status": "left", "user": user}
        return member

    def _getUpdates(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        if self.webhook_set:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first",
            )
        if self.while_reading is not None:
            self.while_reading()
        allowed = _json_param(params.get("allowed_updates"))
        if isinstance(allowed, list):
            self.allowed_updates = allowed
        offset = int(params.get("offset") or 0)
        if offset > 0:
            # Asking past an update confirms it: it is not given again.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            # The last -offset updates are kept; every one before them is forgotten.
            self.updates = self.updates[offset:]
        limit = int(params.get("limit", 100))
        if not 1 <= limit <= 100:
            return _error(400, "Bad Request: limit must be between 1 and 100")
        page = self.updates[:limit]
        if self.while_reading is not None:
            self.while_reading()
        return page

    def _setMessageReaction(self, bot: dict[str, Any], params: dict[str, Any]) -> Any:
        chat = self._chat(bot, params.get("chat_id"), to_post=False)
        if isinstance(chat, Response):
            return chat
        key = (chat["id"], int(params.get("message_id", 0)))
        if key not in self.messages:
            return _error(400, "Bad Request: MESSAGE_ID_INVALID")
        reaction = _json_param(params.get("reaction")) or []
        if not isinstance(reaction, list) or len(reaction) > 1:
            return _error(400, "Bad Request: REACTIONS_TOO_MANY")
        if any(item.get("type") != "emoji" or not item.get("emoji") for item in reaction):
            return _error(400, "Bad Request: REACTION_INVALID")
        self.reactions.setdefault(key, {})[bot["id"]] = reaction
        return True


def serving_one_account() -> tuple[FakeTelegram, dict[str, Any]]:
    """A started fake with one bot administering one public channel, and what a channel connects with:
    `{"settings": {...}, "credentials": {...}}`. Point CRIER_TELEGRAM_API_URL at `fake.base_url`; stop()
    the fake when done."""
    fake = FakeTelegram().start()
    token = fake.add_bot()
    chat_id = fake.add_channel("crier_news")
    fake.make_admin(token, chat_id)
    return fake, {"settings": {"chat_id": "@crier_news"}, "credentials": {"bot_token": token}}


def _parameters() -> dict[str, Any]:
    """A method's parameters, however they came: query string, JSON body or form fields."""
    params: dict[str, Any] = dict(request.args)
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        params.update(body)
    params.update(request.form.to_dict())
    return params


def _json_param(value: object) -> Any:
    """A parameter the Bot API takes JSON-serialized in a form, or as a value in a JSON body."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _file(kind: str, data: bytes) -> Any:
    unique = f"AgAC{len(data):08d}"
    if kind == "photo":
        return [
            {
                "file_id": unique,
                "file_unique_id": unique[:12],
                "width": 800,
                "height": 600,
                "file_size": len(data),
            }
        ]
    return {"file_id": unique, "file_unique_id": unique[:12], "width": 1280, "height": 720, "duration": 3}


def _error(status: int, description: str, **parameters: Any) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response(json.dumps(body), status=status, mimetype="application/json")
