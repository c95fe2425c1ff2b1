"""GET /v1/networks."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.context import get_services
from services.api.networks.schemas import NetworkListSchema
from shared.networks.ports import NetworkInfo

blp = Blueprint("networks", __name__, url_prefix="/v1/networks", description="The installed networks.")


@blp.route("")
class Networks(MethodView):
    @blp.response(200, NetworkListSchema)
    def get(self) -> dict[str, list[NetworkInfo]]:
        """List the installed networks and what each allows."""
        return {"items": [network.info for network in get_services().networks.all()]}
