from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument, created_timestamp, uuid_pk
from shared.workspaces.models import workspace_fk


class PostImport(Base):
    """The posts one file made, kept so that a retried upload (an Idempotency-Key) answers with them again."""

    __tablename__ = "imports"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    row_count: Mapped[int]
    # In the file's order. Not foreign keys: a post deleted later stays in the record of what was made.
    post_ids: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[created_timestamp]
