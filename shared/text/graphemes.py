"""Grapheme clusters: what a reader sees as one character, and what Mastodon and Bluesky count.

A cluster follows Unicode's extended grapheme cluster rules (UAX #29,
https://www.unicode.org/reports/tr29/), as the `regex` module's `\\X` implements them with its own, current
Unicode tables, not the older ones of the running Python's `unicodedata`. So a family joined by zero-width
joiners (👨‍👩‍👧‍👦), a flag (🇫🇷), a thumb with a skin tone (👍🏽) and an e with a combining acute
(é) are one each.
"""

from __future__ import annotations

import regex

_GRAPHEME_CLUSTER = regex.compile(r"\X")


def grapheme_count(text: str) -> int:
    """How many extended grapheme clusters `text` holds."""
    return sum(1 for _ in _GRAPHEME_CLUSTER.finditer(text))
