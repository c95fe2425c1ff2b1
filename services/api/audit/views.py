"""GET /v1/audit: who created, changed, approved, published or cancelled what."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.audit.schemas import AuditListSchema, AuditQuerySchema
from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.paging import page_of
from shared.audit.services import list_entries
from shared.workspaces.access import Permission

blp = Blueprint("audit", __name__, url_prefix="/v1/audit", description="Who did what, newest first.")


@blp.route("")
class AuditLog(MethodView):
    @requires(Permission.MANAGE_WORKSPACE)
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The workspace's audit log, newest first."""
        limit = query["limit"]
        with get_services().sessions.begin() as session:
            entries = list_entries(
                session,
                get_actor().workspace_id,
                subject_id=query.get("subject_id"),
                before=query.get("cursor"),
                limit=limit + 1,
            )
        return page_of(entries, limit, key=lambda entry: (entry.at, entry.id))
