"""/v1/sessions: your own dashboard sessions, listed and ended; another member's are not found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.context import get_actor, get_services
from services.api.sessions.schemas import SessionListSchema
from shared.db import utcnow
from shared.workspaces.models import DashboardSession
from shared.workspaces.signin import end_session, list_sessions

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/v1/sessions",
    description="The browsers signed in to the dashboard as you: see them, and sign any of them out.",
)


@blp.route("")
class Sessions(MethodView):
    @blp.response(200, SessionListSchema)
    def get(self) -> dict[str, Sequence[DashboardSession]]:
        """Your dashboard sessions that are still open, the most recently used first."""
        with get_services().sessions.begin() as session:
            return {"items": list_sessions(session, get_actor(), utcnow())}


@blp.route("/<uuid:session_id>")
class SessionById(MethodView):
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, session_id: uuid.UUID) -> None:
        """End one of your dashboard sessions: that browser is signed out at its next request, and so is
        any copy of its cookie."""
        with get_services().sessions.begin() as session:
            end_session(session, get_actor(), session_id)
