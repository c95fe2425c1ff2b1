"""Reading an import file, CSV or JSON, into rows of cells: the file's shape only, no rules about posts.

Rows are numbered as the person who made the file counts them. In a CSV file that is the spreadsheet's row:
the header is row 1, so the first post is row 2 (a cell that holds line breaks is still one row). In a JSON
file it is the item's place in the list, from 1. A problem points at `/rows/<row>/<column>`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import InvalidInput, Problem
from shared.spreadsheets import from_spreadsheet
from shared.text.storable import NUL_REFUSED, why_unstorable

MAX_ROWS = 5_000
LONGEST_NUMBER = 20  # characters of a whole number in a JSON file: any 64-bit one, with its sign
MAX_BYTES = 16 * 1024 * 1024  # 5,000 long posts with a variant per network fit several times over
HEADER_ROW = 1
# Spreadsheets in locales that write decimal commas save CSV with semicolons, and some people save tabs.
DELIMITERS = ",;\t"


class SourceFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class SourceRow:
    """One post's cells by column name (lower case), and where it was in the file."""

    number: int
    cells: Mapping[str, object]


@dataclass(frozen=True)
class Source:
    """A file's rows, and its columns in the header's order (a JSON file: in the order first met)."""

    format: SourceFormat
    columns: list[str]
    rows: list[SourceRow]


def row_pointer(row: int, column: str | None = None) -> str:
    """The JSON pointer a problem with a row (and one of its cells) is reported at."""
    if column is None:
        return f"/rows/{row}"
    return f"/rows/{row}/{column.replace('~', '~0').replace('/', '~1')}"


def describe_pointer(pointer: str) -> str:
    """Where a problem is, in words: "row 3, column time", "row 1", or "the file"."""
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[2:]]
    if not parts:
        return "the file"
    if len(parts) == 1:
        return f"row {parts[0]}"
    return f"row {parts[0]}, column {parts[1]}"


def guess_format(file_name: str, data: bytes) -> SourceFormat:
    """JSON for a .json file or one that opens with [ or {; CSV otherwise."""
    if file_name.lower().endswith(".json"):
        return SourceFormat.JSON
    if file_name.lower().endswith(".csv"):
        return SourceFormat.CSV
    return SourceFormat.JSON if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else SourceFormat.CSV


