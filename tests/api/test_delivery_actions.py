"""POST /v1/deliveries/<id>/retry, /cancel and /resolve: what a person may do about one delivery."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.attempts import begin_attempt
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.publishing import publish_delivery
from shared.deliveries.reconciling import send_to_review, unknown_deliveries
from shared.workspaces.models import Workspace
from tests.driving import claim_what_is_due, publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery

A_POST_URL = "https://sandbox.invalid/@acme/found-by-hand"
ONLY_CANCELLABLE = "only one that is enqueued, retry_wait, scheduled can be cancelled."

NOT_CANCELLABLE = sorted(
    set(DeliveryState) - {DeliveryState.SCHEDULED, DeliveryState.RETRY_WAIT, DeliveryState.ENQUEUED}
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One transient failure is final here, so a single injected failure makes a delivery failed."""
    return settings.model_copy(update={"max_publish_attempts": 1})


@pytest.fixture(params=[DeliveryState.UNKNOWN, DeliveryState.NEEDS_REVIEW], ids=str)
def uncertain_delivery_id(
    request: pytest.FixtureRequest, services: Services, workspace: Workspace
) -> uuid.UUID:
    """A delivery the sandbox stored before timing out, so Crier cannot know; in review if asked for."""
    timing_out = make_channel(services, workspace, "Timing out", stored_then_timeout_rate=1.0)
    delivery_id = only_delivery_id(make_post(services, workspace, [timing_out]))
    publish_what_is_due(services)
    if request.param is DeliveryState.NEEDS_REVIEW:
        with services.sessions.begin() as session:
            [job] = unknown_deliveries(session, limit=10)
            send_to_review(session, job, reason="The network cannot tell.", now=utcnow())
    assert read_delivery(services, delivery_id).state is request.param
    return delivery_id


def put_in_state(services: Services, delivery_id: uuid.UUID, state: DeliveryState) -> None:
    """Set a delivery's state by an UPDATE: how it got there does not matter to the action under test."""
    with services.sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(state=state))


def snapshot(services: Services, delivery_id: uuid.UUID) -> dict[str, Any]:
    """The columns an action would change."""
    delivery = read_delivery(services, delivery_id)
    return {
        "state": delivery.state,
        "scheduled_at": delivery.scheduled_at,
        "due_at": delivery.due_at,
        "failures": delivery.failures,
        "external_url": delivery.external_url,
        "published_at": delivery.published_at,
        "last_error": delivery.last_error,
        "updated_at": delivery.updated_at,
    }


def conflict(delivery_id: uuid.UUID, action: str, detail: str) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": detail,
        "instance": f"/v1/deliveries/{delivery_id}/{action}",
    }


# Retry


