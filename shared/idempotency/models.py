from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, created_timestamp, uuid_pk
from shared.workspaces.models import workspace_fk


class IdempotencyKey(Base):
    """A client's Idempotency-Key and what its first request made, so a retry returns that again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    key: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(64))  # "posts.create", "imports.create"
    # SHA-256 of the request's canonical body: the same key with another body is a client's mistake.
    request_hash: Mapped[str] = mapped_column(String(64))
    # What the first request made: a post, or an import.
    resource_id: Mapped[uuid.UUID | None]
    created_at: Mapped[created_timestamp]
    expires_at: Mapped[datetime] = mapped_column(index=True)
