"""GET /v1/deliveries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.publishing import publish_delivery
from shared.deliveries.services import claim_due
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace

DELIVERY_FIELDS = {
    "id",
    "channel_id",
    "network",
    "state",
    "due_at",
    "published_at",
    "url",
    "error",
    "attempts",
}


def test_deliveries_are_listed_latest_due_first_with_their_post(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    sooner = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=1))
    later = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=2))

    response = workspace_client.get("/v1/deliveries")

    assert response.status_code == 200
    assert [item["post_id"] for item in response.json["items"]] == [str(later.id), str(sooner.id)]
    assert set(response.json["items"][0]) == {"post_id", *DELIVERY_FIELDS}


def test_deliveries_can_be_filtered_by_state(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    published = make_post(services, workspace, [channel])
    with services.sessions.begin() as session:
        [claim] = claim_due(
            session, now=utcnow(), lookahead=timedelta(0), batch_size=10, lease=timedelta(seconds=60)
        )
    publish_delivery(services, claim.delivery_id, claim.attempt)
    waiting = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=1))

    published_items = workspace_client.get("/v1/deliveries?state=published").json["items"]
    scheduled_items = workspace_client.get("/v1/deliveries?state=scheduled").json["items"]

    assert [item["post_id"] for item in published_items] == [str(published.id)]
    assert [item["post_id"] for item in scheduled_items] == [str(waiting.id)]


def test_the_limit_caps_how_many_are_listed(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    for hours in (1, 2, 3):
        make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=hours))

    response = workspace_client.get("/v1/deliveries?limit=2")

    assert response.status_code == 200
    assert len(response.json["items"]) == 2


def test_another_workspaces_deliveries_are_not_listed(
    workspace_client: FlaskClient, services: Services
) -> None:
    other_workspace, _ = make_workspace(services, "Someone else")
    make_post(services, other_workspace, [make_channel(services, other_workspace)])

    assert workspace_client.get("/v1/deliveries").json == {"items": []}


def test_an_unknown_state_is_a_422_naming_the_parameter(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/deliveries?state=lost")

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == [
        {
            "parameter": "state",
            "detail": "Must be one of: scheduled, retry_wait, enqueued, publishing, published, failed, "
            "unknown, needs_review, cancelled, missed.",
        }
    ]


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_a_limit_outside_1_to_500_is_a_422_naming_the_parameter(
    workspace_client: FlaskClient, limit: str
) -> None:
    response = workspace_client.get(f"/v1/deliveries?limit={limit}")

    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["parameter"] == "limit"
    assert set(error) == {"parameter", "detail"}
