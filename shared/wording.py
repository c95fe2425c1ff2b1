"""Counts in the words people read: "1 problem", "2 problems", "1 reply", "3 replies"."""

from __future__ import annotations


def noun(count: int, singular: str, plural: str | None = None) -> str:
    """The noun a count takes: `singular` for exactly one, `plural` (default: `singular` + "s") otherwise."""
    if count == 1:
        return singular
    return plural if plural is not None else singular + "s"


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """The count and its noun, thousands separated: "1 row", "5,000 rows", "0 rows"."""
    return f"{count:,} {noun(count, singular, plural)}"
