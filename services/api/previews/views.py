"""POST /v1/preview."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.context import get_services, get_workspace_id
from services.api.previews.schemas import PreviewRequestSchema, PreviewSchema
from shared.networks.ports import Draft
from shared.posts.previewing import preview_draft

blp = Blueprint(
    "previews", __name__, url_prefix="/v1/preview", description="See a draft as each network will."
)


@blp.route("")
class Preview(MethodView):
    @blp.arguments(PreviewRequestSchema)
    @blp.response(200, PreviewSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Per channel, each text exactly as it would be sent, its length as the network counts it, the
        limit, and what is wrong. Nothing is stored."""
        draft = Draft(text=body["text"], thread=tuple(body["thread"]), options=body["options"])
        return {"channels": preview_draft(get_services(), get_workspace_id(), draft, body["channel_ids"])}