def read_source(data: bytes, source_format: SourceFormat) -> Source:
    """The file's rows, or InvalidInput when it cannot be read or holds more than MAX_ROWS posts."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(
            [Problem("/rows", f"The file is {len(data):,} bytes; an import takes at most {MAX_BYTES:,}.")]
        )
    try:
        # utf-8-sig drops the byte-order mark that Excel writes at the start of "CSV UTF-8".
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            [Problem("/rows", f"The file is not UTF-8 (byte {error.start}): save it as “CSV UTF-8” or JSON.")]
        ) from error
    source = _read_csv(text) if source_format is SourceFormat.CSV else _read_json(text)
    for row in source.rows:
        reason = _why_unstorable(row.cells)
        if reason == NUL_REFUSED:
            # No database text column takes a NUL, and no post has one: the file is binary, or broken.
            raise InvalidInput(
                [Problem("/rows", "The file holds a NUL character (byte 0): is it a text file?")]
            )
        if reason is not None:
            raise InvalidInput([Problem(row_pointer(row.number), reason)])
    if not source.rows:
        raise InvalidInput(
            [Problem("/rows", "The file has no posts: one row (or JSON object) makes one post.")]
        )
    if len(source.rows) > MAX_ROWS:
        raise InvalidInput(
            [
                Problem(
                    "/rows",
                    f"The file has {len(source.rows):,} posts; an import takes at most {MAX_ROWS:,}. "
                    "Split it into several files.",
                )
            ]
        )
    return source


def _why_unstorable(cells: Mapping[str, object]) -> str | None:
    """Why a column name or a cell cannot be kept, if one cannot; a value nested deeper is refused as a
    cell anyway."""
    texts = [*cells, *(value for value in cells.values() if isinstance(value, str))]
    texts += [
        item for value in cells.values() if isinstance(value, list) for item in value if isinstance(item, str)
    ]
    return next((reason for text in texts if (reason := why_unstorable(text)) is not None), None)


def _read_csv(text: str) -> Source:
    lines = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(lines, None)
    except csv.Error as error:
        raise InvalidInput(
            [Problem(row_pointer(HEADER_ROW), f"The header cannot be read: {error}.")]
        ) from error
    if header is None or not any(cell.strip() for cell in header):
        raise InvalidInput(
            [
                Problem(
                    row_pointer(HEADER_ROW), "The file is empty: its first row names the columns (text, …)."
                )
            ]
        )
    columns = [cell.strip().lower() for cell in header]
    problems = [
        Problem(row_pointer(HEADER_ROW, column), f"The column “{column}” appears more than once.")
        for index, column in enumerate(columns)
        if column and column in columns[:index]
    ]
    if problems:
        raise InvalidInput(problems)
    rows = []
    number = HEADER_ROW
    try:
        for number, cells in enumerate(lines, start=HEADER_ROW + 1):
            if any(cell.strip() for cell in cells):
                rows.append(_row(number, columns, cells))
    except csv.Error as error:  # a cell over the csv module's 128 KiB: no post is that long
        raise InvalidInput(
            [Problem(row_pointer(number + 1), f"This row cannot be read: {error}.")]
        ) from error
    return Source(SourceFormat.CSV, [column for column in columns if column], rows)


def _row(number: int, columns: list[str], cells: list[str]) -> SourceRow:
    # A cell Crier's export guarded against spreadsheets ('=…) is read as it was before (=…).
    named: dict[str, object] = {
        column: from_spreadsheet(cell) for column, cell in zip(columns, cells, strict=False) if column
    }
    extra = cells[len(columns) :]
    if any(cell.strip() for cell in extra):
        # A cell beyond the header is a missing header name or a stray delimiter: either way a guess.
        named[""] = extra
    return SourceRow(number, named)


def _delimiter(text: str) -> str:
    """The delimiter the header row uses most: a comma, a semicolon or a tab."""
    header = text.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


class _Refused(ValueError):
    """A value in a JSON file that no post holds and Python would choke on."""


def _integer(literal: str) -> int:
    # Python refuses to convert more than 4,300 digits, and no cell needs more than a few.
    if len(literal) > LONGEST_NUMBER:
        raise _Refused(f"a number of {len(literal):,} digits")
    return int(literal)


def _not_json(name: str) -> None:
    raise _Refused(f"{name} is not a JSON value")


def _read_json(text: str) -> Source:
    try:
        document = json.loads(text, parse_int=_integer, parse_constant=_not_json)
    except RecursionError as error:
        raise InvalidInput([Problem("/rows", "The file nests JSON deeper than any post needs.")]) from error
    except json.JSONDecodeError as error:
        raise InvalidInput(
            [
                Problem(
                    "/rows", f"The file is not JSON: {error.msg} (line {error.lineno}, column {error.colno})."
                )
            ]
        ) from error
    except _Refused as error:
        raise InvalidInput([Problem("/rows", f"The file is not JSON Crier reads: {error}.")]) from error
    if isinstance(document, dict) and set(document) == {"posts"}:
        document = document["posts"]
    if not isinstance(document, list):
        raise InvalidInput(
            [Problem("/rows", 'Give the posts as a JSON list of objects, or as {"posts": [...]}.')]
        )
    rows, columns, problems = [], {}, []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            problems.append(
                Problem(row_pointer(number), 'Each post is an object: {"text": …, "channels": …}.')
            )
            continue
        named = {str(key).strip().lower(): value for key, value in item.items()}
        columns.update(dict.fromkeys(named))
        rows.append(SourceRow(number, named))
    if problems:
        raise InvalidInput(problems)
    return Source(SourceFormat.JSON, list(columns), rows)
