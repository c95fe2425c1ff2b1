"""GET /v1/deliveries, GET /v1/deliveries/<id>, and a person's actions on one delivery."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.context import get_actor, get_services, get_workspace_id
from services.api.deliveries.schemas import (
    ChangeSchema,
    DeliveryDetailSchema,
    DeliveryListSchema,
    DeliveryQuerySchema,
    Resolution,
    ResolveSchema,
)
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryChange
from shared.deliveries.services import (
    cancel_delivery,
    get_delivery,
    list_deliveries,
    mark_published,
    republish_delivery,
    retry_delivery,
)
from shared.workflow.published import delete_delivery_from_network
from shared.workspaces.access import Permission

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


@blp.route("/<uuid:delivery_id>")
class DeliveryById(MethodView):
    @blp.response(200, DeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, delivery_id: uuid.UUID) -> Delivery:
        """A delivery with each of its attempts."""
        with get_services().sessions.begin() as session:
            return get_delivery(session, get_workspace_id(), delivery_id)


@blp.route("/<uuid:delivery_id>/retry")
class RetryDelivery(MethodView):
    @requires(Permission.PUBLISH)
    @blp.response(200, DeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, delivery_id: uuid.UUID) -> Delivery:
        """Try a failed, missed or cancelled delivery again: it goes out now, with its attempts renewed."""
        with get_services().sessions.begin() as session:
            return retry_delivery(session, get_workspace_id(), delivery_id, now=utcnow())


@blp.route("/<uuid:delivery_id>/cancel")
class CancelDelivery(MethodView):
    @requires(Permission.PUBLISH)
    @blp.response(200, DeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, delivery_id: uuid.UUID) -> Delivery:
        """Stop a delivery before it goes out: scheduled, waiting to retry, or enqueued."""
        with get_services().sessions.begin() as session:
            return cancel_delivery(session, get_workspace_id(), delivery_id, now=utcnow())


@blp.route("/<uuid:delivery_id>/resolve")
class ResolveDelivery(MethodView):
    @requires(Permission.PUBLISH)
    @blp.arguments(ResolveSchema)
    @blp.response(200, DeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any], delivery_id: uuid.UUID) -> Delivery:
        """Settle an uncertain delivery: say where it was published, or send it again."""
        workspace_id, now = get_workspace_id(), utcnow()
        with get_services().sessions.begin() as session:
            if body["outcome"] is Resolution.PUBLISHED:
                return mark_published(
                    session,
                    workspace_id,
                    delivery_id,
                    url=body["url"],
                    external_id=body.get("external_id"),
                    now=now,
                )
            return republish_delivery(session, workspace_id, delivery_id, now=now)


@blp.route("/<uuid:delivery_id>/delete-published")
class DeletePublishedDelivery(MethodView):
    @requires(Permission.PUBLISH)
    @blp.response(202, ChangeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, delivery_id: uuid.UUID) -> DeliveryChange:
        """Delete this delivery's post from its network (every part of a thread), once, by a worker."""
        return delete_delivery_from_network(get_services(), get_actor(), delivery_id, now=utcnow())
