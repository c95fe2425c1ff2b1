"""Opaque cursors for keyset pagination: the (time, id) of a page's last item, for the next page."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from shared.errors import InvalidInput


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(item_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, item_id = json.loads(raw)
        return datetime.fromisoformat(at), uuid.UUID(item_id)
    except (ValueError, TypeError) as error:
        raise InvalidInput([], "The cursor is not one this API gave out: start again without it.") from error
