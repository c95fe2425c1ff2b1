"""Bearer tokens: every /v1 route acts for the workspace its token belongs to."""

from __future__ import annotations

from flask import g, request

from services.api.context import get_services
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.workspaces.services import authenticate

PROTECTED_PREFIX = "/v1/"

SECURITY_SCHEME_NAME = "bearer"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token of the workspace to act for: `Authorization: Bearer crier_...`.",
}


def authenticate_request() -> None:
    """Put the workspace of the request's bearer token on `g`; a before-request hook.

    It guards by path rather than per view, so an unknown /v1 route answers 401 to a caller without a
    token instead of telling them which routes exist.
    """
    if not request.path.startswith(PROTECTED_PREFIX):
        return
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise Unauthenticated("Send an API token in the Authorization header: `Bearer crier_...`.")
    with get_services().sessions.begin() as session:
        token = authenticate(session, credentials.token, utcnow())
    g.workspace_id = token.workspace_id
