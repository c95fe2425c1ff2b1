"""Channels: connect, list, change, pause, verify, reconnect, disconnect."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.channels.schemas import (
    ChannelChangeSchema,
    ChannelCreateSchema,
    ChannelListSchema,
    ChannelSchema,
    CredentialsSchema,
    VerificationSchema,
)
from services.api.context import get_actor, get_services
from shared.channels.connecting import reconnect, verify_and_connect, verify_channel
from shared.channels.models import Channel
from shared.channels.services import change_channel, get_channel, list_channels
from shared.db import utcnow
from shared.workflow.channels import disconnect_channel
from shared.workspaces.access import Permission

blp = Blueprint("channels", __name__, url_prefix="/v1/channels", description="Accounts on the networks.")


@blp.route("")
class Channels(MethodView):
    @blp.response(200, ChannelListSchema)
    def get(self) -> dict[str, Sequence[Channel]]:
        """List the workspace's channels, oldest first."""
        with get_services().sessions.begin() as session:
            channels = list_channels(session, get_actor().workspace_id)
        return {"items": channels}

    @requires(Permission.MANAGE_CHANNELS)
    @blp.arguments(ChannelCreateSchema)
    @blp.response(201, ChannelSchema)
    def post(self, body: dict[str, Any]) -> Channel:
        """Connect a channel: one account on one installed network, its credentials checked first."""
        return verify_and_connect(get_services(), get_actor(), **body)


@blp.route("/<uuid:channel_id>")
class ChannelById(MethodView):
    @blp.response(200, ChannelSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, channel_id: uuid.UUID) -> Channel:
        """A channel, without its credentials (they are never returned)."""
        with get_services().sessions.begin() as session:
            return get_channel(session, get_actor().workspace_id, channel_id)

    @requires(Permission.MANAGE_CHANNELS)
    @blp.arguments(ChannelChangeSchema)
    @blp.response(200, ChannelSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, body: dict[str, Any], channel_id: uuid.UUID) -> Channel:
        """Rename a channel, set its timezone and posting slots, pause or resume it."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            channel = get_channel(session, actor.workspace_id, channel_id)
            return change_channel(session, actor, channel, **body)

    @requires(Permission.MANAGE_CHANNELS)
    @blp.response(200, ChannelSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, channel_id: uuid.UUID) -> Channel:
        """Disconnect: the credentials are forgotten and waiting deliveries cancelled; history stays."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            channel = get_channel(session, actor.workspace_id, channel_id)
            return disconnect_channel(session, actor, channel, utcnow())


@blp.route("/<uuid:channel_id>/credentials")
class ChannelCredentials(MethodView):
    @requires(Permission.MANAGE_CHANNELS)
    @blp.arguments(CredentialsSchema)
    @blp.response(200, ChannelSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, body: dict[str, Any], channel_id: uuid.UUID) -> Channel:
        """Reconnect with new credentials, checked with the network first; the channel becomes active."""
        return reconnect(get_services(), get_actor(), channel_id, body["credentials"])


@blp.route("/<uuid:channel_id>/verify")
class VerifyChannel(MethodView):
    # It calls the server the channel names, and may mark the channel for reconnection: an act on the
    # channel, for a role that may change channels.
    @requires(Permission.MANAGE_CHANNELS)
    @blp.response(200, VerificationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, channel_id: uuid.UUID) -> dict[str, Any]:
        """Ask the network whether the credentials still work, and who they post as."""
        channel, profile, problem = verify_channel(get_services(), get_actor(), channel_id)
        return {
            "channel": channel,
            "ok": profile is not None,
            "posts_as": profile.handle if profile else None,
            "problem": problem,
        }
