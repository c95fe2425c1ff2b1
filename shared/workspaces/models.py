from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, created_timestamp, enum_column, uuid_pk
from shared.workspaces.access import Role, Scope

# Everything a team owns points at its workspace, and goes with it when the workspace is deleted.
workspace_fk = Annotated[
    uuid.UUID, mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
]


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[created_timestamp]


class Member(Base):
    """A person (or a tool acting as one) in a workspace, with one role."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    # The IANA zone the dashboard shows this member's times in; None until they choose one (then UTC).
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_timestamp]


class ApiToken(Base):
    """A member's bearer token. Only its SHA-256 is stored: the token is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[Scope] = mapped_column(enum_column(Scope))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so a person can tell their tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[created_timestamp]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(lazy="joined")


class DashboardSession(Base):
    """A browser signed in to the dashboard with one of a member's tokens.

    It lasts until the browser signs out, the member ends it (from the API or another browser), it
    expires, or its token stops being live. The browser's cookie holds a random secret; only its SHA-256 is
    kept, as for tokens, so this table opens no browser's session to whoever reads it.
    """

    __tablename__ = "dashboard_sessions"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What the browser called itself at sign-in, so a person can tell their sessions apart.
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[created_timestamp]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    token: Mapped[ApiToken] = relationship(lazy="joined")
