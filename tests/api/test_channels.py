"""POST and GET /v1/channels."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import partial

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.channels.services import check_connection
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from shared.deliveries.publishing import publish_delivery
from shared.errors import InvalidInput
from shared.metrics.services import note_collection
from shared.workspaces.models import Workspace
from tests.driving import claim_what_is_due
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery
from tests.integration.fake_networks import sandbox_of

HOUR = timedelta(hours=1)


def test_connecting_a_channel_returns_it(workspace_client: FlaskClient) -> None:
    response = workspace_client.post(
        "/v1/channels",
        json={"network": "sandbox", "name": "Acme", "handle": "acme", "settings": {"latency_ms": 5}},
    )

    assert response.status_code == 201
    body = response.json
    assert set(body) == {
        "id",
        "network",
        "name",
        "handle",
        "settings",
        "state",
        "timezone",
        "posting_schedule",
        "created_at",
        "metrics_collection",
    }
    assert body["metrics_collection"] is None, "not read yet"
    uuid.UUID(body["id"])
    assert body["network"] == "sandbox"
    assert body["name"] == "Acme"
    assert body["handle"] == "acme"
    assert body["settings"] == {"latency_ms": 5}
    assert body["state"] == "active"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    assert body["created_at"].endswith("+00:00")


def test_settings_may_be_left_out(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/channels", json={"network": "sandbox", "name": "A", "handle": "a"})

    assert response.status_code == 201
    assert response.json["settings"] == {}


def test_an_unknown_network_is_a_422_that_names_the_installed_ones(
    workspace_client: FlaskClient, services: Services
) -> None:
    response = workspace_client.post("/v1/channels", json={"network": "sandbx", "name": "A", "handle": "a"})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "The request breaks a rule.",
        "instance": "/v1/channels",
        "errors": [
            {
                "pointer": "/network",
                "detail": "No network named 'sandbx' is installed. Did you mean 'sandbox'? "
                f"Installed: {', '.join(services.networks.names())}.",
            }
        ],
    }
    with services.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Channel)) == 0


def test_settings_the_network_does_not_know_point_at_settings(workspace_client: FlaskClient) -> None:
    response = workspace_client.post(
        "/v1/channels", json={"network": "sandbox", "name": "A", "handle": "a", "settings": {"colour": 1}}
    )

    assert response.status_code == 422
    assert response.json["errors"] == [{"pointer": "/settings", "detail": "unknown option 'colour'"}]


def test_missing_fields_are_each_named(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/channels", json={})

    assert response.status_code == 422
    assert sorted(response.json["errors"], key=lambda error: error["pointer"]) == [
        {"pointer": "/handle", "detail": "Missing data for required field."},
        {"pointer": "/name", "detail": "Missing data for required field."},
        {"pointer": "/network", "detail": "Missing data for required field."},
    ]


def test_listing_channels_shows_only_the_workspaces_own(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    first = make_channel(services, workspace, "First")
    second = make_channel(services, workspace, "Second")
    other_workspace, _ = make_workspace(services, "Someone else")
    make_channel(services, other_workspace, "Theirs")

    response = workspace_client.get("/v1/channels")

    assert response.status_code == 200
    assert [item["id"] for item in response.json["items"]] == [str(first.id), str(second.id)]
    assert response.json["items"][0]["handle"] == "first"


def test_credentials_a_network_does_not_take_are_refused_by_name_and_nothing_is_stored(
    workspace_client: FlaskClient, services: Services
) -> None:
    response = workspace_client.post(
        "/v1/channels",
        json={"network": "sandbox", "name": "S", "handle": "s", "credentials": {"token": "abc"}},
    )

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"pointer": "/credentials/token", "detail": "Sandbox takes no credential of this name."}
    ]
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Channel)) == 0


def test_credentials_a_network_may_take_pass_the_check_and_others_beside_them_do_not(
    services: Services,
) -> None:
    """Usenet needs no login, but a server may ask for one: both keys pass; a misspelt one is named."""
    check = partial(check_connection, services.networks, "nntp", NNTP_SETTINGS)

    check({})
    check({"username": "crier", "password": "s3cret-pass"})
    with pytest.raises(InvalidInput) as refused:
        check({"username": "crier", "pasword": "s3cret-pass"})
    assert [problem.pointer for problem in refused.value.problems] == ["/credentials/pasword"]


NNTP_SETTINGS = {"server": "news.example.org", "newsgroups": ["local.test"], "from": "Crier <c@example.org>"}


def test_a_channel_is_never_answered_with_its_credentials(
    workspace_client: FlaskClient, services: Services
) -> None:
    response = workspace_client.post("/v1/channels", json={"network": "sandbox", "name": "S", "handle": "s"})
    listed = workspace_client.get("/v1/channels")

    assert response.status_code == 201
    assert "credentials" not in response.json
    assert "sealed_credentials" not in response.json
    assert all("credentials" not in item for item in listed.json["items"])


def test_credentials_of_the_wrong_shape_are_refused_before_the_network_is_asked(
    workspace_client: FlaskClient, services: Services
) -> None:
    response = workspace_client.post(
        "/v1/channels",
        json={
            "network": "webhook",
            "name": "Our site",
            "handle": "site",
            "settings": {"url": "https://example.invalid/hooks/crier"},
            "credentials": {"secret": "short"},
        },
    )

    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "pointer": "/credentials",
            "detail": "secret must be at least 16 characters, so its signatures cannot be guessed",
        }
    ]
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Channel)) == 0


def test_a_channel_shows_how_reading_its_numbers_went(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, "Town hall")
    failed_at = utcnow()
    with services.sessions.begin() as session:
        note_collection(session, channel.id, now=failed_at, error="Engagement: example.social answered 501")

    body = workspace_client.get(f"/v1/channels/{channel.id}").json

    assert body["metrics_collection"] == {
        "last_success_at": None,
        "last_error": "Engagement: example.social answered 501",
        "last_error_at": failed_at.isoformat(),
        "failing_since": failed_at.isoformat(),
    }
    [listed] = workspace_client.get("/v1/channels").json["items"]
    assert listed["metrics_collection"] == body["metrics_collection"]


def test_disconnecting_a_channel_cancels_what_has_not_gone_out_a_claimed_delivery_too(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    claimed = only_delivery_id(make_post(services, workspace, [channel]))
    [claim] = claim_what_is_due(services)
    waiting = only_delivery_id(make_post(services, workspace, [channel], scheduled_at=utcnow() + HOUR))

    response = workspace_client.delete(f"/v1/channels/{channel.id}")
    # The claim's message arrives after the disconnection: it finds nothing left to send.
    sent = publish_delivery(services, claim.delivery_id, claim.attempt)

    assert response.status_code == 200
    assert sent is None
    assert sandbox_of(services).store.count_by_key() == {}
    for delivery_id in (claimed, waiting):
        delivery = read_delivery(services, delivery_id)
        assert delivery.state is DeliveryState.CANCELLED
        assert delivery.last_error == "The channel was disconnected."
        assert delivery.lease_expires_at is None
