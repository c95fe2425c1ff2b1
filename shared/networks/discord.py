"""Discord: posts through a channel's incoming webhook.

Follows Discord's developer documentation: Webhook Resource (Execute Webhook with `?wait=true`, which
answers with the created message; `thread_id` and `thread_name`; Get Webhook with Token; Delete Webhook
Message), Rate Limits (a 429 carries `retry_after` in its JSON body, `Retry-After`,
`X-RateLimit-Reset-After` and `X-RateLimit-Scope`; "if a webhook returns a 404 status you should not attempt
to use it again"), and Opcodes and Status Codes (JSON error codes 10003 Unknown Channel, 10008 Unknown
Message, 10015 Unknown Webhook, 50027 Invalid Webhook Token).

The webhook URL is the credential: anyone holding it can post as the webhook. It is parsed into its id and
token and rebuilt against Discord's API, so a stored URL can never send a request elsewhere, and neither the
URL nor its token appears in any error.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.config import Settings
from shared.networks.outbound import DEFAULT_TIMEOUT, Outbound
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    NetworkError,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    TextPreview,
)
from shared.networks.toolkit.answers import refusal, retry_at, sanitized
from shared.networks.toolkit.calls import keep_secrets_out_of_http_logs, transport_failure
from shared.networks.toolkit.write_only import WriteOnly
from shared.text.discord import DISCORD_LIMIT, discord_length

API_BASE = "https://discord.com/api/v10"
APP_URL = "https://discord.com/channels"
WEBHOOK_URL = re.compile(
    r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/(?P<id>\d{1,25})/(?P<token>[\w-]{1,200})/?"
)
SNOWFLAKE = re.compile(r"\d{1,25}")
THREAD_NAME_LIMIT = 100
USERNAME_LIMIT = 80
# Between the messages of one thread Crier waits out Discord's bucket when it says it is empty, but not
# for longer than this: a longer wait would hold a worker thread, and the rest goes to a person instead.
MAX_PAUSE_SECONDS = 5.0

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027


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


class DiscordNetwork(WriteOnly):
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
        keep_secrets_out_of_http_logs()
        self._http = (outbound or Outbound()).client(timeout)
        self._api_base = api_base.rstrip("/")
        self._max_pause = max_pause_seconds
        self._sleep = sleep
        # Each webhook's server (guild), needed for message links; a webhook never changes server.
        self._guilds: dict[str, str | None] = {}
        self._guilds_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscordNetwork:
        return cls(Outbound.from_settings(settings))

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = [f"unknown option {key!r}" for key in settings if key not in self.SETTINGS]
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
        return [
            TextPreview(
                text=text,
                length=discord_length(text),
                limit=DISCORD_LIMIT,
                problems=tuple(_text_problems(text, number)),
            )
            for number, text in enumerate((draft.text, *draft.thread))
        ]

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Post the text, then each thread item, each a message of its own; go on after `published`."""
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
        parts = list(published[: 1 + len(draft.thread)])
        pause = 0.0
        if not parts:
            first_payload = self._payload(account, draft.text)
            if forum:
                first_payload["thread_name"] = _thread_name(draft)
            first, pause = self._execute(webhook, first_payload, thread_id)
            parts.append(_part(first, guild_id, in_thread))
        if forum:
            # The forum post's thread is the channel its first message went to.
            thread_id = parts[0].external_id.partition("/")[0]
        for number in range(len(parts), len(draft.thread) + 1):
            try:
                payload = self._payload(account, draft.thread[number - 1])
                message, pause = self._execute_later(webhook, payload, thread_id, pause)
            except NetworkError as error:
                raise error.after(parts) from None
            parts.append(_part(message, guild_id, in_thread))
        return PublishedPost.of(parts)

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Each message's reactions, summed, as likes: the webhook may read back the messages it sent."""
        webhook = self._webhook(account)
        readings: dict[str, Engagement | PostGone] = {}
        for external_id in external_ids:
            url, params = self._message_url(webhook, external_id)
            try:
                response = self._http.get(url, params=params)
            except httpx.TransportError as error:
                raise transport_failure(
                    error, what="Discord metrics", secrets=[webhook.token], sent_a_write=False
                ) from None
            try:
                _raise_for(response, "Discord metrics", sent_a_write=False)
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
        try:
            response = self._http.patch(url, params=params, json={"content": draft.text})
        except httpx.TransportError as error:
            raise transport_failure(error, what="Discord edit", secrets=[webhook.token]) from None
        _raise_for(response, "Discord edit", sent_a_write=True)
        message = _json_object(response, published=True)
        return _part(message, self._guild_of(webhook), "/" in external_id)

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        """Whether the message's content is the draft's text now (Get Webhook Message)."""
        webhook = self._webhook(account)
        url, params = self._message_url(webhook, external_id)
        try:
            response = self._http.get(url, params=params)
        except httpx.TransportError as error:
            raise transport_failure(
                error, what="Discord", secrets=[webhook.token], sent_a_write=False
            ) from None
        _raise_for(response, "Discord", sent_a_write=False)
        return _json_object(response).get("content") == draft.text

    def delete(self, account: Account, external_id: str) -> None:
        webhook = self._webhook(account)
        url, params = self._message_url(webhook, external_id)
        try:
            response = self._http.delete(url, params=params)
        except httpx.TransportError as error:
            raise transport_failure(error, what="Discord delete", secrets=[webhook.token]) from None
        _raise_for(response, "Discord delete", sent_a_write=True)

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
        try:
            response = self._http.get(self._webhook_url(webhook))
        except httpx.TransportError as error:
            raise transport_failure(
                error, what="Discord", secrets=[webhook.token], sent_a_write=False
            ) from None
        _raise_for(response, "Discord", sent_a_write=False)
        found = _json_object(response)
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
        try:
            response = self._http.post(self._webhook_url(webhook), params=params, json=payload)
        except httpx.TransportError as error:
            raise transport_failure(error, what="Discord", secrets=[webhook.token]) from None
        _raise_for(response, "Discord", sent_a_write=True)
        message = _json_object(response, published=True)
        if not isinstance(message.get("id"), str) or not message.get("channel_id"):
            raise OutcomeUnknown("Discord: answered without the message's id; look in the channel.")
        return message, _pause_after(response)

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


