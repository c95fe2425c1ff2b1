"""Bearer tokens and permissions: every /v1 route acts as the member whose token it carries."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request

from services.api.context import get_services
from shared.db import reading, utcnow
from shared.errors import Forbidden, Unauthenticated
from shared.workspaces.access import Actor, Permission
from shared.workspaces.services import live_actor, note_use, token_of, use_is_stale

PROTECTED_PREFIX = "/v1/"

SECURITY_SCHEME_NAME = "bearer"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "A member's API token: `Authorization: Bearer crier_...`. A request may do what both the member's "
        "role and the token's scope (read, write, admin) allow."
    ),
}

P = ParamSpec("P")
R = TypeVar("R")


def authenticate_request() -> None:
    """Put the actor of the request's bearer token on `g`; a before-request hook.

    It guards by path rather than per view, so an unknown /v1 route answers 401 to a caller without a
    token instead of telling them which routes exist.
    """
    if not request.path.startswith(PROTECTED_PREFIX):
        return
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise Unauthenticated("Send an API token in the Authorization header: `Bearer crier_...`.")
    sessions, now = get_services().sessions, utcnow()
    # Every request reads its token: in a transaction that only reads, so on SQLite it waits for no writer.
    with reading(sessions, snapshot=False) as session:
        token = token_of(session, credentials.token)
        g.actor = live_actor(token, now, called="The bearer token")
    if token is not None and use_is_stale(token, now):
        with sessions.begin() as session:
            note_use(session, token.id, now)
    g.workspace_id = g.actor.workspace_id


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A view decorator: 403 unless the caller's role and token scope both allow `permission`."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            check(permission)
            return view(*args, **kwargs)

        return checked

    return decorate


def check(permission: Permission) -> None:
    actor: Actor = g.actor
    if not actor.can(permission):
        raise Forbidden(
            f"This needs the {permission.value!r} permission, which your role or your token's scope "
            "does not grant."
        )
