"""The `telegram` network's adapter: a bot posting to a channel it administers, through the Bot API."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    InboxAbilities,
    InboxKind,
    MediaItem,
    MediaRule,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    Rejected,
    ReplyTarget,
    TextPreview,
    Transient,
)
from shared.networks.telegram.answers import NoTextToEdit, NotModified, TelegramDialect
from shared.networks.telegram.engagement import engagement_of, likes_by_message, reactions_by_message
from shared.networks.telegram.inbox import (
    LIKE_EMOJI,
    Scene,
    entry_of,
    offset_of,
    position_at,
    reply_problems,
)
from shared.networks.telegram.messages import (
    APP_URL,
    SentMessages,
    message_address,
    parse_external_id,
    sent_part,
)
from shared.networks.telegram.updates import ALLOWED_UPDATES, UPDATES_LIMIT
from shared.networks.toolkit.answers import answer_object, identifier, reading, storable_profile
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.parts import MakePart, PartByPart, part_label
from shared.networks.toolkit.settings import unknown_options
from shared.networks.toolkit.write_only import WriteOnly
from shared.text.telegram import TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT, telegram_length

API_URL = "https://api.telegram.org"
# @BotFather's tokens: the bot's numeric id, a colon, and a secret of letters, digits, '_' and '-'.
BOT_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,100}")
# A channel by its public @username (5 to 32 characters) or its numeric id (-100 and digits).
CHAT_ID = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{1,16}")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
VIDEO_TYPES = ("video/mp4",)
# Bots FAQ and sendPhoto: a photo uploaded by a bot is at most 10 MB; any other file at most 50 MB.
PHOTO_MAX_BYTES = 10 * 1024 * 1024
FILE_MAX_BYTES = 50 * 1024 * 1024
# sendMediaGroup takes 2 to 10 photos and videos.
MEDIA_MAX_ITEMS = 10
MEDIA_RULE = MediaRule(
    content_types=PHOTO_TYPES + VIDEO_TYPES, max_bytes=FILE_MAX_BYTES, max_items=MEDIA_MAX_ITEMS
)
BOOLEAN_OPTIONS = ("silent", "link_preview")


class TelegramNetwork(WriteOnly, PartByPart):
    """The `telegram` network's adapter."""

    cannot_look_up = (
        "the Bot API cannot list or search a channel's messages, and takes no idempotency key, so a send "
        "whose answer was lost cannot be looked for"
    )
    info = NetworkInfo(
        name="telegram",
        display_name="Telegram",
        text_limit=TELEGRAM_TEXT_LIMIT,
        text_unit="characters (Unicode code points); 1,024 for the caption of a post with media",
        # Reactions, from the bot's pending message_reaction_count updates (see engagement): the Bot API
        # gives no views of a channel post and no replies, forwards or other counts.
        metrics=("likes",),
        # Each thread item is a message replying (reply_parameters) to the one before, in the same channel.
        supports_threads=True,
        # A channel's comments live in its linked discussion group, where a bot posts as itself, not as the
        # channel: no first comment.
        supports_first_comment=False,
        # Telegram has no alternative text for media: a description given is not sent.
        media=MEDIA_RULE,
        credential_keys=("bot_token",),
        can_find_published=False,
        can_delete=True,
        can_edit=True,
        # Bots FAQ: no more than 20 messages a minute in one group or channel, and no more than 30 a second
        # across all of a bot's chats.
        account_rate=Rate.per_minute(20, burst=5),
        network_rate=Rate(burst=30, per_second=30.0),
        # From the bot's updates (see shared.networks.telegram.inbox): comments in the discussion group,
        # replies and mentions in groups, private messages. A like is the bot's 👍 reaction; hiding is
        # deleting the message, which the bot may do as an administrator of the group. Bots cannot search.
        inbox=InboxAbilities(
            kinds=(InboxKind.REPLY, InboxKind.MENTION, InboxKind.DIRECT_MESSAGE),
            can_reply=True,
            can_like=True,
            can_hide=True,
        ),
    )

    SETTINGS = ("chat_id", *BOOLEAN_OPTIONS)

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        api_url: str = API_URL,
        timeout: httpx.Timeout = SERVER_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        self._calls = Calls(outbound or Outbound(), timeout, dialect=TelegramDialect(), http=http)
        self._api_url = api_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramNetwork:
        return cls(Outbound.from_settings(settings), api_url=settings.telegram_api_url)

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = unknown_options(settings, self.SETTINGS)
        if _chat_id(settings) is None:
            problems.append(
                "chat_id is required: the channel's @username, or its numeric id (-100 followed by digits)"
            )
        problems += _boolean_problems(settings)
        return problems

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the token's shape; whether Telegram takes it, verify() asks."""
        token = credentials.get("bot_token")
        if not isinstance(token, str) or not BOT_TOKEN.fullmatch(token.strip()):
            return ["bot_token must be the token @BotFather gave the bot (digits, a colon, then the secret)"]
        return []

    def validate(self, draft: Draft) -> list[str]:
        problems = [
            problem
            for index, text in enumerate((draft.text, *draft.thread))
            for problem in _text_problems(text, index, with_media=bool(draft.media) and index == 0)
        ]
        problems += media_problems(
            draft.media, MEDIA_RULE, "Telegram", limits=dict.fromkeys(PHOTO_TYPES, PHOTO_MAX_BYTES)
        )
        problems += _boolean_problems(draft.options)
        problems += reply_problems(draft.reply_to)
        return problems

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        """Each text as sent: with media, the post's text is the caption, held to 1,024."""
        previews = []
        for index, text in enumerate((draft.text, *draft.thread)):
            caption = bool(draft.media) and index == 0
            limit = TELEGRAM_CAPTION_LIMIT if caption else TELEGRAM_TEXT_LIMIT
            problems = tuple(_text_problems(text, index, with_media=caption))
            previews.append(TextPreview(text, telegram_length(text), limit, problems))
        return previews

    # -- Publishing -----------------------------------------------------------------------------------

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """The post (a message, a photo or video with its caption, or an album), then each thread item as a
        message replying to the part before it. A reply (draft.reply_to) goes to the chat of the message it
        answers (the discussion group, or a person's private chat with the bot), replying to it."""
        token = self._token(account)
        problems = self.check_settings(account.settings) + self.validate(draft)
        channel = _chat_id(account.settings)
        if problems or channel is None:
            raise Rejected("Telegram: not sent: " + "; ".join(problems))
        chat_id: str | int = channel
        answered: dict[str, Any] = {}
        topic: int | None = None
        if draft.reply_to is not None:
            chat_id = draft.reply_to.ref["chat_id"]
            answered = {"message_id": draft.reply_to.ref["message_id"]}
            topic = draft.reply_to.ref.get("message_thread_id")
        silent = _choice(draft.options, account.settings, "silent", default=False)
        previews = _choice(draft.options, account.settings, "link_preview", default=True)

        def make(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            reply = {"message_id": _sent(parts[-1].external_id).first} if index > 0 else answered
            if index == 0 and draft.media:
                return self._send_media(token, chat_id, draft.text, draft.media, silent, reply, topic)
            payload: dict[str, Any] = {
                "chat_id": chat_id,
                "text": draft.text if index == 0 else draft.thread[index - 1],
            }
            if silent:
                payload["disable_notification"] = True
            if not previews:
                payload["link_preview_options"] = {"is_disabled": True}
            if reply:
                payload["reply_parameters"] = reply
            if topic is not None:
                payload["message_thread_id"] = topic
            result = self._call(token, "sendMessage", write=True, json=payload)
            with reading("Telegram sendMessage", write=True):
                return sent_part([result])

        return make

    def _send_media(
        self,
        token: str,
        chat_id: str | int,
        caption: str,
        media: Sequence[MediaItem],
        silent: bool,
        reply: Mapping[str, Any],
        topic: int | None,
    ) -> PublishedPart:
        """One photo or video with the caption (sendPhoto, sendVideo), or an album (sendMediaGroup) whose
        first item carries it; each file uploaded as multipart/form-data, objects JSON-serialized."""
        form = {"chat_id": str(chat_id)}
        if silent:
            form["disable_notification"] = "true"
        if reply:
            form["reply_parameters"] = json.dumps(dict(reply))
        if topic is not None:
            form["message_thread_id"] = str(topic)
        if len(media) == 1:
            [item] = media
            kind = _kind(item)
            method = "sendPhoto" if kind == "photo" else "sendVideo"
            files = {kind: (_file_name(kind, 0, item), item.data, item.content_type)}
            result = self._call(
                token, method, write=True, upload=True, data={**form, "caption": caption}, files=files
            )
            with reading(f"Telegram {method}", write=True):
                return sent_part([result])
        described: list[dict[str, Any]] = []
        uploads: dict[str, tuple[str, bytes, str]] = {}
        for index, item in enumerate(media):
            kind = _kind(item)
            entry: dict[str, Any] = {"type": kind, "media": f"attach://file{index}"}
            if index == 0:
                entry["caption"] = caption
            described.append(entry)
            uploads[f"file{index}"] = (_file_name(kind, index, item), item.data, item.content_type)
        result = self._call(
            token,
            "sendMediaGroup",
            write=True,
            upload=True,
            data={**form, "media": json.dumps(described)},
            files=uploads,
        )
        with reading("Telegram sendMediaGroup", write=True):
            return sent_part(list(result))

    # -- After publishing -----------------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Likes for the posts the bot's pending reaction updates speak of; the others are left out (see
        shared.networks.telegram.engagement)."""
        token = self._token(account)
        updates = self._call(
            token,
            "getUpdates",
            json={"allowed_updates": ALLOWED_UPDATES, "timeout": 0, "limit": UPDATES_LIMIT},
        )
        if not isinstance(updates, list):
            raise Transient("Telegram getUpdates answered with something other than a list of updates")
        return engagement_of(
            external_ids, reactions_by_message(item for item in updates if isinstance(item, dict))
        )

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """The message's new text (editMessageText), or, for a photo, a video or an album, its caption
        (editMessageCaption: Telegram says "there is no text in the message to edit" first, having changed
        nothing). An edit to what the message already says is done already."""
        token, sent = self._token(account), _sent(external_id)
        problems = _text_problems(draft.text, 0, with_media=False)
        if problems:
            raise Rejected("Telegram: not edited: " + "; ".join(problems))
        target = {"chat_id": sent.chat_id, "message_id": sent.first}
        try:
            try:
                edited = self._call(token, "editMessageText", write=True, json={**target, "text": draft.text})
            except NoTextToEdit:
                caption_problems = _text_problems(draft.text, 0, with_media=True)
                if caption_problems:
                    raise Rejected("Telegram: not edited: " + "; ".join(caption_problems)) from None
                edited = self._call(
                    token, "editMessageCaption", write=True, json={**target, "caption": draft.text}
                )
        except NotModified:
            return PublishedPart(external_id=external_id, url=self._address(token, sent))
        with reading("Telegram edit", write=True):
            part = sent_part([edited])
        return PublishedPart(external_id=external_id, url=part.url, created_at=part.created_at)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        """Telegram cannot read a message back, but it answers an edit to what a message already says with
        "message is not modified": so the draft's text is sent again as an edit, which either finds the
        uncertain edit landed or makes it now; an edit repeated changes nothing more. True once the message
        reads as the draft; the error of the edit otherwise."""
        self.edit(account, external_id, draft)
        return True

    def delete(self, account: Account, external_id: str) -> None:
        """deleteMessage, or deleteMessages for an album. Telegram lets a bot delete a channel post only
        within 48 hours of sending it: past that the refusal says so (Rejected)."""
        token, sent = self._token(account), _sent(external_id)
        if len(sent.message_ids) == 1:
            target: dict[str, Any] = {"chat_id": sent.chat_id, "message_id": sent.first}
            self._call(token, "deleteMessage", write=True, json=target)
        else:
            target = {"chat_id": sent.chat_id, "message_ids": list(sent.message_ids)}
            self._call(token, "deleteMessages", write=True, json=target)

    def verify(self, account: Account) -> Profile:
        """The bot (getMe), the channel (getChat), and that the bot administers it with the right to post
        (getChatMember): a bot that cannot post there is refused like dead credentials."""
        token = self._token(account)
        chat_id = _chat_id(account.settings)
        if chat_id is None:
            raise Rejected("Telegram: the channel's chat_id is missing or malformed")
        bot = self._call(token, "getMe")
        chat = self._call(token, "getChat", json={"chat_id": chat_id})
        with reading("Telegram getChat", write=False):
            bot_id, bot_name = int(bot["id"]), str(bot.get("username") or bot["first_name"])
            kind, numeric_id, title = str(chat["type"]), int(chat["id"]), str(chat.get("title") or "")
            username = chat.get("username")
        if kind != "channel":
            raise Rejected(f"Telegram: {chat_id} is a {kind}, not a channel; Crier's bot posts to channels")
        member = self._call(token, "getChatMember", json={"chat_id": numeric_id, "user_id": bot_id})
        with reading("Telegram getChatMember", write=False):
            status, may_post = str(member["status"]), member.get("can_post_messages") is True
        if not (status == "creator" or (status == "administrator" and may_post)):
            raise AuthExpired(
                f"Telegram: the bot @{bot_name} is not an administrator of {chat_id} allowed to post "
                f"messages (it is {status}): make it one, with the right to post, then reconnect the channel"
            )
        handle = f"@{username}" if isinstance(username, str) and username else str(numeric_id)
        url = f"{APP_URL}/{username}" if isinstance(username, str) and username else None
        return storable_profile(
            Profile(handle=handle, display_name=title or handle, url=url), what="Telegram"
        )

    # -- The inbox (shared.networks.telegram.inbox) --------------------------------------------------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """The channel's comments, replies, mentions and private messages in the bot's next page of updates
        (getUpdates, never waiting: timeout 0). The first read takes the latest 100 updates (a negative
        offset, which forgets the older ones); each later read asks from the stored position, confirming
        the updates before it, and says `more` when a full page came back. Every update moves the position
        on, those left out too (other chats, reactions)."""
        token = self._token(account)
        first = position is None
        offset = -UPDATES_LIMIT if position is None else offset_of(position)
        updates = self._updates(token, offset)
        with reading("Telegram getUpdates", write=False):
            ids = [int(identifier(update["update_id"])) for update in updates]
            messages = [update["message"] for update in updates if isinstance(update.get("message"), dict)]
        entries: list[InboxEntry] = []
        if messages:
            scene = self._scene(token, account)
            with reading("Telegram getUpdates", write=False):
                entries = [entry for message in messages if (entry := entry_of(message, scene)) is not None]
        # An empty first read leaves the offset at 0, Telegram's "from the earliest update not confirmed".
        after = max(ids) + 1 if ids else max(offset, 0)
        return InboxPage(
            tuple(entries),
            position_at(after),
            more=not first and len(ids) == UPDATES_LIMIT,
            # Reading confirms the reaction updates too: their counts go on to the posts' metrics.
            engagement=likes_by_message(reactions_by_message(updates)),
        )

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """Nothing: the Bot API has no method to read a message back, and the updates that carried a
        conversation are confirmed once read. The thread is what Crier stored, each entry naming the one it
        answers (in_reply_to); its parent message came with it, in the entry's raw `reply_to_message`."""
        _sent(external_id)
        return ()

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """The bot's 👍 on the message (setMessageReaction). A bot sets one reaction a message, and setting
        the same one again changes nothing: an uncertain like is simply asked again."""
        token, ref = self._token(account), self._ref(target, "liked")
        reaction = [{"type": "emoji", "emoji": LIKE_EMOJI}]
        self._call(token, "setMessageReaction", write=True, json={**ref, "reaction": reaction})

    def hide_reply(self, account: Account, target: ReplyTarget, *, root: str | None) -> None:
        """Deletes the comment from the discussion group (deleteMessage): Telegram has no hiding, and the
        bot may delete others' messages as an administrator of the group with the right to delete them,
        within 48 hours of their sending. A message deleted already is no error."""
        token, ref = self._token(account), self._ref(target, "deleted")
        if ref["chat_id"] > 0:
            raise Rejected("Telegram: only a comment in a group can be deleted, not a private message")
        try:
            self._call(token, "deleteMessage", write=True, json=ref)
        except PostGone:
            return

    def _updates(self, token: str, offset: int) -> list[dict[str, Any]]:
        updates = self._call(
            token,
            "getUpdates",
            json={
                "offset": offset,
                "limit": UPDATES_LIMIT,
                "timeout": 0,
                "allowed_updates": ALLOWED_UPDATES,
            },
        )
        if not isinstance(updates, list) or not all(isinstance(update, dict) for update in updates):
            raise Transient("Telegram getUpdates answered with something other than a list of updates")
        return updates

    def _scene(self, token: str, account: Account) -> Scene:
        """The channel, its discussion group (getChat's linked_chat_id) and the bot (getMe)."""
        chat_id = _chat_id(account.settings)
        if chat_id is None:
            raise Rejected("Telegram: the channel's chat_id is missing or malformed")
        chat = self._call(token, "getChat", json={"chat_id": chat_id})
        bot = self._call(token, "getMe")
        with reading("Telegram getChat", write=False):
            linked = chat.get("linked_chat_id")
            username = chat.get("username")
            return Scene(
                channel_id=int(identifier(chat["id"])),
                channel_username=username if isinstance(username, str) else None,
                group_id=int(identifier(linked)) if linked is not None else None,
                bot_id=int(identifier(bot["id"])),
                bot_username=str(bot.get("username") or ""),
            )

    def _ref(self, target: ReplyTarget, done: str) -> dict[str, int]:
        problems = reply_problems(target)
        if problems:
            raise Rejected(f"Telegram: not {done}: " + "; ".join(problems))
        return {"chat_id": target.ref["chat_id"], "message_id": target.ref["message_id"]}

    # -- Calls ----------------------------------------------------------------------------------------

    def _token(self, account: Account) -> str:
        token = account.credentials.get("bot_token")
        if not isinstance(token, str) or not BOT_TOKEN.fullmatch(token.strip()):
            raise AuthExpired("Telegram: the channel's bot token is missing or malformed; reconnect it.")
        return token.strip()

    def _call(
        self, token: str, method: str, *, write: bool = False, upload: bool = False, **request: Any
    ) -> Any:
        """One Bot API method; its `result`. The token is in the URL's path, so it is a secret of the call."""
        what = f"Telegram {method}"
        url = f"{self._api_url}/bot{token}/{method}"
        response = self._calls.send(
            "POST", url, what=what, write=write, secrets=[token], upload=upload, **request
        )
        self._calls.check(response, what=what, write=write, secrets=[token])
        body = answer_object(response, what=what, write=write)
        if body.get("ok") is not True or "result" not in body:
            said = f"{what} answered {response.status_code} without a result"
            if write:
                raise OutcomeUnknown(said + "; the message may have been sent")
            raise Transient(said)
        return body["result"]

    def _address(self, token: str, sent: SentMessages) -> str:
        """A message's link, by its channel's @username (getChat), for an edit answered without the message;
        the private `/c/` form when the channel cannot be read now."""
        try:
            chat = self._call(token, "getChat", json={"chat_id": sent.chat_id})
        except (Transient, OutcomeUnknown):
            chat = None
        if not isinstance(chat, dict):
            chat = {"id": sent.chat_id}
        return message_address(chat, sent.first)


