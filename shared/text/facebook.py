"""A Facebook Page post's and comment's length, counted as strictly as Facebook may count it.

Documents followed:
- Meta's Graph API reference, Page Feed (`POST /{page-id}/feed`, `message`) and Comments
  (`POST /{object-id}/comments`, `message`), which name no unit; and Facebook's own composer, whose limit is
  63,206 characters for a post and 8,000 for a comment.
- Facebook's composer is JavaScript, whose `String.length` counts UTF-16 code units: an emoji outside the
  Basic Multilingual Plane is 2 there, one code point in Python, one grapheme to a reader. Meta documents no
  other unit, so Crier counts UTF-16 code units, the largest of the three counts: a text within the limit
  so counted is within it whichever Facebook's server applies, and Crier never sends a post it would refuse.
  Line breaks count as sent (a CRLF is 2), as the composer counts what is pasted into it.
"""

from __future__ import annotations

FACEBOOK_POST_LIMIT = 63_206
FACEBOOK_COMMENT_LIMIT = 8_000


def facebook_length(text: str) -> int:
    """The text's length in UTF-16 code units, the unit of Facebook's 63,206-character post limit."""
    # A lone surrogate (which Python strings may hold) is one unit, as in JavaScript.
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)
