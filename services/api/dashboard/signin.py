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

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, flash, g, request, session
from sqlalchemy.orm import Session

from shared.channels.models import ChannelState
from shared.channels.services import list_channels
from shared.config import Settings
from shared.credentials import configured_secrets
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.workspaces.access import Actor
from shared.workspaces.signin import SignedIn, actor_of_session, sign_out

COOKIE_NAME = "crier_dashboard"
SESSION_SECRET_KEY = "session"
CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"
# Where a request keeps the channels every page's banner names (see signed_in).
CHANNELS_TO_RECONNECT = "dashboard_channels_to_reconnect"
COOKIE_KEY_LABEL = b"crier dashboard session cookie v1"


@dataclass(frozen=True)
class Browser:
    """A signed-in browser: its session on the server, and who it acts as."""

    session_id: uuid.UUID
    actor: Actor


@dataclass(frozen=True)
class ChannelToReconnect:
    """A channel whose network refused its credentials, as every page's banner names it."""

    id: uuid.UUID
    name: str


def configure_session_cookie(app: Flask, settings: Settings) -> None:
    """Make the session cookie HttpOnly and SameSite=Lax, signed with a key every process derives alike."""
    # The newest secret signs; the older ones still verify, so adding a key to rotate (it goes first)
    # signs nobody out, and each signed-in request re-signs its cookie with the newest key (signed_in).
    # Each key is derived from its secret under a label of its own, never the secret itself: a cookie's
    # signature tells nothing of the key that seals the credentials. Without CRIER_SECRET_KEY (the
    # embedded mode) the secret kept in the data directory serves, shared by every API process.
    first, *older = configured_secrets(settings)
    app.secret_key = cookie_signing_key(first)
    app.config.update(
        SECRET_KEY_FALLBACKS=[cookie_signing_key(secret) for secret in older],
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
    )


def cookie_signing_key(secret: str) -> bytes:
    """The dashboard cookie's signing key made from one of CRIER_SECRET_KEY's secrets (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=COOKIE_KEY_LABEL).derive(
        secret.encode()
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
    # Signed again with the newest key: a browser in use moves to a rotated key before the old one goes.
    session.modified = True
    # Read here, in the page's own transaction, for the banner every page shows: read while the page is
    # drawn, it could need a second transaction, which SQLite's write lock held by the first would stop.
    setattr(
        g,
        CHANNELS_TO_RECONNECT,
        [
            ChannelToReconnect(channel.id, channel.name)
            for channel in list_channels(db_session, actor.workspace_id)
            if channel.state is ChannelState.NEEDS_REAUTH
        ],
    )
    return Browser(session_id, actor)
