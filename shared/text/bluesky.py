"""Bluesky posts: their two length limits, and the rich-text facets that make links, mentions and tags live.

Documents followed:
- The `app.bsky.feed.post` lexicon (https://github.com/bluesky-social/atproto, lexicons/app/bsky/feed/
  post.json): `text` is at most 300 graphemes (`maxGraphemes`) and at most 3000 bytes of UTF-8
  (`maxLength`).
- The `app.bsky.richtext.facet` lexicon (lexicons/app/bsky/richtext/facet.json): a facet's `byteStart` is
  inclusive and its `byteEnd` exclusive, both counting bytes of the UTF-8 text; a link carries a complete
  `uri`, a mention the account's `did`, a tag its `tag` without the `#` (at most 640 bytes and 64 graphemes).
- "Links, mentions, and rich text", https://docs.bsky.app/docs/advanced-guides/post-richtext — facets may
  not overlap, and renderers discard those that do; strings are indexed by UTF-8 byte, never by character.
- How the official clients find facets (`detectFacets` in @atproto/api, bluesky-social/atproto,
  packages/api/src/rich-text/detection.ts and util.ts), in words:
  - A mention is `@` at the start of the text or after a space or `(`, then a handle of ASCII letters,
    digits, dots and hyphens that ends on a letter or digit. It counts only when the handle ends in `.` and
    a top-level domain IANA delegates, or in `.test`.
  - A link, at the start of the text or after a space or `(`, is either `http://` or `https://` and all that
    follows up to the next space, or a bare domain — labels of ASCII letters and digits, the first beginning
    with a letter, joined by dots, ending in a delegated top-level domain — with all that follows up to the
    next space; a bare domain's URI gets `https://` put before it. A trailing `.`, `,`, `;`, `:`, `!` or `?`
    is not part of the link, nor is a trailing `)` when the link holds no `(`.
  - A tag is `#` or the full-width U+FF03 at the start of the text or after a space, then characters up to the
    next space or zero-width character, at least one of which is neither an ASCII digit nor punctuation, and
    not starting with the emoji variation selector U+FE0F; trailing punctuation is not part of it. A tag is
    at most 64 UTF-16 units long, without its `#`.

Where this module differs from the official clients, it is on purpose: it takes the scheme and the
top-level domain in any case (the clients drop `HTTPS://EXAMPLE.COM` altogether); it strips every trailing
punctuation mark from a link, not just the last one, and a trailing `)` whenever the link's parentheses do not
balance (so `(see https://en.wikipedia.org/wiki/Foo_(bar))` links the article); a zero-width joiner or
non-joiner does not end a tag, since it sits inside a grapheme (`#👨‍👩‍👧‍👦`, Persian words) that the clients
would cut in two; it keeps tags to the lexicon's limits (64 graphemes and 640 bytes) where the clients count
64 UTF-16 units; and when facets overlap, which the clients let happen (`#a(https://example.com`), it keeps
a link over a mention over a tag, so that no link goes dead.

Whitespace here is what JavaScript's `\\s` matches, since that is what the clients split on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import regex

from shared.text.graphemes import grapheme_count
from shared.text.tlds import IANA_TOP_LEVEL_DOMAINS

BLUESKY_MAX_GRAPHEMES = 300
BLUESKY_MAX_BYTES = 3000
BLUESKY_TAG_MAX_GRAPHEMES = 64
BLUESKY_TAG_MAX_BYTES = 640

FacetKind = Literal["link", "mention", "tag"]


@dataclass(frozen=True)
class Facet:
    """A run of the post's text, by UTF-8 byte offsets (end exclusive), that is a link, mention or tag."""

    byte_start: int
    byte_end: int
    kind: FacetKind
    # The link's URI, the mentioned handle without its '@' (the adapter resolves it to a DID), or the tag
    # without its '#'.
    value: str


_SPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# The clients end a tag at any of these and at the joiners too; a joiner ends no tag here, because it sits
# inside a grapheme (a family emoji, a Persian word with a non-joiner), and ending there would split it.
_TAG_BREAK = r"\u00ad\u2060\u200a\u200b\u20e2"
_JOINERS = r"\u200c\u200d"

