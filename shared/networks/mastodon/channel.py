"""A Mastodon channel's options, and what a draft may be on Mastodon."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.networks.outbound import AddressPolicy
from shared.networks.ports import Draft, MediaRule, ReplyTarget
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.parts import empty_problems
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, check_server_url, unknown_options
from shared.text.mastodon import MASTODON_DEFAULT_LIMIT, MASTODON_DEFAULT_URL_WEIGHT

# From the most open to the most closed.
VISIBILITIES = ("public", "unlisted", "private", "direct")
# An account as a mention names it: `user`, or `user@server` for one on another server.
ACCT = re.compile(r"[A-Za-z0-9_]+(?:[.-]+[A-Za-z0-9_]+)*(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?")
SETTING_KEYS = frozenset({"base_url", "visibility", "language", LEGACY_LOOPBACK_SETTING})

VIDEO_TYPES = ("video/mp4",)
VIDEO_MAX_BYTES = 99 * 1024 * 1024
MEDIA_RULE = MediaRule(
    content_types=("image/jpeg", "image/png", "image/gif", "image/webp", *VIDEO_TYPES),
    # The image limit; a video may be up to VIDEO_MAX_BYTES, checked in draft_problems().
    max_bytes=16 * 1024 * 1024,
    max_items=4,
    alt_text_limit=1500,
)


@dataclass(frozen=True)
class ChannelSettings:
    """A Mastodon channel's options, checked."""

    base_url: str
    visibility: str | None = None
    language: str | None = None

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc


@dataclass(frozen=True)
class InstanceLimits:
    """What a server announces about statuses (GET /api/v2/instance, configuration.statuses)."""

    max_characters: int = MASTODON_DEFAULT_LIMIT
    characters_reserved_per_url: int = MASTODON_DEFAULT_URL_WEIGHT


def check_base_url(value: object, policy: AddressPolicy) -> tuple[str | None, list[str]]:
    """The server's address, normalised, or the problems with it."""
    return check_server_url(
        value,
        setting="base_url",
        example="https://mastodon.social",
        secret="an access token",
        policy=policy,
    )


def parse_settings(
    settings: Mapping[str, Any], policy: AddressPolicy
) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used.

    `allow_insecure_loopback`, which older channels carry, is read and ignored (see LEGACY_LOOPBACK_SETTING).
    """
    problems = unknown_options(settings, SETTING_KEYS)
    base_url, url_problems = check_base_url(settings.get("base_url"), policy)
    problems += url_problems
    visibility = settings.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"visibility must be one of {', '.join(VISIBILITIES)}")
    language = settings.get("language")
    if language is not None and not (
        isinstance(language, str) and language.isascii() and language.isalpha() and 2 <= len(language) <= 3
    ):
        problems.append("language must be an ISO 639 code such as 'en' or 'de'")
    if problems or base_url is None:
        return None, problems
    return ChannelSettings(base_url=base_url, visibility=visibility, language=language), []


def draft_problems(draft: Draft) -> list[str]:
    """What Mastodon would refuse in the draft, but for its length: each server sets its own limit."""
    media = media_problems(
        draft.media,
        MEDIA_RULE,
        "Mastodon",
        alone=VIDEO_TYPES,
        limits=dict.fromkeys(VIDEO_TYPES, VIDEO_MAX_BYTES),
    )
    return empty_problems(draft) + _option_problems(draft.options) + media + _reply_problems(draft.reply_to)


def status_texts(draft: Draft) -> tuple[str, ...]:
    """Each status's text as sent: the post's first, which for a reply names the author it answers.

    Mastodon notifies only the accounts a status mentions, not the author of the status it replies to, so
    a reply whose text does not mention them already starts with "@acct " (as Mastodon's own clients
    start one): without it the person never hears of the answer.
    """
    text = draft.text
    if draft.reply_to is not None:
        acct = str(draft.reply_to.ref["acct"])
        named = re.compile(rf"(?<![\w@/])@{re.escape(acct)}(?![\w@.-]*\w)", re.IGNORECASE)
        if not named.search(text):
            text = f"@{acct} {text}"
    return (text, *draft.thread)


def content_warning(draft: Draft) -> str:
    warning = draft.options.get("content_warning") or ""
    return warning if isinstance(warning, str) else ""


def status_fields(channel: ChannelSettings, draft: Draft) -> dict[str, Any]:
    """The form fields every status of the draft shares: a content warning covers the whole thread."""
    visibility = draft.options.get("visibility") or channel.visibility
    if draft.reply_to is not None:
        visibility = reply_visibility(visibility, draft.reply_to.ref.get("visibility"))
    return {
        "spoiler_text": content_warning(draft),
        "visibility": visibility,
        "language": draft.options.get("language") or channel.language,
    }


def reply_visibility(chosen: str | None, answered: object) -> str | None:
    """A reply is no more open than what it answers: an answer to a private mention stays private.

    Mastodon's own clients choose so; the server would publish a public answer to a direct message.
    """
    if not isinstance(answered, str) or answered not in VISIBILITIES:
        return chosen
    if chosen is None:
        # The account's default applies, which may be public: only a closed status must close the answer.
        return answered if answered in ("private", "direct") else None
    return max(chosen, answered, key=VISIBILITIES.index)


def _reply_problems(reply_to: ReplyTarget | None) -> list[str]:
    if reply_to is None:
        return []
    problems = []
    if not reply_to.external_id.strip():
        problems.append("the post to reply to has no id")
    acct = reply_to.ref.get("acct")
    if not isinstance(acct, str) or not ACCT.fullmatch(acct):
        problems.append("the post to reply to names no account to answer (ref 'acct' such as 'user@server')")
    visibility = reply_to.ref.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"the post to reply to has an unknown visibility {visibility!r}")
    return problems


def _option_problems(options: Mapping[str, Any]) -> list[str]:
    problems = []
    if not isinstance(options.get("content_warning") or "", str):
        problems.append("content_warning must be text")
    visibility = options.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"visibility must be one of {', '.join(VISIBILITIES)}")
    return problems
