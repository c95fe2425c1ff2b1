"""A post's length as X counts it against its 280 limit: twitter-text's version 3 weighted length.

Documents followed:
- https://docs.x.com/fundamentals/counting-characters — a post holds 280 *weighted* characters:
  the text is NFC-normalised first; each code point in the ranges of the v3 configuration (Latin-1
  through U+10FF, general punctuation U+2000 to U+200D, U+2010 to U+201F, U+2032 to U+2037) weighs 1,
  every other code point (CJK, Japanese, Korean, most symbols) weighs 2; every URL weighs 23 whatever
  its length, with or without `https://` (`example.com` is one); an emoji, even a sequence of several
  code points joined by ZWJ or modified by a skin tone, weighs 2; attached media count nothing. Its own
  example counts with `from twitter_text import parse_tweet`, the package this module uses.
- twitter/twitter-text's config/v3.json and its conformance suite (validate.yml, `WeightedTweetsCounter`),
  which the `twitter-text-parser` package keeps (PyPI; a Python port of twitter-text that passes that
  suite): its `parse_tweet` is what this module counts with, rather than a copy of twitter-text's URL
  grammar and emoji list here. (It reads its emoji list through setuptools' pkg_resources, which
  Python 3.11's venv installs.)

Mentions: since v3, an `@username` counts as its characters like any other text (the "reply prefix" of
mentions that once counted nothing applies only to X's own clients replying); so does a hashtag.

Known difference: the port's emoji list is Unicode's emoji-test.txt of Emoji 12.0 (2019). A newer emoji
made of one code point still weighs 2 (every code point outside the ranges does), but a newer *sequence*
(❤️‍🔥, Emoji 13.1) is weighed code point by code point here, 5 instead of 2: Crier counts such a text
longer than X does, never shorter, so it may refuse a text X would take but never sends one X refuses.
"""

from __future__ import annotations

import unicodedata

from twitter_text import extract_urls_with_indices, parse_tweet

X_LIMIT = 280
# Every URL weighs this much, however long (config/v3.json, transformed_url_length).
X_URL_WEIGHT = 23
_INVALID = frozenset("\ufffe\ufeff\uffff")


def x_length(text: str) -> int:
    """The weighted length of `text` as X counts it (twitter-text v3)."""
    return int(parse_tweet(text).weightedLength)


def x_normalised(text: str) -> str:
    """The text as X keeps it before counting: NFC, with CRLF and lone CR as LF."""
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")


def x_url_spans(text: str) -> list[tuple[int, int]]:
    """Where X finds URLs in the NFC form of `text`: (start, end) code-point offsets, end exclusive."""
    return [
        (int(found["indices"][0]), int(found["indices"][1]))
        for found in extract_urls_with_indices(x_normalised(text))
    ]


def x_text_problems(text: str, *, label: str = "the text") -> list[str]:
    """Why X would refuse this text, in words; empty when it may be sent."""
    problems = []
    length = x_length(text)
    if length > X_LIMIT:
        problems.append(
            f"{label} is {length} characters long as X counts them (each URL 23, CJK characters and "
            f"emoji 2); X allows {X_LIMIT}"
        )
    # twitter-text's invalid characters (regexp/invalidChars): a text holding one is not a valid post.
    if any(char in _INVALID for char in text):
        problems.append(f"{label} holds U+FEFF, U+FFFE or U+FFFF, characters X does not take")
    return problems
