"""Reading the Bot API's answers: `{"ok": false, "error_code": N, "description": "…", "parameters": {…}}`.

What the ladder cannot tell from the status alone, Telegram says in `description`:
- a bot removed from the channel, or no longer allowed to post there (403 "Forbidden: bot was kicked from
  the channel chat", "bot is not a member of the channel chat"; 400 "not enough rights to send …", "need
  administrator rights in the channel chat", "CHAT_WRITE_FORBIDDEN"), and a chat the bot cannot see
  (400 "chat not found", which is what a channel whose bot was removed answers to its numeric id): the
  token may be fine, but a person must give the bot its place back, and until then every post would be
  refused the same way. They are read as dead credentials, so the channel is marked for reconnection and
  its deliveries wait, rather than each failing in turn;
- a group that became a supergroup (`parameters.migrate_to_chat_id`): refused, naming the new id to set;
- a message gone (400 "message to delete not found", "message to edit not found"): PostGone;
- a 429's wait, in `parameters.retry_after` (seconds).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.networks.ports import NetworkError, PostGone, Rejected
from shared.networks.toolkit.answers import retry_at, sanitized
from shared.networks.toolkit.calls import Dialect

_ACCESS_LOST = re.compile(
    r"bot was kicked|bot is not a member|not enough rights|need administrator rights|have no rights"
    r"|chat_write_forbidden|chat_admin_required|chat not found",
    re.IGNORECASE,
)
_MESSAGE_GONE = re.compile(r"message to (?:delete|edit) not found|message_id_invalid", re.IGNORECASE)
_NOT_MODIFIED = re.compile(r"message is not modified", re.IGNORECASE)
_NO_TEXT_TO_EDIT = re.compile(r"there is no text in the message to edit", re.IGNORECASE)
_CANNOT_DELETE = re.compile(r"message can't be deleted", re.IGNORECASE)


class NotModified(Rejected):
    """An edit to what the message already says (400 "message is not modified"): nothing changed, and
    nothing needs to."""


class NoTextToEdit(Rejected):
    """editMessageText to a message with a caption instead of a text (a photo, a video, an album)."""


class CannotDelete(Rejected):
    """deleteMessage refused: the message is older than Telegram lets a bot delete, or the bot lacks the
    right."""


class TelegramDialect(Dialect):
    """Telegram's JSON errors; a body that is not one (a proxy's page, another server's JSON) is read by the
    ladder as it comes, so its words count too."""

    def own_error(self, response: httpx.Response, what: str) -> NetworkError | None:
        body = error_body(response)
        description = description_of(body)
        if response.status_code == 400 and _MESSAGE_GONE.search(description):
            return PostGone(f"{what}: the message no longer exists ({sanitized(description)}).")
        said = f"{what} answered {response.status_code}: {sanitized(description)}"
        if response.status_code == 400 and _NOT_MODIFIED.search(description):
            return NotModified(said)
        if response.status_code == 400 and _NO_TEXT_TO_EDIT.search(description):
            return NoTextToEdit(said)
        if response.status_code == 400 and _CANNOT_DELETE.search(description):
            return CannotDelete(
                f"{said} (Telegram lets a bot delete a channel post only within 48 hours of sending it, and "
                "only with the right to post or delete messages there: delete it in a Telegram app)"
            )
        parameters = body.get("parameters")
        if isinstance(parameters, dict) and parameters.get("migrate_to_chat_id") is not None:
            new_id = sanitized(str(parameters["migrate_to_chat_id"]))
            return Rejected(
                f"{what} answered {response.status_code}: {sanitized(description) or 'the chat moved'} "
                f"(the group became a supergroup: set the channel's chat_id to {new_id})"
            )
        if response.status_code == 409 and "webhook" in description.lower():
            return Rejected(
                f"{what} answered 409: {sanitized(description)} (the bot takes its updates by webhook; "
                "Crier reads its inbox and reactions with getUpdates, which Telegram refuses while a webhook "
                "is set: delete the webhook, or give Crier a bot of its own)"
            )
        return None

    def words(self, response: httpx.Response) -> str | None:
        description = description_of(error_body(response))
        return sanitized(description) if description else None

    def credentials_refused(self, response: httpx.Response) -> bool:
        if response.status_code not in (400, 403):
            return False
        return bool(_ACCESS_LOST.search(description_of(error_body(response))))

    def reset_at(self, response: httpx.Response) -> datetime | None:
        parameters = error_body(response).get("parameters")
        seconds = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            return retry_at(response.headers, datetime.now(UTC), float(seconds))
        return None


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The Bot API's error object; an empty one when the body is not one (then the ladder reads it)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, dict) and body.get("ok") is False:
        return body
    return {}


def description_of(body: dict[str, Any]) -> str:
    description = body.get("description")
    return description if isinstance(description, str) else ""