def _sent(external_id: str) -> SentMessages:
    sent = parse_external_id(external_id)
    if sent is None:
        raise Rejected(f"Telegram: {external_id!r} is not a message this adapter sent.")
    return sent


def _chat_id(settings: Mapping[str, Any]) -> str | None:
    value = settings.get("chat_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and CHAT_ID.fullmatch(value.strip()):
        return value.strip()
    return None


def _boolean_problems(values: Mapping[str, Any]) -> list[str]:
    return [
        f"{name} must be true or false"
        for name in BOOLEAN_OPTIONS
        if name in values and not isinstance(values[name], bool)
    ]


def _choice(options: Mapping[str, Any], settings: Mapping[str, Any], name: str, *, default: bool) -> bool:
    """The draft's choice, else the channel's, else the default."""
    for source in (options, settings):
        if isinstance(source.get(name), bool):
            return bool(source[name])
    return default


def _text_problems(text: str, index: int, *, with_media: bool) -> list[str]:
    where = part_label(index)
    if not text.strip():
        return [f"{where} is empty"]
    length = telegram_length(text)
    if with_media and length > TELEGRAM_CAPTION_LIMIT:
        return [
            f"{where} is {length} characters long; with media it is the caption, and Telegram allows "
            f"{TELEGRAM_CAPTION_LIMIT}: shorten it, or move the rest into a thread item"
        ]
    if length > TELEGRAM_TEXT_LIMIT:
        return [f"{where} is {length} characters long; Telegram allows {TELEGRAM_TEXT_LIMIT}"]
    return []


def _kind(item: MediaItem) -> str:
    return "photo" if item.content_type in PHOTO_TYPES else "video"


def _file_name(kind: str, index: int, item: MediaItem) -> str:
    return f"{kind}{index}.{item.content_type.rsplit('/', 1)[-1]}"
