"""A LinkedIn post's text as Crier writes it, as the Posts API takes it (the "little" text format), and as
LinkedIn then shows it.

Documents followed (LinkedIn Marketing API, version 202510, learn.microsoft.com/linkedin/marketing/
community-management/shares/): posts-api (`commentary` is little text, at most 3,000 characters) and
little-text-format (a post's text is plain text with two elements: a mention `@[Name](urn:li:person:…)` or
`@[Name](urn:li:organization:…)`, and a hashtag template `{hashtag|\\#|tag}`; the characters
`| { } @ [ ] ( ) < > # \\ * _ ~` are reserved and must be escaped with a backslash to stand for themselves).
An unescaped reserved character that starts no element ends the text: LinkedIn accepts the post and silently
drops everything from that character on. `displayed` reproduces that, so a test can show what a reader sees.

How a community manager writes in Crier:
- `#tag` (a `#` after a space, a line's start or punctuation, followed by letters and digits) becomes a
  hashtag, as it does in LinkedIn's own composer: the tag ends at the first character that is neither a
  letter nor a digit. Any other `#` is sent as a plain `#`.
- `@[Name](urn:li:person:123)` or `@[Name](urn:li:organization:123)` is a mention, written in LinkedIn's own
  form, since a name alone cannot be resolved to a member or a page: Name is shown, linked to them (for a
  page, LinkedIn asks that Name be the page's name exactly). Name may not hold a reserved character.
- Every other character stands for itself: the reserved ones are escaped before sending.

Counting: LinkedIn states the limit on `commentary`, the little text as sent, and its servers are Java, whose
strings count UTF-16 code units. So the text is counted as sent, escapes included (each escaped character
counts 2, a hashtag its template), in UTF-16 code units: never less than LinkedIn counts, so a text Crier
accepts is never cut for its length.
"""

from __future__ import annotations

import re
from typing import Literal

LINKEDIN_LIMIT = 3000
RESERVED = frozenset("|{}@[]()<>#\\*_~")

_MENTION = re.compile(r"@\[([^|{}@\[\]()<>#\\*_~\n]+)\]\((urn:li:(?:person|organization):[A-Za-z0-9_-]+)\)")
# A hashtag starts where a word cannot go on: at the start, or after a character that is not a letter/digit.
_HASHTAG = re.compile(r"(?<![^\W_])#([^\W_]+)")
_LITTLE_HASHTAG = re.compile(r"\{hashtag\|\\#\|([^\W_]+)\}")
_LITTLE_MENTION = _MENTION


def escaped(text: str) -> str:
    """Plain text as little text that shows exactly this text: each reserved character escaped."""
    return "".join(f"\\{char}" if char in RESERVED else char for char in text)


def commentary(text: str) -> str:
    """Crier's text as the post's `commentary`: mentions and hashtags as little elements, the rest escaped."""
    pieces: list[str] = []
    position = 0
    for match in _elements(text):
        pieces.append(escaped(text[position : match.start()]))
        if match.re is _MENTION:
            pieces.append(match.group(0))
        else:
            pieces.append(f"{{hashtag|\\#|{match.group(1)}}}")
        position = match.end()
    pieces.append(escaped(text[position:]))
    return "".join(pieces)


def _elements(text: str) -> list[re.Match[str]]:
    """Mentions and hashtags of Crier's text, in order, a hashtag never inside a mention."""
    mentions = list(_MENTION.finditer(text))
    taken = [(match.start(), match.end()) for match in mentions]
    hashtags = [
        match
        for match in _HASHTAG.finditer(text)
        if not any(start <= match.start() < end for start, end in taken)
    ]
    return sorted(mentions + hashtags, key=lambda match: match.start())


def displayed(little: str) -> str:
    """What LinkedIn shows for this commentary: escapes undone, a mention as its name, a hashtag as `#tag`,
    and nothing from the first reserved character that is neither escaped nor part of an element."""
    return "".join(shown for _, shown in displayed_pieces(little))


LittleKind = Literal["text", "mention", "hashtag"]


def displayed_pieces(little: str) -> list[tuple[LittleKind, str]]:
    """What LinkedIn shows for this commentary, piece by piece: runs of text, each mention as its name and
    each hashtag as `#tag`; nothing from the first unescaped reserved character that starts no element."""
    pieces: list[tuple[LittleKind, str]] = []
    run: list[str] = []
    position = 0
    while position < len(little):
        char = little[position]
        if char == "\\" and position + 1 < len(little) and little[position + 1] in RESERVED:
            run.append(little[position + 1])
            position += 2
            continue
        if char not in RESERVED:
            run.append(char)
            position += 1
            continue
        element = _LITTLE_HASHTAG.match(little, position) or _LITTLE_MENTION.match(little, position)
        if element is None:
            break  # LinkedIn's silent truncation
        if run:
            pieces.append(("text", "".join(run)))
            run = []
        if element.re is _LITTLE_HASHTAG:
            pieces.append(("hashtag", f"#{element.group(1)}"))
        else:
            pieces.append(("mention", element.group(1)))
        position = element.end()
    if run:
        pieces.append(("text", "".join(run)))
    return pieces


def shown_as(text: str) -> str:
    """What LinkedIn shows for Crier's text: the text itself, each mention as its name."""
    return _MENTION.sub(lambda match: match.group(1), text)


def linkedin_length(text: str) -> int:
    """Crier's text's length as LinkedIn counts it against LINKEDIN_LIMIT (see the module)."""
    return utf16_length(commentary(text))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def mentions(text: str) -> list[str]:
    """The URNs Crier's text mentions, in order."""
    return [match.group(2) for match in _MENTION.finditer(text)]
