"""The dashboard's browser session: a signed cookie holding the secret of a session kept on the server.

Flask's cookie session is signed, not encrypted, so it holds neither the token a person signed in with nor
its id: only a random secret, whose hash names the server's session row (shared.workspaces.signin).
Signing out deletes that row, so a copy of the cookie stops working with it. The API under /v1 never
reads this cookie (it takes bearer tokens only), so the cookie opens the dashboard and nothing else, and
the forms that change the session carry a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass

from flask import Flask, flash, request, session
from sqlalchemy.orm import Session

from shared.channels.credentials import EMBEDDED_SECRET_FILE, embedded_secret
from shared.config import Settings
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.workspaces.access import Actor
from shared.workspaces.signin import SignedIn, actor_of_session, sign_out

COOKIE_NAME = "crier_dashboard"
SESSION_SECRET_KEY = "session"
CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Browser:
    """A signed-in browser: its session on the server, and who it acts as."""

    session_id: uuid.UUID
    actor: Actor


def configure_session_cookie(app: Flask, settings: Settings) -> None:
    """Make the session cookie HttpOnly and SameSite=Lax, and signed with a secret every process shares."""
    if not app.secret_key:
        # Without CRIER_SECRET_KEY (the embedded mode) the API has no secret of its own; the one the
        # embedded mode keeps for channel credentials is shared by every API process and survives restarts,
        # so a cookie signed by one gunicorn worker is good in the others. Flask derives its signing key
        # from it with a salt of its own, so the cookie's signature reveals nothing about the credentials'.
        app.secret_key = embedded_secret(settings.data_dir / EMBEDDED_SECRET_FILE)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
    )


def csrf_token() -> str:
    """This browser session's CSRF token, made on first use."""
    if CSRF_KEY not in session:
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return str(session[CSRF_KEY])


def csrf_token_is_valid() -> bool:
    """Whether the posted form carries this browser session's CSRF token."""
    expected = session.get(CSRF_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    return bool(expected) and hmac.compare_digest(str(expected), sent)


def remember(signed_in: SignedIn) -> None:
    # A new cookie on every sign-in, CSRF token included: nothing from before it carries over.
    session.clear()
    session[SESSION_SECRET_KEY] = signed_in.secret
    csrf_token()


def forget(db_session: Session) -> None:
    """Sign this browser out: its session ends on the server, so a copy of the cookie opens nothing."""
    secret = session.get(SESSION_SECRET_KEY)
    if secret is not None:
        sign_out(db_session, str(secret))
    session.clear()


def forget_cookie() -> None:
    """Clear this browser's cookie, its session having ended on the server already."""
    session.clear()


def signed_in(db_session: Session) -> Browser | None:
    """This browser's session and who it acts as, or None when it is not signed in or the session ended.

    A session that ended (signed out elsewhere, expired, its token revoked) signs the browser out, and
    the sign-in page says why.
    """
    secret = session.get(SESSION_SECRET_KEY)
    if secret is None:
        return None
    try:
        session_id, actor = actor_of_session(db_session, str(secret), utcnow())
    except Unauthenticated as error:
        session.clear()
        flash(f"{error.detail} Sign in again with a live token.")
        return None
    return Browser(session_id, actor)
