"""GET /v1/audit: who created, changed, approved, published or cancelled what."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.audit.schemas import AuditListSchema, AuditQuerySchema
from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.paging import decode_cursor, encode_cursor
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
        limit, cursor = query["limit"], query.get("cursor")
        with get_services().sessions.begin() as session:
            entries = list_entries(
                session,
                get_actor().workspace_id,
                subject_id=query.get("subject_id"),
                before=decode_cursor(cursor) if cursor else None,
                limit=limit + 1,
            )
        page = entries[:limit]
        more = len(entries) > limit
        return {"items": page, "next_cursor": encode_cursor(page[-1].at, page[-1].id) if more else None}
