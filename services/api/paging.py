"""Keyset pagination: a page's last (time, id) as an opaque cursor, read back by a query-string field."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from marshmallow import fields

T = TypeVar("T")

# Far from datetime's own limits (years 1 and 9999), and from any time a page starts at.
MIN_CURSOR_YEAR, MAX_CURSOR_YEAR = 1900, 9000


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(item_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Cursor(fields.Field[tuple[datetime, uuid.UUID]]):
    """The previous page's next_cursor, read back into (time, id); anything else is a 422 on `cursor`."""

    default_error_messages = {"invalid_cursor": "Not a cursor this API gave out; pass next_cursor as is."}

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "description": "The previous page's next_cursor; omit for the first."}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[datetime, uuid.UUID]:
        try:
            at, item_id = decode_cursor(value)
            moment, identifier = datetime.fromisoformat(at), uuid.UUID(item_id)
            # A time without an offset could not be compared with the stored ones, and one near datetime's
            # own limits (years 1 and 9999) overflows on its way to UTC and into the database.
            if moment.tzinfo is None or not MIN_CURSOR_YEAR <= moment.astimezone(UTC).year <= MAX_CURSOR_YEAR:
                raise ValueError(f"{at!r} is not a time this API gives out")
        except (ValueError, TypeError, OverflowError) as error:
            raise self.make_error("invalid_cursor") from error
        return moment, identifier


def decode_cursor(value: object) -> Any:
    """What a cursor holds: JSON in URL-safe base64. ValueError for anything else, a forged cursor
    nested deeper than the parser goes included."""
    try:
        return json.loads(base64.urlsafe_b64decode(str(value) + "=" * (-len(str(value)) % 4)))
    except RecursionError as error:
        raise ValueError("a cursor nested too deeply") from error


def page_of(items: Sequence[T], limit: int, key: Callable[[T], tuple[datetime, uuid.UUID]]) -> dict[str, Any]:
    """The answer for a page: the first `limit` items (the query asked for one more, to know whether
    another page follows) and the cursor to it."""
    page = list(items[:limit])
    return {"items": page, "next_cursor": encode_cursor(*key(page[-1])) if len(items) > limit else None}
