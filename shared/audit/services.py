"""The audit log: who created, changed, approved, published or cancelled what."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit.models import AuditEntry
from shared.workspaces.access import Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID,
    **detail: Any,
) -> AuditEntry:
    """Log an action in the caller's transaction, so it is kept exactly when the action is."""
    entry = AuditEntry(
        id=uuid.uuid4(),  # known before the flush, like the subject's
        workspace_id=actor.workspace_id,
        member_id=actor.member_id,
        actor=actor.name,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    subject_id: uuid.UUID | None = None,
    actions: Collection[str] | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[AuditEntry]:
    """The newest entries first (only `actions`, if named); `before`: the previous page's last (at, id)."""
    query = select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    if actions is not None:
        query = query.where(AuditEntry.action.in_(actions))
    if before is not None:
        at, entry_id = before
        query = query.where((AuditEntry.at < at) | ((AuditEntry.at == at) & (AuditEntry.id < entry_id)))
    return session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)).all()
