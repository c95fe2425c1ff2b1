"""/v1/webhooks: the workspace's endpoints, their secrets, a ping, and each endpoint's delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.paging import page_of
from services.api.webhooks.schemas import (
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookMessagePageSchema,
    WebhookMessageQuerySchema,
    WebhookMessageSchema,
    WebhookSchema,
    WebhookUpdateSchema,
    WebhookWithSecretSchema,
)
from shared.notifications.endpoints import (
    EndpointSecret,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    update_endpoint,
)
from shared.notifications.models import WebhookEndpoint, WebhookMessage
from shared.notifications.outbox import list_messages, ping_endpoint
from shared.workspaces.access import Permission

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Tell your own systems what happened in Crier: signed POSTs, retried, with a delivery log.",
)

LOCATION_HEADER = {"Location": {"description": "The new webhook's URL.", "schema": {"type": "string"}}}


@blp.route("")
class Webhooks(MethodView):
    @requires(Permission.READ)
    @blp.response(200, WebhookListSchema)
    def get(self) -> dict[str, Sequence[WebhookEndpoint]]:
        """List the workspace's webhooks, oldest first."""
        with get_services().sessions.begin() as session:
            return {"items": list_endpoints(session, get_actor().workspace_id)}

    @requires(Permission.MANAGE_WORKSPACE)
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookWithSecretSchema, headers=LOCATION_HEADER)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, body: dict[str, Any]) -> tuple[EndpointSecret, dict[str, str]]:
        """Register a webhook. The answer holds its signing secret, which is never shown again."""
        services = get_services()
        with services.sessions.begin() as session:
            created = create_endpoint(
                session,
                get_actor(),
                services.credentials,
                policy=services.outbound.policy,
                **body,
            )
        return created, {"Location": url_for(".WebhookById", webhook_id=created.endpoint.id)}


@blp.route("/<uuid:webhook_id>")
class WebhookById(MethodView):
    @requires(Permission.READ)
    @blp.response(200, WebhookSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, webhook_id: uuid.UUID) -> WebhookEndpoint:
        """A webhook (never its secret)."""
        with get_services().sessions.begin() as session:
            return get_endpoint(session, get_actor().workspace_id, webhook_id)

    @requires(Permission.MANAGE_WORKSPACE)
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def patch(self, body: dict[str, Any], webhook_id: uuid.UUID) -> WebhookEndpoint:
        """Change a webhook's URL, events, description, or whether it is active."""
        services = get_services()
        with services.sessions.begin() as session:
            return update_endpoint(
                session,
                get_actor(),
                webhook_id,
                policy=services.outbound.policy,
                **body,
            )

    @requires(Permission.MANAGE_WORKSPACE)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, webhook_id: uuid.UUID) -> None:
        """Delete a webhook with its delivery log; what it had not been sent yet never will be."""
        with get_services().sessions.begin() as session:
            delete_endpoint(session, get_actor(), webhook_id)


@blp.route("/<uuid:webhook_id>/rotate-secret")
class RotateWebhookSecret(MethodView):
    @requires(Permission.MANAGE_WORKSPACE)
    @blp.response(200, WebhookWithSecretSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, webhook_id: uuid.UUID) -> EndpointSecret:
        """Replace a webhook's signing secret; the answer shows the new one, once. Every POST from now on,
        retries of older events included, is signed with it."""
        services = get_services()
        with services.sessions.begin() as session:
            return rotate_secret(session, get_actor(), services.credentials, webhook_id)


@blp.route("/<uuid:webhook_id>/ping")
class PingWebhook(MethodView):
    @requires(Permission.MANAGE_WORKSPACE)
    @blp.response(202, WebhookMessageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, webhook_id: uuid.UUID) -> WebhookMessage:
        """Send a `ping` event to this webhook only, within seconds; follow it in the delivery log."""
        with get_services().sessions.begin() as session:
            return ping_endpoint(session, get_actor().workspace_id, webhook_id)


@blp.route("/<uuid:webhook_id>/messages")
class WebhookMessages(MethodView):
    @requires(Permission.READ)
    @blp.arguments(WebhookMessageQuerySchema, location="query")
    @blp.response(200, WebhookMessagePageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query: dict[str, Any], webhook_id: uuid.UUID) -> dict[str, Any]:
        """The webhook's delivery log: each event sent to it, newest first, with every attempt."""
        limit = query["limit"]
        with get_services().sessions.begin() as session:
            # One more than asked for tells whether there is a next page, without an empty last one.
            messages = list_messages(
                session, get_actor().workspace_id, webhook_id, before=query.get("cursor"), limit=limit + 1
            )
        return page_of(messages, limit, key=lambda message: (message.created_at, message.id))
