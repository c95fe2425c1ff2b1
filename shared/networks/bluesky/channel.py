"""A Bluesky channel's options, and what a draft may be on Bluesky."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.networks.bluesky.record_keys import split_uri
from shared.networks.outbound import AddressPolicy
from shared.networks.ports import Draft, MediaRule, Rejected, ReplyTarget
from shared.networks.toolkit.media import media_problems
from shared.networks.toolkit.parts import empty_problems, labelled_texts
from shared.networks.toolkit.settings import LEGACY_LOOPBACK_SETTING, check_server_url, unknown_options
from shared.text.bluesky import BLUESKY_MAX_BYTES, BLUESKY_MAX_GRAPHEMES, bluesky_length

DEFAULT_PDS = "https://bsky.social"
SETTING_KEYS = frozenset({"pds_url", "langs", LEGACY_LOOPBACK_SETTING})

# app.bsky.embed.images: `image` is a blob of maxSize 1000000; at most 4 images; no limit on `alt`.
MEDIA_RULE = MediaRule(
    content_types=("image/jpeg", "image/png", "image/webp", "image/gif"),
    max_bytes=1_000_000,
    max_items=4,
    alt_text_limit=None,
)
# app.bsky.feed.post: `langs` holds at most 3 language tags.
MAX_LANGS = 3


@dataclass(frozen=True)
class ChannelSettings:
    """A Bluesky channel's options, checked."""

    pds_url: str
    langs: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.pds_url).netloc


def parse_settings(
    settings: Mapping[str, Any], policy: AddressPolicy
) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used.

    `allow_insecure_loopback`, which older channels carry, is read and ignored (see LEGACY_LOOPBACK_SETTING).
    """
    problems = unknown_options(settings, SETTING_KEYS)
    pds_url, url_problems = check_server_url(
        settings.get("pds_url", DEFAULT_PDS),
        setting="pds_url",
        example=DEFAULT_PDS,
        secret="an app password",
        policy=policy,
    )
    problems += url_problems
    langs, lang_problems = check_langs(settings.get("langs"))
    problems += lang_problems
    if problems or pds_url is None:
        return None, problems
    return ChannelSettings(pds_url=pds_url, langs=langs), []


def check_langs(value: object) -> tuple[tuple[str, ...], list[str]]:
    if value is None:
        return (), []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(_is_language_tag(lang) for lang in value):
        return (), ["langs must be a list of language tags such as ['en'] or ['pt-BR']"]
    if len(value) > MAX_LANGS:
        return (), [f"langs may name at most {MAX_LANGS} languages"]
    return tuple(value), []


def _is_language_tag(value: object) -> bool:
    # BCP 47 in its common shapes: a 2-3 letter language, then subtags of letters and digits.
    if not isinstance(value, str) or not value.isascii():
        return False
    language, *subtags = value.split("-")
    return (
        language.isalpha()
        and 2 <= len(language) <= 3
        and all(subtag.isalnum() and 1 <= len(subtag) <= 8 for subtag in subtags)
    )


def draft_problems(draft: Draft) -> list[str]:
    """What Bluesky would refuse in the draft."""
    problems = empty_problems(draft)
    for label, text in labelled_texts(draft):
        problems += [f"{label} {problem}" for problem in length_problems(text)]
    problems += media_problems(draft.media, MEDIA_RULE, "Bluesky") + _option_problems(draft)
    if draft.reply_to is not None:
        problems += reply_problems(draft.reply_to)
    return problems


def reply_problems(target: ReplyTarget) -> list[str]:
    """What keeps a reply to `target` from being made: app.bsky.feed.post's `reply` holds strong references
    (URI and content id) to the post answered and to its thread's root, and the inbox's entry carries both."""
    ref = target.ref
    uris = {"the post answered": target.external_id, "its thread's first post": ref.get("root_uri")}
    problems = []
    for what, uri in uris.items():
        try:
            split_uri(str(uri))
        except Rejected:
            problems.append(f"the reply's target names no Bluesky post as {what} ({uri!r})")
    cids = {"the post answered": ref.get("cid"), "its thread's first post": ref.get("root_cid")}
    for what, cid in cids.items():
        if not isinstance(cid, str) or not cid:
            problems.append(f"the reply's target lacks the content id of {what}: read it again")
    return problems


def length_problems(text: str) -> list[str]:
    graphemes, size = bluesky_length(text)
    problems = []
    if graphemes > BLUESKY_MAX_GRAPHEMES:
        problems.append(f"is {graphemes} graphemes long; Bluesky allows {BLUESKY_MAX_GRAPHEMES}")
    if size > BLUESKY_MAX_BYTES:
        problems.append(f"is {size} bytes of UTF-8; Bluesky allows {BLUESKY_MAX_BYTES}")
    return problems


def _option_problems(draft: Draft) -> list[str]:
    problems = []
    if "langs" in draft.options:
        problems += check_langs(draft.options["langs"])[1]
    card = draft.options.get("link_card")
    if card is not None:
        if not isinstance(card, Mapping) or not isinstance(card.get("uri"), str):
            problems.append("link_card must have a uri, and may have a title and a description")
        elif draft.media:
            problems.append("a post carries images or a link card, not both")
    return problems


def langs_of(draft: Draft, channel: ChannelSettings) -> tuple[str, ...]:
    if "langs" in draft.options:
        return check_langs(draft.options["langs"])[0]
    return channel.langs
