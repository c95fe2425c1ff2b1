"""A Mastodon channel's options, and what a draft may be on Mastodon."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.networks.outbound import AddressPolicy
from shared.networks.ports import Draft, MediaItem
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, check_server_url, unknown_options
from shared.text.mastodon import MASTODON_DEFAULT_LIMIT, MASTODON_DEFAULT_URL_WEIGHT

VISIBILITIES = ("public", "unlisted", "private", "direct")
SETTING_KEYS = frozenset({"base_url", "visibility", "language", LEGACY_LOOPBACK_SETTING})

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4",)
IMAGE_MAX_BYTES = 16 * 1024 * 1024
VIDEO_MAX_BYTES = 99 * 1024 * 1024
MAX_MEDIA = 4
ALT_TEXT_LIMIT = 1500


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
    problems: list[str] = []
    if not draft.text.strip() and not draft.media:
        problems.append("the text is empty")
    problems += [
        f"thread item {index} is empty" for index, text in enumerate(draft.thread, 1) if not text.strip()
    ]
    return problems + _option_problems(draft.options) + _media_problems(draft.media)


def content_warning(draft: Draft) -> str:
    warning = draft.options.get("content_warning") or ""
    return warning if isinstance(warning, str) else ""


def status_fields(channel: ChannelSettings, draft: Draft) -> dict[str, Any]:
    """The form fields every status of the draft shares: a content warning covers the whole thread."""
    return {
        "spoiler_text": content_warning(draft),
        "visibility": draft.options.get("visibility") or channel.visibility,
        "language": draft.options.get("language") or channel.language,
    }


def _option_problems(options: Mapping[str, Any]) -> list[str]:
    problems = []
    if not isinstance(options.get("content_warning") or "", str):
        problems.append("content_warning must be text")
    visibility = options.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(f"visibility must be one of {', '.join(VISIBILITIES)}")
    return problems


def _media_problems(media: Sequence[MediaItem]) -> list[str]:
    problems = []
    if len(media) > MAX_MEDIA:
        problems.append(f"{len(media)} attachments; Mastodon takes at most {MAX_MEDIA}")
    videos = [item for item in media if item.content_type in VIDEO_TYPES]
    if videos and len(media) > 1:
        problems.append("a video must be the only attachment")
    for number, item in enumerate(media, 1):
        if item.content_type not in IMAGE_TYPES + VIDEO_TYPES:
            problems.append(f"attachment {number}: Crier sends {', '.join(IMAGE_TYPES + VIDEO_TYPES)} only")
            continue
        limit = VIDEO_MAX_BYTES if item in videos else IMAGE_MAX_BYTES
        if len(item.data) > limit:
            problems.append(f"attachment {number} is {len(item.data)} bytes; the limit is {limit}")
        if item.alt_text and len(item.alt_text) > ALT_TEXT_LIMIT:
            problems.append(f"attachment {number}: the description is over {ALT_TEXT_LIMIT} characters")
    return problems
