"""/v1/link-settings, /v1/channels/<id>/link-settings and /v1/deliveries/<id>/links."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.context import get_actor, get_services, get_workspace_id
from services.api.links.schemas import LinkSettingsInputSchema, LinkSettingsSchema, ShortLinkListSchema
from shared.deliveries.services import delivery_links
from shared.links.services import (
    LinkRules,
    channel_link_settings,
    effective_link_settings,
    remove_channel_link_settings,
    save_link_settings,
    short_url,
)
from shared.workspaces.access import Permission

blp = Blueprint(
    "links",
    __name__,
    url_prefix="/v1",
    description="UTM tags and short links that count clicks, per delivery.",
)


@blp.route("/link-settings")
class WorkspaceLinkSettings(MethodView):
    @requires(Permission.READ)
    @blp.response(200, LinkSettingsSchema)
    def get(self) -> LinkRules:
        """The workspace's default for every channel without an override of its own."""
        with get_services().sessions.begin() as session:
            return effective_link_settings(session, get_workspace_id(), None)

    # Outermost, so a caller without the permission hears 403 before their body is even read.
    @requires(Permission.MANAGE_WORKSPACE)
    @blp.arguments(LinkSettingsInputSchema)
    @blp.response(200, LinkSettingsSchema)
    def put(self, body: dict[str, Any]) -> LinkRules:
        """Set the workspace's default: whether links are shortened, and the UTM tags added to them."""
        with get_services().sessions.begin() as session:
            return save_link_settings(session, get_actor(), None, **body)


@blp.route("/channels/<uuid:channel_id>/link-settings")
class ChannelLinkSettings(MethodView):
    @requires(Permission.READ)
    @blp.response(200, LinkSettingsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, channel_id: uuid.UUID) -> LinkRules:
        """What applies to the channel: its override, else the workspace's default; `source` says which."""
        with get_services().sessions.begin() as session:
            return channel_link_settings(session, get_workspace_id(), channel_id)

    @requires(Permission.MANAGE_WORKSPACE)
    @blp.arguments(LinkSettingsInputSchema)
    @blp.response(200, LinkSettingsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, body: dict[str, Any], channel_id: uuid.UUID) -> LinkRules:
        """Override the workspace's default for this channel, whole: nothing of the default is merged in."""
        with get_services().sessions.begin() as session:
            return save_link_settings(session, get_actor(), channel_id, **body)

    @requires(Permission.MANAGE_WORKSPACE)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, channel_id: uuid.UUID) -> None:
        """Drop the channel's override, so the workspace's default applies to it again."""
        with get_services().sessions.begin() as session:
            remove_channel_link_settings(session, get_actor(), channel_id)


@blp.route("/deliveries/<uuid:delivery_id>/links")
class DeliveryLinks(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ShortLinkListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, delivery_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
        """The delivery's short links with their click counts, oldest first."""
        services = get_services()
        with services.sessions.begin() as session:
            links = delivery_links(session, get_workspace_id(), delivery_id)
        public_url = services.settings.public_url
        return {
            "items": [
                {
                    "code": link.code,
                    "short_url": short_url(public_url, link.code),
                    "target_url": link.target_url,
                    "clicks": link.clicks,
                    "first_clicked_at": link.first_clicked_at,
                    "last_clicked_at": link.last_clicked_at,
                    "created_at": link.created_at,
                }
                for link in links
            ]
        }