def _raise_for(response: httpx.Response, what: str, *, sent_a_write: bool) -> None:
    """Raise the port's error for a Discord answer that is not a success (shared.networks.answers)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = _json_object(response) if _is_json(response) else {}
    code = body.get("code")
    if status == 404 and code == UNKNOWN_MESSAGE:
        raise PostGone(f"{what}: the message no longer exists ({_describe(body)}).")
    # Discord's JSON errors name a code and the fields at fault; anything else (a proxy's page, another
    # server's JSON) is read as it comes, so its words count too: a token said to be invalid is one.
    words = (_describe(body) if body else "") or None
    if status == 429:
        scope = response.headers.get("X-RateLimit-Scope") or ("global" if body.get("global") else "webhook")
        words = f"rate limited ({scope} limit): {words or 'You are being rate limited.'}"
    raise refusal(
        response,
        what=what,
        write=sent_a_write,
        words=words,
        # A deleted webhook (10015) or a reset token (50027): only a new webhook URL helps.
        credentials_refused=(status == 404 and code == UNKNOWN_WEBHOOK) or code == INVALID_WEBHOOK_TOKEN,
        reset_at=(
            retry_at(response.headers, datetime.now(UTC), _retry_after_seconds(response, body))
            if status == 429
            else None
        ),
    )


def _retry_after_seconds(response: httpx.Response, body: Mapping[str, Any]) -> float | None:
    """The wait a 429 asks for: the body's `retry_after` (to the millisecond), else X-RateLimit-Reset-After.

    None leaves retry_at to read the Retry-After header, in whole seconds.
    """
    seconds = body.get("retry_after")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    try:
        return float(response.headers["X-RateLimit-Reset-After"])
    except (KeyError, ValueError):
        return None


def _describe(body: Mapping[str, Any]) -> str:
    """`code 50035: Invalid Form Body (content: Must be 2000 or fewer in length.)`"""
    said = f"code {body['code']}" if "code" in body else ""
    if isinstance(body.get("message"), str):
        said += f": {body['message']}" if said else body["message"]
    details = list(_field_errors(body.get("errors"), ""))
    if details:
        said += " (" + "; ".join(details[:3]) + ")"
    return sanitized(said)


def _field_errors(errors: object, path: str) -> list[str]:
    """The leaf messages of Discord's nested `errors` object, each with its field path."""
    if not isinstance(errors, dict):
        return []
    found: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            found += [f"{path or 'body'}: {item.get('message')}" for item in value if isinstance(item, dict)]
        else:
            found += _field_errors(value, f"{path}.{key}" if path else str(key))
    return found


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("application/json")


def _json_object(response: httpx.Response, *, published: bool = False) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if published:
        raise OutcomeUnknown("Discord: answered 2xx with an unreadable body; the message is probably out.")
    return {}


def _pause_after(response: httpx.Response) -> float:
    """How long to wait before the next message, when Discord says the bucket is empty."""
    if response.headers.get("X-RateLimit-Remaining") != "0":
        return 0.0
    try:
        return max(float(response.headers.get("X-RateLimit-Reset-After", "0")), 0.0)
    except ValueError:
        return 0.0


def _text_problems(text: str, number: int) -> list[str]:
    where = "the text" if number == 0 else f"thread item {number}"
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


def _reference(message: Mapping[str, Any], in_thread: bool) -> str:
    """The external id: the message id, prefixed by its thread's id when it is in one (delete needs it)."""
    return f"{message['channel_id']}/{message['id']}" if in_thread else str(message["id"])


def _part(message: Mapping[str, Any], guild_id: str | None, in_thread: bool) -> PublishedPart:
    """A sent message as one part of a delivery, dated by Discord's `timestamp`."""
    try:
        created_at: datetime | None = datetime.fromisoformat(str(message["timestamp"]))
    except (KeyError, ValueError):
        created_at = None
    if created_at is not None and created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return PublishedPart(
        external_id=_reference(message, in_thread), url=_message_url(guild_id, message), created_at=created_at
    )


def _message_url(guild_id: str | None, message: Mapping[str, Any]) -> str:
    if guild_id is None:
        return ""
    return f"{APP_URL}/{guild_id}/{message['channel_id']}/{message['id']}"


def _optional_str(value: object) -> str | None:
    return str(value) if value is not None else None