_MENTION = regex.compile(rf"(?:^|(?<=[{_SPACE}(]))@(?P<handle>[a-zA-Z0-9.-]*[a-zA-Z0-9])(?![a-zA-Z0-9_])")
_LINK = regex.compile(
    rf"""
    (?:^|(?<=[{_SPACE}(]))
    (?:
        (?P<scheme>https?://)[^{_SPACE}]+
        |(?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)[^{_SPACE}]*
    )
    """,
    regex.IGNORECASE | regex.VERBOSE,
)
_TAG = regex.compile(
    rf"""
    (?:^|(?<=[{_SPACE}]))[#\uff03]
    (?P<tag>
        (?!\ufe0f)
        [^{_SPACE}{_TAG_BREAK}]*
        [^0-9{_SPACE}\p{{P}}{_TAG_BREAK}{_JOINERS}]+
        [^{_SPACE}{_TAG_BREAK}]*
    )?
    """,
    regex.VERBOSE,
)
_TAG_TRAILING_PUNCTUATION = regex.compile(rf"[\p{{P}}{_JOINERS}]+\Z")
_LINK_TRAILING_PUNCTUATION = ".,;:!?"
# Reserved for testing (RFC 2606) and so never delegated, yet the clients accept handles in it.
_TEST_TOP_LEVEL_DOMAIN = frozenset({"test"})


def bluesky_length(text: str) -> tuple[int, int]:
    """The text's length in graphemes and in UTF-8 bytes, the two units Bluesky limits a post's text by."""
    return grapheme_count(text), len(text.encode("utf-8"))


def detect_facets(text: str) -> list[Facet]:
    """The links, mentions and tags in `text` as the official clients find them, sorted, none overlapping."""
    # (start, end) are code-point offsets until the end, where they become byte offsets.
    found: list[tuple[int, int, FacetKind, str]] = [*_links(text), *_mentions(text), *_tags(text)]
    kept: list[tuple[int, int, FacetKind, str]] = []
    for start, end, kind, value in found:
        if all(end <= other_start or other_end <= start for other_start, other_end, _, _ in kept):
            kept.append((start, end, kind, value))
    kept.sort()
    return [
        Facet(_utf8_offset(text, start), _utf8_offset(text, end), kind, value)
        for start, end, kind, value in kept
    ]


def _links(text: str) -> list[tuple[int, int, FacetKind, str]]:
    links: list[tuple[int, int, FacetKind, str]] = []
    for match in _LINK.finditer(text):
        if match["domain"] and not _has_delegated_top_level_domain(match["domain"]):
            continue
        end = match.end()
        while end > match.start() and (
            text[end - 1] in _LINK_TRAILING_PUNCTUATION
            or (
                text[end - 1] == ")"
                and text.count(")", match.start(), end) > text.count("(", match.start(), end)
            )
        ):
            end -= 1
        written = text[match.start() : end]
        if match["scheme"] and len(written) == len(match["scheme"]):
            continue
        uri = written if match["scheme"] else "https://" + written
        links.append((match.start(), end, "link", uri))
    return links


def _mentions(text: str) -> list[tuple[int, int, FacetKind, str]]:
    return [
        (match.start(), match.end(), "mention", match["handle"])
        for match in _MENTION.finditer(text)
        if _has_delegated_top_level_domain(match["handle"], also=_TEST_TOP_LEVEL_DOMAIN)
    ]


def _tags(text: str) -> list[tuple[int, int, FacetKind, str]]:
    tags: list[tuple[int, int, FacetKind, str]] = []
    for match in _TAG.finditer(text):
        tag = _TAG_TRAILING_PUNCTUATION.sub("", match["tag"] or "")
        if not tag:
            continue
        if grapheme_count(tag) > BLUESKY_TAG_MAX_GRAPHEMES or len(tag.encode()) > BLUESKY_TAG_MAX_BYTES:
            continue
        tags.append((match.start(), match.start("tag") + len(tag), "tag", tag))
    return tags


def _has_delegated_top_level_domain(name: str, also: frozenset[str] = frozenset()) -> bool:
    label, dot, top_level_domain = name.rpartition(".")
    top_level_domain = top_level_domain.lower()
    return bool(label and dot) and (top_level_domain in IANA_TOP_LEVEL_DOMAINS or top_level_domain in also)


def _utf8_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))
