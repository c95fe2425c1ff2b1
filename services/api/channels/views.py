"""POST and GET /v1/channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.channels.schemas import ChannelCreateSchema, ChannelListSchema, ChannelSchema
from services.api.context import get_services, get_workspace_id
from shared.channels.connecting import verify_and_connect
from shared.channels.models import Channel
from shared.channels.services import list_channels

blp = Blueprint("channels", __name__, url_prefix="/v1/channels", description="Accounts on the networks.")


@blp.route("")
class Channels(MethodView):
    @blp.response(200, ChannelListSchema)
    def get(self) -> dict[str, Sequence[Channel]]:
        """List the workspace's channels, oldest first."""
        with get_services().sessions.begin() as session:
            channels = list_channels(session, get_workspace_id())
        return {"items": channels}

    @blp.arguments(ChannelCreateSchema)
    @blp.response(201, ChannelSchema)
    def post(self, body: dict[str, Any]) -> Channel:
        """Connect a channel: one account on one installed network."""
        return verify_and_connect(get_services(), get_workspace_id(), **body)
