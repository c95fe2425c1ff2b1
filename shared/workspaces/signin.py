"""Signing in to the dashboard with an API token, and the sessions that sign-in opens.

A sign-in makes a session row; the browser's cookie holds a random secret whose SHA-256 names the row.
Signing out deletes the row, so a copy of the cookie taken before stops working too; a member lists their
sessions and ends any of them from the API. A session is also only as good as its token: every request
looks the token up again, so revoking it, letting it expire or removing its member signs the browser out
at its next request.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from shared.db import affected_rows
from shared.errors import NotFound, Unauthenticated
from shared.workspaces.access import Actor
from shared.workspaces.models import ApiToken, DashboardSession
from shared.workspaces.services import actor_of_live_token, authenticate, hash_token

# However active, a browser signs in again after this long: a cookie copied once does not open the
# dashboard for ever.
SESSION_LIFETIME = timedelta(days=30)
USER_AGENT_LENGTH = 300
ENDED = "This browser's session has ended: it signed out, or was signed out from elsewhere."


@dataclass(frozen=True)
class SignedIn:
    """A new session, with the secret for the browser's cookie (kept nowhere else), and who it acts as."""

    session_id: uuid.UUID
    secret: str
    actor: Actor


def sign_in(session: Session, plain_token: str, now: datetime, *, user_agent: str = "") -> SignedIn:
    """Check a token a person typed in, and open a session for their browser."""
    actor = authenticate(session, plain_token, now)
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(plain_token))).one()
    _forget_dead(session, token.member_id, now)
    secret = secrets.token_urlsafe(32)
    opened = DashboardSession(
        workspace_id=token.workspace_id,
        member_id=token.member_id,
        token_id=token.id,
        secret_hash=hash_token(secret),
        user_agent=user_agent[:USER_AGENT_LENGTH],
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(opened)
    session.flush()
    return SignedIn(opened.id, secret, actor)


def actor_of_session(session: Session, secret: str, now: datetime) -> tuple[uuid.UUID, Actor]:
    """The session a browser's secret opens and who it acts as; Unauthenticated, saying why, otherwise."""
    opened = session.scalars(
        select(DashboardSession).where(DashboardSession.secret_hash == hash_token(secret))
    ).one_or_none()
    if opened is None:
        raise Unauthenticated(ENDED)
    if opened.expires_at <= now:
        raise Unauthenticated("This browser's session has expired.")
    actor = actor_of_live_token(session, opened.token, now, called="The token this browser signed in with")
    # One write per request at most, as for tokens.
    if (now - opened.last_seen_at).total_seconds() > 60:
        session.execute(
            update(DashboardSession).where(DashboardSession.id == opened.id).values(last_seen_at=now)
        )
    return opened.id, actor


def sign_out(session: Session, secret: str) -> None:
    """End the session the browser's secret opens: no copy of its cookie opens anything any more."""
    session.execute(delete(DashboardSession).where(DashboardSession.secret_hash == hash_token(secret)))


def list_sessions(session: Session, actor: Actor, now: datetime) -> Sequence[DashboardSession]:
    """The acting member's sessions that still open the dashboard, the most recently used first."""
    return session.scalars(
        select(DashboardSession)
        .join(ApiToken, ApiToken.id == DashboardSession.token_id)
        .where(
            DashboardSession.workspace_id == actor.workspace_id,
            DashboardSession.member_id == actor.member_id,
            DashboardSession.expires_at > now,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
        .order_by(DashboardSession.last_seen_at.desc(), DashboardSession.id)
    ).all()


def end_session(session: Session, actor: Actor, session_id: uuid.UUID) -> None:
    """End one of the acting member's sessions; another member's is not found, exactly like a missing one."""
    ended = session.execute(
        delete(DashboardSession).where(
            DashboardSession.id == session_id,
            DashboardSession.workspace_id == actor.workspace_id,
            DashboardSession.member_id == actor.member_id,
        )
    )
    if affected_rows(ended) == 0:
        raise NotFound("session", session_id)


def _forget_dead(session: Session, member_id: uuid.UUID, now: datetime) -> None:
    """Delete the member's sessions that can open nothing any more: expired, or of a dead token."""
    dead_tokens = select(ApiToken.id).where(
        ApiToken.member_id == member_id,
        or_(ApiToken.revoked_at.is_not(None), ApiToken.expires_at <= now),
    )
    session.execute(
        delete(DashboardSession).where(
            DashboardSession.member_id == member_id,
            or_(DashboardSession.expires_at <= now, DashboardSession.token_id.in_(dead_tokens)),
        )
    )
