"""The `discord` network's adapter: a post and its thread as messages of a channel's incoming webhook."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.config import Settings
from shared.networks.discord.answers import DiscordDialect, message_of, object_of, pause_after
from shared.networks.discord.webhooks import APP_URL, SNOWFLAKE, Webhook, message_part, parse_webhook_url
from shared.networks.outbound import DEFAULT_TIMEOUT, Outbound
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    RateLimited,
    Rejected,
    TextPreview,
)
from shared.networks.toolkit.calls import Calls
from shared.networks.toolkit.parts import MakePart, PartByPart, part_label, text_previews
from shared.networks.toolkit.settings import unknown_options
from shared.networks.toolkit.write_only import WriteOnly
from shared.text.discord import DISCORD_LIMIT, discord_length

API_BASE = "https://discord.com/api/v10"
THREAD_NAME_LIMIT = 100
USERNAME_LIMIT = 80
# Between the messages of one thread Crier waits out Discord's bucket when it says it is empty, but not
# for longer than this: a longer wait would hold a worker thread, and the rest goes to a person instead.
MAX_PAUSE_SECONDS = 5.0


class DiscordNetwork(WriteOnly, PartByPart):
    """The `discord` network's adapter."""

    cannot_look_up = "a webhook cannot list the channel's messages"
    info = NetworkInfo(
        name="discord",
        display_name="Discord",
        text_limit=DISCORD_LIMIT,
        text_unit="characters (Unicode code points)",
        # Webhook messages have reactions, but a webhook token cannot read them: nothing to collect.
        # Reactions on the message, read back through the webhook, stand for likes: all Discord shows.
        metrics=("likes",),
        # One message per request: GET /webhooks/{id}/{token}/messages/{message.id}.
        engagement_batch_size=1,
        # Thread items are sent as further messages, in order, after the post (in the same forum thread
        # when the post opened one). Discord webhooks cannot reply to a message, so this is the closest fit.
        supports_threads=True,
        credential_keys=("webhook_url",),
        # Delete and Edit Webhook Message: a webhook may change and remove the messages it sent.
        can_delete=True,
        can_edit=True,
        # With ?wait=true Discord answers with the message's id, but after a timeout Crier has no id, and a
        # webhook token cannot list the channel's messages to look for one: only a person can check.
        can_find_published=False,
    )

    SETTINGS = ("thread_id", "forum", "username", "allow_mentions")

    def __init__(
        self,
        outbound: Outbound | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        api_base: str = API_BASE,
        max_pause_seconds: float = MAX_PAUSE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._calls = Calls(outbound or Outbound(), timeout, dialect=DiscordDialect())
        self._api_base = api_base.rstrip("/")
        self._max_pause = max_pause_seconds
        self._sleep = sleep
        # Each webhook's server (guild), needed for message links; a webhook never changes server.
        self._guilds: dict[str, str | None] = {}
        self._guilds_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscordNetwork:
        return cls(Outbound.from_settings(settings), api_base=settings.discord_api_url)

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = unknown_options(settings, self.SETTINGS)
        thread_id = settings.get("thread_id")
        if thread_id is not None and not (isinstance(thread_id, str) and SNOWFLAKE.fullmatch(thread_id)):
            problems.append("thread_id must be a Discord id (digits, as a string)")
        for flag in ("forum", "allow_mentions"):
            if flag in settings and not isinstance(settings[flag], bool):
                problems.append(f"{flag} must be true or false")
        if settings.get("forum") is True and thread_id is not None:
            problems.append("forum and thread_id exclude each other: a forum post opens a thread of its own")
        username = settings.get("username")
        if username is not None and not (
            isinstance(username, str) and 1 <= len(username.strip()) <= USERNAME_LIMIT
        ):
            problems.append(f"username must be 1 to {USERNAME_LIMIT} characters")
        return problems

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the credentials' shape, without calling Discord."""
        if parse_webhook_url(credentials.get("webhook_url")) is None:
            return [
                "webhook_url must be a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>)"
            ]
        return []

    def validate(self, draft: Draft) -> list[str]:
        problems = [
            problem
            for number, text in enumerate((draft.text, *draft.thread))
            for problem in _text_problems(text, number)
        ]
        if draft.media:
            problems.append("Discord posts from Crier take text only: remove the media")
        name = draft.options.get("thread_name")
        if name is not None and not (isinstance(name, str) and 1 <= len(name.strip()) <= THREAD_NAME_LIMIT):
            problems.append(f"thread_name must be 1 to {THREAD_NAME_LIMIT} characters")
        return problems

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return text_previews(
            draft,
            limit=DISCORD_LIMIT,
            length=discord_length,
            problems=lambda index, text: _text_problems(text, index),
        )

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """Post the text, then each thread item, each a message of its own."""
        webhook = self._webhook(account)
        problems = self.check_settings(account.settings) + self.validate(draft)
        if problems:
            raise Rejected("Discord: not sent: " + "; ".join(problems))
        settings = account.settings
        forum = settings.get("forum") is True
        # Read before anything is posted: a deleted webhook or an outage stops here with nothing sent.
        guild_id = self._guild_of(webhook)
        thread_id: str | None = settings.get("thread_id")
        in_thread = thread_id is not None or forum
        pause = 0.0

        def send(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            nonlocal pause
            if index == 0:
                payload = self._payload(account, draft.text)
                if forum:
                    payload["thread_name"] = _thread_name(draft)
                message, pause = self._execute(webhook, payload, thread_id)
            else:
                # A forum post's thread is the channel its first message went to.
                into = parts[0].external_id.partition("/")[0] if forum else thread_id
                payload = self._payload(account, draft.thread[index - 1])
                message, pause = self._execute_later(webhook, payload, into, pause)
            return message_part(message, guild_id, in_thread)

        return send

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Each message's reactions, summed, as likes: the webhook may read back the messages it sent."""
        webhook = self._webhook(account)
        readings: dict[str, Engagement | PostGone] = {}
        for external_id in external_ids:
            url, params = self._message_url(webhook, external_id)
            try:
                response = self._call("GET", webhook, url, what="Discord metrics", params=params)
            except PostGone as gone:
                readings[external_id] = gone
                continue
            reactions = response.json().get("reactions") or []
            likes = sum(int(reaction.get("count", 0)) for reaction in reactions)
            readings[external_id] = Engagement(likes=likes, raw={"reactions": reactions})
        return readings

    def _message_url(self, webhook: Webhook, external_id: str) -> tuple[str, dict[str, str]]:
        thread_id, _, message_id = external_id.rpartition("/")
        if not SNOWFLAKE.fullmatch(message_id) or (thread_id and not SNOWFLAKE.fullmatch(thread_id)):
            raise Rejected(f"Discord: {external_id!r} is not a message this adapter published.")
        params = {"thread_id": thread_id} if thread_id else {}
        return f"{self._webhook_url(webhook)}/messages/{message_id}", params

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """The message's new content (Edit Webhook Message, PATCH): a webhook may edit what it sent."""
        webhook = self._webhook(account)
        problems = _text_problems(draft.text, 0)
        if problems:
            raise Rejected("Discord: not edited: " + "; ".join(problems))
        url, params = self._message_url(webhook, external_id)
        response = self._call(
            "PATCH",
            webhook,
            url,
            what="Discord edit",
            write=True,
            params=params,
            json={"content": draft.text},
        )
        return message_part(message_of(response), self._guild_of(webhook), "/" in external_id)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        """Whether the message's content is the draft's text now (Get Webhook Message)."""
        webhook = self._webhook(account)
        url, params = self._message_url(webhook, external_id)
        response = self._call("GET", webhook, url, what="Discord", params=params)
        return object_of(response).get("content") == draft.text

    def delete(self, account: Account, external_id: str) -> None:
        webhook = self._webhook(account)
        url, params = self._message_url(webhook, external_id)
        self._call("DELETE", webhook, url, what="Discord delete", write=True, params=params)

    def verify(self, account: Account) -> Profile:
        webhook = self._webhook(account)
        found = self._get_webhook(webhook)
        name = found.get("name") or "Discord webhook"
        channel = found.get("channel_id")
        guild = found.get("guild_id")
        return Profile(
            handle=str(name),
            display_name=str(name),
            url=f"{APP_URL}/{guild}/{channel}" if guild and channel else None,
        )

    def _webhook(self, account: Account) -> Webhook:
        webhook = parse_webhook_url(account.credentials.get("webhook_url"))
        if webhook is None:
            raise AuthExpired("Discord: the channel's webhook URL is missing or malformed; reconnect it.")
        return webhook

    def _call(
        self, method: str, webhook: Webhook, url: str, *, what: str, write: bool = False, **request: Any
    ) -> httpx.Response:
        """One call with the webhook's token in its URL; the error an unsuccessful answer means."""
        response = self._calls.send(method, url, what=what, write=write, secrets=[webhook.token], **request)
        self._calls.check(response, what=what, write=write)
        return response

    def _webhook_url(self, webhook: Webhook) -> str:
        return f"{self._api_base}/webhooks/{webhook.id}/{webhook.token}"

    def _payload(self, account: Account, text: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"content": text}
        # A scheduled post must not ping @everyone or a role by surprise; a channel may allow it.
        if account.settings.get("allow_mentions") is not True:
            payload["allowed_mentions"] = {"parse": []}
        if isinstance(account.settings.get("username"), str):
            payload["username"] = account.settings["username"]
        return payload

    def _get_webhook(self, webhook: Webhook) -> dict[str, Any]:
        found = object_of(self._call("GET", webhook, self._webhook_url(webhook), what="Discord"))
        with self._guilds_lock:
            self._guilds[webhook.id] = _optional_str(found.get("guild_id"))
        return found

    def _guild_of(self, webhook: Webhook) -> str | None:
        with self._guilds_lock:
            if webhook.id in self._guilds:
                return self._guilds[webhook.id]
        return _optional_str(self._get_webhook(webhook).get("guild_id"))

    def _execute(
        self, webhook: Webhook, payload: dict[str, Any], thread_id: str | None
    ) -> tuple[dict[str, Any], float]:
        """Post one message; it, and how long Discord says to wait before the next."""
        params = {"wait": "true"}
        if thread_id:
            params["thread_id"] = thread_id
        response = self._call(
            "POST",
            webhook,
            self._webhook_url(webhook),
            what="Discord",
            write=True,
            params=params,
            json=payload,
        )
        message = message_of(response)
        if not isinstance(message.get("id"), str) or not message.get("channel_id"):
            raise OutcomeUnknown("Discord: answered without the message's id; look in the channel.")
        return message, pause_after(response)

    def _execute_later(
        self, webhook: Webhook, payload: dict[str, Any], thread_id: str | None, pause: float
    ) -> tuple[dict[str, Any], float]:
        """A thread item: paced by the bucket, and tried once more after a short 429 (nothing was sent)."""
        if pause:
            self._sleep(pause)
        try:
            return self._execute(webhook, payload, thread_id)
        except RateLimited as limited:
            wait = (limited.reset_at - datetime.now(UTC)).total_seconds() if limited.reset_at else None
            if wait is None or wait > self._max_pause:
                raise
            self._sleep(max(wait, 0.0))
            return self._execute(webhook, payload, thread_id)


def _text_problems(text: str, number: int) -> list[str]:
    where = part_label(number)
    if not text.strip():
        return [f"{where} is empty"]
    length = discord_length(text)
    if length > DISCORD_LIMIT:
        return [f"{where} is {length} characters long; Discord allows {DISCORD_LIMIT}"]
    return []


def _thread_name(draft: Draft) -> str:
    name = draft.options.get("thread_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    first_line = draft.text.strip().splitlines()[0]
    return first_line if len(first_line) <= THREAD_NAME_LIMIT else first_line[: THREAD_NAME_LIMIT - 1] + "…"


def _optional_str(value: object) -> str | None:
    return str(value) if value is not None else None