def test_a_failed_delivery_retried_is_due_now_with_its_failures_cleared_and_is_claimed_again(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    failing = make_channel(services, workspace, "Failing", failure_rate=1.0)
    delivery_id = only_delivery_id(make_post(services, workspace, [failing]))
    publish_what_is_due(services)
    assert read_delivery(services, delivery_id).state is DeliveryState.FAILED
    before = utcnow()

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/retry")

    after = utcnow()
    assert response.status_code == 200
    body = response.json
    assert body == workspace_client.get(f"/v1/deliveries/{delivery_id}").json
    assert body["state"] == "scheduled"
    assert body["failures"] == 0
    assert body["error"] is None
    assert before <= datetime.fromisoformat(body["due_at"]) <= after
    assert body["scheduled_at"] == body["due_at"], "its time is now, so it is not missed for being late"
    assert [attempt["outcome"] for attempt in body["attempts"]] == ["transient"], "the history is kept"
    [claim] = claim_what_is_due(services)
    assert (claim.delivery_id, claim.attempt) == (delivery_id, 2)


def test_a_delivery_that_failed_on_its_only_attempt_says_one_attempt(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    failing = make_channel(services, workspace, "Failing", failure_rate=1.0)
    delivery_id = only_delivery_id(make_post(services, workspace, [failing]))
    publish_what_is_due(services)

    error = workspace_client.get(f"/v1/deliveries/{delivery_id}").json["error"]

    assert error.startswith("Gave up after 1 attempt. Last error: ")


@pytest.mark.parametrize("state", [DeliveryState.MISSED, DeliveryState.CANCELLED], ids=str)
def test_a_missed_or_cancelled_delivery_can_be_retried_too(
    workspace_client: FlaskClient,
    services: Services,
    workspace: Workspace,
    channel: Channel,
    state: DeliveryState,
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    put_in_state(services, delivery_id, state)

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/retry")

    assert response.status_code == 200
    assert response.json["state"] == "scheduled"
    assert [claim.delivery_id for claim in claim_what_is_due(services)] == [delivery_id]


def test_retrying_a_published_delivery_is_a_409_naming_its_state_and_changes_nothing(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    publish_what_is_due(services)
    published = snapshot(services, delivery_id)

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/retry")

    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json == conflict(
        delivery_id,
        "retry",
        "The delivery is published; only one that is cancelled, failed, missed can be retried.",
    )
    assert snapshot(services, delivery_id) == published


# Cancel


def test_a_scheduled_delivery_cancelled_is_never_claimed(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/cancel")

    assert response.status_code == 200
    assert response.json == workspace_client.get(f"/v1/deliveries/{delivery_id}").json
    assert response.json["state"] == "cancelled"
    assert claim_what_is_due(services, at=utcnow() + timedelta(days=365)) == []
    assert read_delivery(services, delivery_id).state is DeliveryState.CANCELLED


def test_a_cancelled_enqueued_delivery_is_not_published_when_its_message_arrives(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    [claim] = claim_what_is_due(services)

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/cancel")

    assert response.status_code == 200
    assert response.json["state"] == "cancelled"
    assert publish_delivery(services, claim.delivery_id, claim.attempt) is None
    assert response.json == workspace_client.get(f"/v1/deliveries/{delivery_id}").json


def test_cancelling_a_delivery_being_published_is_a_409_and_changes_nothing(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    [claim] = claim_what_is_due(services)
    with services.sessions.begin() as session:
        begin_attempt(session, claim.delivery_id, claim.attempt, now=utcnow(), lease=timedelta(seconds=60))
    publishing = snapshot(services, delivery_id)

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/cancel")

    assert response.status_code == 409
    assert response.json == conflict(
        delivery_id,
        "cancel",
        f"The delivery is publishing; {ONLY_CANCELLABLE}",
    )
    assert snapshot(services, delivery_id) == publishing


@pytest.mark.parametrize("state", NOT_CANCELLABLE, ids=str)
def test_a_delivery_that_is_out_uncertain_or_stopped_cannot_be_cancelled(
    workspace_client: FlaskClient,
    services: Services,
    workspace: Workspace,
    channel: Channel,
    state: DeliveryState,
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    put_in_state(services, delivery_id, state)

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/cancel")

    assert response.status_code == 409
    assert response.json == conflict(delivery_id, "cancel", f"The delivery is {state}; {ONLY_CANCELLABLE}")
    assert read_delivery(services, delivery_id).state is state


# Resolve


def test_an_uncertain_delivery_resolved_as_published_keeps_the_url_and_id_given(
    workspace_client: FlaskClient, services: Services, uncertain_delivery_id: uuid.UUID
) -> None:
    before = utcnow()

    response = workspace_client.post(
        f"/v1/deliveries/{uncertain_delivery_id}/resolve",
        json={"outcome": "published", "url": A_POST_URL, "external_id": "found-by-hand"},
    )

    after = utcnow()
    assert response.status_code == 200
    body = response.json
    assert body == workspace_client.get(f"/v1/deliveries/{uncertain_delivery_id}").json
    assert body["state"] == "published"
    assert body["url"] == A_POST_URL
    assert body["error"] is None
    published_at = datetime.fromisoformat(body["published_at"])
    assert before <= published_at <= after
    late_by = published_at - datetime.fromisoformat(body["scheduled_at"])
    assert body["late_by_seconds"] == late_by.total_seconds()
    assert body["late_by_seconds"] > 0
    assert read_delivery(services, uncertain_delivery_id).external_id == "found-by-hand"


def test_the_network_id_is_optional_when_resolving_as_published(
    workspace_client: FlaskClient, services: Services, uncertain_delivery_id: uuid.UUID
) -> None:
    response = workspace_client.post(
        f"/v1/deliveries/{uncertain_delivery_id}/resolve", json={"outcome": "published", "url": A_POST_URL}
    )

    assert response.status_code == 200
    assert response.json["state"] == "published"
    assert read_delivery(services, uncertain_delivery_id).external_id is None


def test_an_uncertain_delivery_resolved_for_republishing_is_due_now_and_claimed_again(
    workspace_client: FlaskClient, services: Services, uncertain_delivery_id: uuid.UUID
) -> None:
    before = utcnow()

    response = workspace_client.post(
        f"/v1/deliveries/{uncertain_delivery_id}/resolve", json={"outcome": "republish"}
    )

    after = utcnow()
    assert response.status_code == 200
    body = response.json
    assert body["state"] == "scheduled"
    assert body["failures"] == 0
    assert body["error"] is None
    assert before <= datetime.fromisoformat(body["due_at"]) <= after
    [claim] = claim_what_is_due(services)
    assert (claim.delivery_id, claim.attempt) == (uncertain_delivery_id, 2)


def test_resolving_as_published_without_a_url_is_a_422_pointing_at_url(
    workspace_client: FlaskClient, services: Services, uncertain_delivery_id: uuid.UUID
) -> None:
    uncertain = snapshot(services, uncertain_delivery_id)

    response = workspace_client.post(
        f"/v1/deliveries/{uncertain_delivery_id}/resolve", json={"outcome": "published"}
    )

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "The request does not have the expected shape; each error names what to fix.",
        "instance": f"/v1/deliveries/{uncertain_delivery_id}/resolve",
        "errors": [
            {"pointer": "/url", "detail": "Say where the post is: a published outcome needs its URL."}
        ],
    }
    assert snapshot(services, uncertain_delivery_id) == uncertain


@pytest.mark.parametrize(
    "url", ["ftp://sandbox.invalid/@acme/1", "sandbox.invalid/@acme/1", "javascript:alert(1)", ""]
)
def test_a_url_that_is_not_http_or_https_is_a_422_pointing_at_url(
    workspace_client: FlaskClient, services: Services, uncertain_delivery_id: uuid.UUID, url: str
) -> None:
    uncertain = snapshot(services, uncertain_delivery_id)

    response = workspace_client.post(
        f"/v1/deliveries/{uncertain_delivery_id}/resolve", json={"outcome": "published", "url": url}
    )

    assert response.status_code == 422
    assert response.json["errors"] == [{"pointer": "/url", "detail": "Not a valid http or https URL."}]
    assert snapshot(services, uncertain_delivery_id) == uncertain


def test_republishing_takes_no_url_or_network_id(
    workspace_client: FlaskClient, services: Services, uncertain_delivery_id: uuid.UUID
) -> None:
    uncertain = snapshot(services, uncertain_delivery_id)

    response = workspace_client.post(
        f"/v1/deliveries/{uncertain_delivery_id}/resolve",
        json={"outcome": "republish", "url": A_POST_URL, "external_id": "found-by-hand"},
    )

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"pointer": "/url", "detail": "Only a published outcome takes url."},
        {"pointer": "/external_id", "detail": "Only a published outcome takes external_id."},
    ]
    assert snapshot(services, uncertain_delivery_id) == uncertain


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"outcome": "deleted"}, "Must be one of: published, republish."),
        ({"outcome": None}, "Field may not be null."),
        ({"url": A_POST_URL}, "Missing data for required field."),
    ],
    ids=["another outcome", "null", "none"],
)
def test_an_outcome_other_than_published_or_republish_is_a_422_pointing_at_outcome(
    workspace_client: FlaskClient,
    services: Services,
    uncertain_delivery_id: uuid.UUID,
    body: dict[str, Any],
    detail: str,
) -> None:
    uncertain = snapshot(services, uncertain_delivery_id)

    response = workspace_client.post(f"/v1/deliveries/{uncertain_delivery_id}/resolve", json=body)

    assert response.status_code == 422
    assert response.json["errors"] == [{"pointer": "/outcome", "detail": detail}]
    assert snapshot(services, uncertain_delivery_id) == uncertain


@pytest.mark.parametrize(
    ("body", "action"),
    [
        ({"outcome": "published", "url": A_POST_URL}, "marked published"),
        ({"outcome": "republish"}, "republished"),
    ],
    ids=["published", "republish"],
)
def test_resolving_a_scheduled_delivery_is_a_409_and_changes_nothing(
    workspace_client: FlaskClient,
    services: Services,
    workspace: Workspace,
    channel: Channel,
    body: dict[str, Any],
    action: str,
) -> None:
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    scheduled = snapshot(services, delivery_id)

    response = workspace_client.post(f"/v1/deliveries/{delivery_id}/resolve", json=body)

    assert response.status_code == 409
    assert response.json == conflict(
        delivery_id,
        "resolve",
        f"The delivery is scheduled; only one that is needs_review, unknown can be {action}.",
    )
    assert snapshot(services, delivery_id) == scheduled


# Every action


@pytest.mark.parametrize(
    ("action", "body", "allowed_state"),
    [
        ("retry", None, DeliveryState.FAILED),
        ("cancel", None, DeliveryState.SCHEDULED),
        ("resolve", {"outcome": "published", "url": A_POST_URL}, DeliveryState.UNKNOWN),
        ("resolve", {"outcome": "republish"}, DeliveryState.NEEDS_REVIEW),
    ],
    ids=["retry", "cancel", "resolve as published", "resolve for republishing"],
)
def test_a_delivery_of_another_workspace_is_not_found_like_a_missing_one_and_nothing_changes(
    workspace_client: FlaskClient,
    services: Services,
    action: str,
    body: dict[str, Any] | None,
    allowed_state: DeliveryState,
) -> None:
    other_workspace, _ = make_workspace(services, "Someone else")
    theirs = only_delivery_id(make_post(services, other_workspace, [make_channel(services, other_workspace)]))
    # In a state the action allows, so only the workspace stands in the way.
    put_in_state(services, theirs, allowed_state)
    before = snapshot(services, theirs)

    for delivery_id in (theirs, uuid.uuid4()):
        response = workspace_client.post(f"/v1/deliveries/{delivery_id}/{action}", json=body)

        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
        assert response.json == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"There is no delivery with id {delivery_id} in this workspace.",
            "instance": f"/v1/deliveries/{delivery_id}/{action}",
        }
    assert snapshot(services, theirs) == before


def test_each_action_documents_its_not_found_and_conflict_problems(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]

    for action in ("retry", "cancel", "resolve"):
        operation = paths[f"/v1/deliveries/{{delivery_id}}/{action}"]["post"]
        expected = {"200", "404", "409", "default"} | ({"422"} if action == "resolve" else set())
        assert set(operation["responses"]) == expected, action
        assert operation["responses"]["409"] == {"$ref": "#/components/responses/CONFLICT"}
        assert operation["summary"], action
    assert set(paths["/v1/deliveries/{delivery_id}"]["get"]["responses"]) == {"200", "404", "default"}
