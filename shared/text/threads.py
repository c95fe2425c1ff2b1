"""Threads posts: how long a text is as Threads counts it, the links it holds, and the tag it gets.

Documents followed (Meta's Threads API, v1.0, developers.facebook.com/docs/threads):
- posts, "Limitations": "Text posts are limited to 500 characters. Emojis are counted as the number of UTF-8
  bytes." The reference of POST /{threads-user-id}/threads says of `text`: "Uses UTF-8 encoding", linking the
  grapheme-splitter package. Read together: a character is what a reader sees as one (an extended grapheme
  cluster, UAX #29), and one that is an emoji counts the UTF-8 bytes of all its code points (😀 4, 👍🏽 8, the
  family 👨‍👩‍👧‍👦 25, a flag 8, 1️⃣ 7). A grapheme is taken as an emoji when it would be drawn as one:
  it holds a code point with Emoji_Presentation, the emoji variation selector U+FE0F, a regional indicator,
  or the keycap U+20E3. So ✨ counts 3 but © (text style unless followed by U+FE0F) counts 1.
- create-posts/text-attachments, "Limitations": "The number of links is restricted to 5 or fewer. Starting
  December 22, 2025, Threads posts containing more than 5 links will fail to post during the media creation
  step (POST /{threads-user-id}/threads) with the error code: THREADS_API__LINK_LIMIT_EXCEEDED", and "All
  unique URLs found in the text field are counted as links"; a link attachment different from all of them
  counts one more. Meta's examples count `www.facebook.com`, written without a scheme, as a URL: a bare
  domain counts here too when it ends in a top-level domain IANA delegates.
- posts, "Tags": "Only one tag is allowed per post, so the first valid tag included in a post ... is treated
  as the tag for that post." "Valid tags start with a hash sign (#). Periods (.), ampersands (&), and spaces
  are not allowed in tags, so any tag that starts with a hash sign will end just before the period,
  ampersand, or blank space." So a second hashtag is not refused: it stays plain text. Crier says so in
  the preview (a note, not a refusal).

Meta does not say how it finds a URL in text, nor when two spellings are "the same" URL. Here two links are
the same when they match once the scheme and host are lower-cased and a leading `www.` and a trailing `/`
are set aside; a difference of scheme alone (http/https) is not a different link. Where Meta's own finder
differs, the network's refusal (THREADS_API__LINK_LIMIT_EXCEEDED) still reaches the person, as `failed`.
"""

from __future__ import annotations

import regex

from shared.text.tlds import IANA_TOP_LEVEL_DOMAINS

THREADS_TEXT_LIMIT = 500
THREADS_LINK_LIMIT = 5

_GRAPHEME = regex.compile(r"\X")
# What makes a grapheme an emoji as drawn: emoji presentation, the emoji variation selector, a flag's
# regional indicators, a keycap.
_EMOJI = regex.compile(r"\p{Emoji_Presentation}|\uFE0F|\p{Regional_Indicator}|\u20E3")

_TRAILING_PUNCTUATION = ".,;:!?'\")]}>"
_SCHEMED = regex.compile(r"(?i)(?<![\w@/])https?://[^\s<>\"]+")
_BARE_DOMAIN = regex.compile(
    r"(?i)(?<![\w@./:#-])(?P<host>(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+"
    r"(?P<tld>[\p{L}\p{N}-]{2,63}))(?![\p{L}\p{N}-])(?P<rest>[/?#][^\s<>\"]*)?"
)
# A tag: '#' at the start or after a space, then up to the next space, period, ampersand or '#'.
_TAG = regex.compile(r"(?:^|(?<=\s))#(?P<tag>[^\s.&#]+)")


def threads_length(text: str) -> int:
    """How long Threads counts `text`: one a grapheme, an emoji grapheme its UTF-8 bytes."""
    return sum(
        len(grapheme.encode("utf-8")) if _EMOJI.search(grapheme) else 1
        for grapheme in _GRAPHEME.findall(text)
    )


def links(text: str) -> list[str]:
    """The distinct links in `text`, as first written, in order (see the module for "distinct")."""
    found: dict[str, str] = {}
    for start, end in link_spans(text):
        link = text[start:end]
        found.setdefault(_same_link_key(link), link)
    return list(found.values())


def link_spans(text: str, *, bare_domains: bool = True) -> list[tuple[int, int]]:
    """Where the links of `text` are, (start, end) code-point offsets, in order: each `http(s)://` link,
    then (with `bare_domains`) each bare domain ending in a delegated top-level domain, trailing punctuation
    left out."""
    spans: list[tuple[int, int]] = []
    for match in _SCHEMED.finditer(text):
        spans.append((match.start(), match.start() + len(_trimmed(match.group()))))
    schemed = list(spans)
    if bare_domains:
        for match in _BARE_DOMAIN.finditer(text):
            if any(start <= match.start() < end for start, end in schemed):
                continue
            if match.group("tld").lower() not in IANA_TOP_LEVEL_DOMAINS:
                continue
            spans.append((match.start(), match.start() + len(_trimmed(match.group()))))
    return sorted(spans)


def tag_spans(text: str) -> list[tuple[int, int, str]]:
    """Where each tag written in `text` is: (start, end, tag without its '#'), in order."""
    return [
        (match.start(), match.end(), match.group("tag"))
        for match in _TAG.finditer(text)
        if match.group("tag").strip("_")
    ]


def link_count(text: str, link_attachment: str | None = None) -> int:
    """How many links Threads counts in a post: its text's distinct links, and an attachment unlike them."""
    keys = {_same_link_key(link) for link in links(text)}
    if link_attachment:
        keys.add(_same_link_key(link_attachment))
    return len(keys)


def topic_tags(text: str) -> list[str]:
    """Each tag written in `text`, without its '#', in order: Threads makes the first the post's tag."""
    return [tag for _, _, tag in tag_spans(text)]


def text_problems(text: str, *, link_attachment: str | None = None) -> list[str]:
    """Why Threads would refuse this text when creating its container; empty when it would not."""
    problems = []
    length = threads_length(text)
    if length > THREADS_TEXT_LIMIT:
        problems.append(
            f"the text is {length} characters as Threads counts them (an emoji counts its UTF-8 bytes); "
            f"Threads allows {THREADS_TEXT_LIMIT}"
        )
    count = link_count(text, link_attachment)
    if count > THREADS_LINK_LIMIT:
        problems.append(f"the text has {count} different links; Threads allows {THREADS_LINK_LIMIT}")
    return problems


def tag_notes(text: str) -> list[str]:
    """What a person should know of the tags in `text`: that only the first becomes the post's tag."""
    tags = topic_tags(text)
    if len(tags) <= 1:
        return []
    others = ", ".join(f"#{tag}" for tag in tags[1:])
    return [f"only the first tag (#{tags[0]}) becomes the post's topic on Threads; {others} stay plain text"]


def _trimmed(link: str) -> str:
    while link and link[-1] in _TRAILING_PUNCTUATION:
        if link[-1] == ")" and link.count("(") >= link.count(")"):
            break
        link = link[:-1]
    return link


def _same_link_key(link: str) -> str:
    _, separator, rest = link.partition("://")
    if not separator:
        rest = link
    host, slash, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    return f"{host}{slash}{path}".rstrip("/")
