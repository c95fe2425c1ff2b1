"""GET /v1/deliveries and GET /v1/deliveries/<id>."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery

DELIVERY_FIELDS = {
    "id",
    "channel_id",
    "network",
    "state",
    "scheduled_at",
    "due_at",
    "published_at",
    "url",
    "error",
    "attempts",
}
DETAIL_FIELDS = DELIVERY_FIELDS | {"post_id", "failures", "late_by_seconds", "parts", "changes"}
ATTEMPT_FIELDS = {"number", "started_at", "finished_at", "outcome", "error"}


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
    publish_what_is_due(services)
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
            "unknown, needs_review, cancelled, missed, deleted.",
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


def test_a_delivery_is_read_by_id_with_its_post_its_failures_and_no_attempts_yet(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    post = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=1))
    [delivery] = post.deliveries

    response = workspace_client.get(f"/v1/deliveries/{delivery.id}")

    assert response.status_code == 200
    assert response.json == {
        "id": str(delivery.id),
        "post_id": str(post.id),
        "channel_id": str(channel.id),
        "network": "sandbox",
        "state": "scheduled",
        "scheduled_at": post.scheduled_at.isoformat(),
        "due_at": post.scheduled_at.isoformat(),
        "published_at": None,
        "url": None,
        "error": None,
        "failures": 0,
        "attempts": [],
        "parts": [],
        "changes": [],
        "late_by_seconds": None,
    }


def test_a_published_delivery_shows_its_attempt_with_timings_and_how_late_it_went_out(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    before = utcnow()
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    publish_what_is_due(services)
    after = utcnow()

    body = workspace_client.get(f"/v1/deliveries/{delivery_id}").json

    assert set(body) == DETAIL_FIELDS
    assert body["state"] == "published"
    assert body["url"] == read_delivery(services, delivery_id).external_url
    assert body["error"] is None
    assert body["failures"] == 0
    [attempt] = body["attempts"]
    assert set(attempt) == ATTEMPT_FIELDS
    assert attempt["number"] == 1
    assert attempt["outcome"] == "published"
    assert attempt["error"] is None
    started_at = datetime.fromisoformat(attempt["started_at"])
    finished_at = datetime.fromisoformat(attempt["finished_at"])
    assert before <= started_at <= finished_at <= after
    # The network's own time of the post: made between the attempt's start and its end.
    [part] = body["parts"]
    assert part["position"] == 0
    assert (part["url"], part["external_id"]) == (
        body["url"],
        read_delivery(services, delivery_id).external_id,
    )
    assert body["published_at"] == part["published_at"]
    assert started_at <= datetime.fromisoformat(body["published_at"]) <= finished_at
    scheduled_at = datetime.fromisoformat(body["scheduled_at"])
    published_at = datetime.fromisoformat(body["published_at"])
    assert body["late_by_seconds"] == (published_at - scheduled_at).total_seconds()
    assert 0 < body["late_by_seconds"] < (after - before).total_seconds()


def test_a_transient_failure_is_recorded_on_its_attempt_and_the_delivery_waits_to_retry(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    failing = make_channel(services, workspace, "Failing", failure_rate=1.0)
    before = utcnow()
    delivery_id = only_delivery_id(make_post(services, workspace, [failing]))
    publish_what_is_due(services)
    after = utcnow()

    body = workspace_client.get(f"/v1/deliveries/{delivery_id}").json

    assert body["state"] == "retry_wait"
    assert body["failures"] == 1
    assert body["error"] == "sandbox: 503 Service Unavailable (injected before storing)"
    assert body["published_at"] is None
    assert body["url"] is None
    assert body["late_by_seconds"] is None
    assert datetime.fromisoformat(body["due_at"]) > after, "it waits out a backoff"
    [attempt] = body["attempts"]
    assert attempt["number"] == 1
    assert attempt["outcome"] == "transient"
    assert attempt["error"] == "sandbox: 503 Service Unavailable (injected before storing)"
    assert before <= datetime.fromisoformat(attempt["started_at"])
    assert datetime.fromisoformat(attempt["started_at"]) <= datetime.fromisoformat(attempt["finished_at"])
    assert datetime.fromisoformat(attempt["finished_at"]) <= after


def test_an_attempt_that_timed_out_after_the_network_stored_the_post_leaves_the_delivery_unknown(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    timing_out = make_channel(services, workspace, "Timing out", stored_then_timeout_rate=1.0)
    delivery_id = only_delivery_id(make_post(services, workspace, [timing_out]))
    publish_what_is_due(services)

    body = workspace_client.get(f"/v1/deliveries/{delivery_id}").json

    assert body["state"] == "unknown"
    assert body["failures"] == 0, "an uncertain attempt is not counted as a failure"
    assert body["error"] == "sandbox: read timed out after the post was stored (injected)"
    assert body["late_by_seconds"] is None
    [attempt] = body["attempts"]
    assert attempt["outcome"] == "unknown"
    assert attempt["error"] == "sandbox: read timed out after the post was stored (injected)"
    assert attempt["finished_at"] is not None


def test_attempts_are_listed_by_number_oldest_first(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    failing = make_channel(services, workspace, "Failing", failure_rate=1.0)
    delivery_id = only_delivery_id(make_post(services, workspace, [failing]))
    publish_what_is_due(services)
    # Skip the backoff, so the second attempt can be made at once.
    with services.sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(due_at=utcnow()))
    publish_what_is_due(services)

    body = workspace_client.get(f"/v1/deliveries/{delivery_id}").json

    assert [attempt["number"] for attempt in body["attempts"]] == [1, 2]
    assert [attempt["outcome"] for attempt in body["attempts"]] == ["transient", "transient"]
    first_finished_at = datetime.fromisoformat(body["attempts"][0]["finished_at"])
    assert first_finished_at <= datetime.fromisoformat(body["attempts"][1]["started_at"])
    assert body["failures"] == 2


def test_the_list_counts_a_deliverys_attempts_rather_than_listing_them(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    make_post(services, workspace, [channel])
    publish_what_is_due(services)

    [item] = workspace_client.get("/v1/deliveries").json["items"]

    assert item["attempts"] == 1


def test_a_delivery_of_another_workspace_is_not_found_exactly_like_a_missing_one(
    workspace_client: FlaskClient, services: Services
) -> None:
    other_workspace, _ = make_workspace(services, "Someone else")
    theirs = only_delivery_id(make_post(services, other_workspace, [make_channel(services, other_workspace)]))

    for delivery_id in (theirs, uuid.uuid4()):
        response = workspace_client.get(f"/v1/deliveries/{delivery_id}")

        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
        assert response.json == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"There is no delivery with id {delivery_id} in this workspace.",
            "instance": f"/v1/deliveries/{delivery_id}",
        }
