"""CSV cells a spreadsheet reads as data, never as a formula (CSV injection).

A post's text, a channel's name or a label is whatever a member typed, and a spreadsheet that opens the
file runs a cell starting with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(…)`, a DDE command); tab and
carriage return start one too in some of them. As OWASP's CSV injection guidance says, such a cell is
written with a single quote in front, which spreadsheets take as "this is text" and do not show.

The quote must come off again when Crier reads its own export back as an import, and only that quote: a
text that really starts with `'=` is written with a second quote, so reading undoes exactly what writing
did. (A person typing `'=1` in a spreadsheet means the text `=1` too.)
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def _would_run(cell: str) -> bool:
    """Whether the cell, after any quotes in front, starts the way a formula does."""
    return cell.lstrip(TEXT_MARK).startswith(FORMULA_STARTS)


def to_spreadsheet(value: Any) -> Any:
    """The value as a CSV cell: text that a spreadsheet would run gets the quote; numbers are numbers."""
    if isinstance(value, str) and _would_run(value):
        return TEXT_MARK + value
    return value


def from_spreadsheet(cell: str) -> str:
    """A CSV cell as it was before to_spreadsheet: its one added quote removed, nothing else."""
    if cell.startswith(TEXT_MARK) and _would_run(cell[1:]):
        return cell[1:]
    return cell
