from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, created_timestamp, json_document, uuid_pk
from shared.workspaces.models import workspace_fk


class AuditEntry(Base):
    """One thing someone did: append-only, kept when the member who did it is removed."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_workspace_id_at", "workspace_id", "at"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    # None for Crier's own actions (expiring an unapproved post) and for members since removed.
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # The actor's name at the time, so the entry still reads after the member is gone.
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))  # "post.approved", "channel.paused", ...
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID]
    detail: Mapped[json_document]
    at: Mapped[created_timestamp]
