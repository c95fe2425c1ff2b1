from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, created_timestamp, uuid_pk

# Everything a team owns points at its workspace, and goes with it when the workspace is deleted.
workspace_fk = Annotated[
    uuid.UUID, mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
]


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[created_timestamp]


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored: the token itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so a person can tell their tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[created_timestamp]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
