"""GET /v1/posts/<id>/metrics and POST /v1/posts/<id>/metrics/refresh."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.context import get_services, get_workspace_id
from services.api.metrics.schemas import PostMetricsSchema, RefreshQueuedSchema
from shared.metrics.services import samples_for_post
from shared.posts.services import get_post
from shared.task_names import COLLECT_POST_METRICS

blp = Blueprint("metrics", __name__, url_prefix="/v1/posts", description="Engagement on the networks.")


@blp.route("/<uuid:post_id>/metrics")
class PostMetrics(MethodView):
    @blp.response(200, PostMetricsSchema)
    def get(self, post_id: uuid.UUID) -> dict[str, Any]:
        """Each delivery's metric samples, oldest first, and its latest."""
        with get_services().sessions.begin() as session:
            deliveries = samples_for_post(session, get_workspace_id(), post_id)
        return {"post_id": post_id, "deliveries": deliveries}


@blp.route("/<uuid:post_id>/metrics/refresh")
class RefreshPostMetrics(MethodView):
    @blp.response(202, RefreshQueuedSchema)
    def post(self, post_id: uuid.UUID) -> dict[str, Any]:
        """Ask the worker to collect the post's metrics now."""
        services = get_services()
        with services.sessions.begin() as session:
            get_post(session, get_workspace_id(), post_id)
        # Sent once the transaction is over, so a check that failed or rolled back sends nothing.
        services.tasks.send(COLLECT_POST_METRICS, {"post_id": str(post_id)})
        return {"post_id": post_id, "queued": True}
