"""Signing in to the dashboard with an API token: a browser's session remembers which token, never the token.

The session is only as good as its token: every request looks the token up again, so revoking it, letting
it expire or removing its member signs the browser out at its next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.workspaces.access import Actor
from shared.workspaces.models import ApiToken
from shared.workspaces.services import actor_of_live_token, authenticate, hash_token


@dataclass(frozen=True)
class SignedIn:
    """A token that signed a browser in, and who it acts as."""

    token_id: uuid.UUID
    actor: Actor


def sign_in(session: Session, plain_token: str, now: datetime) -> SignedIn:
    """Check a token a person typed in; its id is what their browser's session keeps."""
    actor = authenticate(session, plain_token, now)
    token_id = session.scalars(
        select(ApiToken.id).where(ApiToken.token_hash == hash_token(plain_token))
    ).one()
    return SignedIn(token_id, actor)


def actor_of_signed_in_token(session: Session, token_id: uuid.UUID, now: datetime) -> Actor:
    """Who a signed-in browser acts as, while the token it signed in with is still live."""
    token = session.get(ApiToken, token_id)
    return actor_of_live_token(session, token, now, called="The token this browser signed in with")
