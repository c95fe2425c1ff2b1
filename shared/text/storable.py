"""What text Crier can keep: Unicode that encodes as UTF-8, without NUL characters.

PostgreSQL cannot store U+0000 in text or JSONB (SQLite can), and no network takes it in a post. A lone
surrogate (U+D800 to U+DFFF, which JSON can spell as "\\ud800") is no character at all: it cannot be
encoded as UTF-8, so the database driver, a log line or a network's request fails on it. Text with either is
refused where it comes in, with where it is, instead of failing later at the database.
"""

from __future__ import annotations

import re

NUL_REFUSED = "Text may not contain NUL (U+0000) characters."
SURROGATE_REFUSED = "Text may not contain a lone surrogate (U+D800 to U+DFFF): it is not Unicode text."

_SURROGATE = re.compile("[\ud800-\udfff]")


def why_unstorable(text: str) -> str | None:
    """Why Crier cannot keep `text`, or None when it can."""
    if "\x00" in text:
        return NUL_REFUSED
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_REFUSED
    return None


def printable(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, so that it can be said back in UTF-8."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)
