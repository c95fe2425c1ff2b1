"""Instagram captions: their length, and how many hashtags and @mentions one may carry.

Documents followed (Meta, Instagram Platform, Instagram API with Facebook Login, Graph API v23.0):
- "IG User Media" (POST /<IG_USER_ID>/media): `caption` — "Maximum 2200 characters, 30 hashtags, and 20 @
  tags." A container whose caption breaks one of these is refused (error subcode 2207010 for its length).
- Instagram Help Center, "Use hashtags on Instagram": a hashtag is `#` then letters, numbers and
  underscores, with no spaces or punctuation; numbers alone do not make one.
- Instagram Help Center, usernames: letters, numbers, periods and underscores, at most 30 characters.

Meta does not say how it counts the 2,200 characters. The count here is UTF-16 code units, what the apps'
Java and Objective-C strings count and never less than the code points or graphemes: an emoji outside the
Basic Multilingual Plane counts 2, so a caption that passes here is never refused for its length.
Every occurrence of a hashtag or mention counts, repeated or not, for the same reason.
"""

from __future__ import annotations

import regex

INSTAGRAM_CAPTION_LIMIT = 2200
INSTAGRAM_MAX_HASHTAGS = 30
INSTAGRAM_MAX_MENTIONS = 20

# `#` not inside a word (`C#`, `a#b`) nor doubled; then letters, marks, digits and underscores of any
# script, not digits alone.
_HASHTAG = regex.compile(r"(?<![\p{L}\p{M}\p{N}_#&])#([\p{L}\p{M}\p{N}_]*[\p{L}\p{M}_][\p{L}\p{M}\p{N}_]*)")
# `@` not inside a word or an address (`bob@example.com`), then a username: 1 to 30 ASCII letters, digits,
# periods and underscores, not ending with a period (the sentence's full stop is not part of it).
_MENTION = regex.compile(
    r"(?<![A-Za-z0-9_.@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)(?![A-Za-z0-9_])"
)


def instagram_length(text: str) -> int:
    """The caption's length as counted against the 2,200 limit: UTF-16 code units (see the module)."""
    return len(text.encode("utf-16-le")) // 2


def hashtags(text: str) -> list[str]:
    """Every hashtag of the caption, in order, without its `#`."""
    return [match.group(1) for match in _HASHTAG.finditer(text)]


def mentions(text: str) -> list[str]:
    """Every @mention of the caption, in order, without its `@`."""
    return [match.group(1) for match in _MENTION.finditer(text)]


def hashtag_spans(text: str) -> list[tuple[int, int]]:
    """Where each hashtag of the caption is, `#` included: (start, end) code-point offsets, in order."""
    return [match.span() for match in _HASHTAG.finditer(text)]


def mention_spans(text: str) -> list[tuple[int, int]]:
    """Where each @mention of the caption is, `@` included: (start, end) code-point offsets, in order."""
    return [match.span() for match in _MENTION.finditer(text)]


def caption_problems(text: str) -> list[str]:
    """What would make Instagram refuse this caption; empty when it may be sent."""
    problems = []
    length = instagram_length(text)
    if length > INSTAGRAM_CAPTION_LIMIT:
        problems.append(
            f"the caption is {length:,} characters long (an emoji counts 2); Instagram allows "
            f"{INSTAGRAM_CAPTION_LIMIT:,}"
        )
    tags = len(hashtags(text))
    if tags > INSTAGRAM_MAX_HASHTAGS:
        problems.append(f"the caption has {tags} hashtags; Instagram allows {INSTAGRAM_MAX_HASHTAGS}")
    tagged = len(mentions(text))
    if tagged > INSTAGRAM_MAX_MENTIONS:
        problems.append(f"the caption has {tagged} @mentions; Instagram allows {INSTAGRAM_MAX_MENTIONS}")
    return problems
