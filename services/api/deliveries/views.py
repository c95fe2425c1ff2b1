"""GET /v1/deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.context import get_services, get_workspace_id
from services.api.deliveries.schemas import DeliveryListSchema, DeliveryQuerySchema
from shared.deliveries.models import Delivery
from shared.deliveries.services import list_deliveries

blp = Blueprint("deliveries", __name__, url_prefix="/v1/deliveries", description="Each post on each channel.")


@blp.route("")
class Deliveries(MethodView):
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliveryListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Sequence[Delivery]]:
        """List the workspace's deliveries, latest due first."""
        with get_services().sessions.begin() as session:
            deliveries = list_deliveries(session, get_workspace_id(), **query)
        return {"items": deliveries}
