from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, created_timestamp, uuid_pk
from shared.workspaces.models import workspace_fk


class MediaAsset(Base):
    """An uploaded image or video, its type read from its bytes; posts attach it by id."""

    __tablename__ = "media_assets"
    __table_args__ = (Index("ix_media_assets_workspace_id_created_at", "workspace_id", "created_at"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))  # as the uploader named it: shown, never trusted
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None]
    height: Mapped[int | None]
    alt_text: Mapped[str | None] = mapped_column(Text)
    # Several assets share a key when their bytes are the same: the bytes go when the last asset does.
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[created_timestamp]
