"""Idempotency keys: a client that retries a request gets the first result, never a second post.

The key is written in the same transaction as what the request makes. Two requests racing with one key
meet at its unique constraint: on PostgreSQL the second insert waits for the first transaction, then
finds its row; SQLite runs one writer at a time. Either way one request makes the post and the other
returns it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import affected_rows
from shared.errors import InvalidInput
from shared.idempotency.models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    operation: str
    request_hash: str


def fingerprint(body: Any) -> str:
    """The SHA-256 of a JSON body with its keys sorted: the same request hashes the same however sent."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_or_reserve(
    session: Session, workspace_id: uuid.UUID, request: IdempotentRequest, now: datetime
) -> IdempotencyKey:
    """The key's row: the first request's (its resource_id set), or a new one for this request to fill."""
    if not 1 <= len(request.key) <= MAX_KEY_LENGTH:
        raise InvalidInput([], f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters.")
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.workspace_id == workspace_id,
            IdempotencyKey.key == request.key,
            IdempotencyKey.expires_at <= now,
        )
    )
    existing = _find(session, workspace_id, request.key)
    if existing is None:
        row = IdempotencyKey(
            workspace_id=workspace_id,
            key=request.key,
            operation=request.operation,
            request_hash=request.request_hash,
            created_at=now,
            expires_at=now + KEY_LIFETIME,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            existing = _find(session, workspace_id, request.key)  # another request took it and committed
        else:
            return row
    assert existing is not None
    if existing.operation != request.operation or existing.request_hash != request.request_hash:
        raise InvalidInput(
            [],
            "This Idempotency-Key was first used with a different request: use a new key for a new "
            "request (a key is kept for 24 hours).",
        )
    return existing


def purge_expired_keys(session: Session, now: datetime) -> int:
    return affected_rows(session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now)))


def _find(session: Session, workspace_id: uuid.UUID, key: str) -> IdempotencyKey | None:
    return session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key)
    ).one_or_none()
