"""The dashboard's browser session: a signed cookie naming the API token a person signed in with.

Flask's cookie session is signed, not encrypted, so it holds the token's id and never the token itself. The
API under /v1 never reads this cookie (it takes bearer tokens only), so the cookie opens the dashboard and
nothing else, and the forms that change the session carry a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from flask import Flask, flash, request, session
from sqlalchemy.orm import Session

from shared.channels.credentials import EMBEDDED_SECRET_FILE, embedded_secret
from shared.config import Settings
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.workspaces.access import Actor
from shared.workspaces.signin import SignedIn, actor_of_signed_in_token

COOKIE_NAME = "crier_dashboard"
TOKEN_ID_KEY = "token_id"
CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"


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
    # A new session on every sign-in, CSRF token included: nothing from before it carries over.
    session.clear()
    session[TOKEN_ID_KEY] = str(signed_in.token_id)
    csrf_token()


def forget() -> None:
    session.clear()


def signed_in_actor(db_session: Session) -> Actor | None:
    """Who this browser acts as, or None when it is not signed in or its token is no longer live.

    A token that died since signs the browser out, and the sign-in page says why.
    """
    token_id = session.get(TOKEN_ID_KEY)
    if token_id is None:
        return None
    try:
        return actor_of_signed_in_token(db_session, uuid.UUID(str(token_id)), utcnow())
    except Unauthenticated as error:
        forget()
        flash(f"{error.detail} Sign in again with a live token.")
        return None
