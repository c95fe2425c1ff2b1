"""Workspaces and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Unauthenticated
from shared.workspaces.models import ApiToken, Workspace

TOKEN_PREFIX = "crier_"


def hash_token(token: str) -> str:
    # A token carries 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def get_or_create_workspace(session: Session, name: str) -> Workspace:
    workspace = session.scalars(select(Workspace).where(Workspace.name == name)).one_or_none()
    if workspace is None:
        workspace = Workspace(name=name)
        session.add(workspace)
        session.flush()
    return workspace


def issue_token(
    session: Session, workspace: Workspace, name: str, expires_at: datetime | None = None
) -> tuple[str, ApiToken]:
    """Make a token for the workspace. The plain token is returned here and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        workspace_id=workspace.id,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[: len(TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return plain, token


def authenticate(session: Session, plain: str, now: datetime) -> ApiToken:
    """The token a bearer string stands for, if it is live."""
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(plain))).one_or_none()
    if token is None:
        raise Unauthenticated("The bearer token is not known.")
    if token.revoked_at is not None:
        raise Unauthenticated("The bearer token was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("The bearer token has expired.")
    return token
