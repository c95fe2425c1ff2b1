"""/v1/webhooks: endpoints, their secret shown once, a ping, and the delivery log, page by page."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.db import utcnow
from shared.notifications.attempts import AttemptResult, claim_due_messages, record_attempt
from shared.notifications.models import EventType
from shared.notifications.outbox import emit
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.factories import make_member_token, make_workspace

HOOK = {"url": "https://hooks.example.org/crier", "events": ["delivery.failed", "delivery.needs_review"]}


def client_with(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def create(client: FlaskClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={**HOOK, **changes})
    assert response.status_code == 201, response.json
    return dict(response.json)


def owe(services: Services, workspace: Workspace, count: int) -> list[str]:
    """`count` events, one transaction each (so each is newer than the last); the messages' ids."""
    ids = []
    for number in range(count):
        with services.sessions.begin() as session:
            [message] = emit(session, workspace.id, EventType.DELIVERY_FAILED, {"number": number})
        ids.append(str(message.id))
    return ids


def test_a_new_webhook_is_answered_with_its_secret_once_and_where_it_lives(workspace_client: FlaskClient):
    response = workspace_client.post("/v1/webhooks", json={**HOOK, "description": "Ops alerts"})

    assert response.status_code == 201
    created = response.json
    assert response.headers["Location"] == f"/v1/webhooks/{created['id']}"
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) >= 49
    assert {
        key: created[key] for key in ("url", "events", "description", "active", "deactivated_reason")
    } == {
        **HOOK,
        "description": "Ops alerts",
        "active": True,
        "deactivated_reason": None,
    }

    shown = workspace_client.get(response.headers["Location"]).json
    listed = workspace_client.get("/v1/webhooks").json["items"]
    assert "secret" not in shown
    assert [hook["id"] for hook in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert created["secret"] not in workspace_client.get("/v1/webhooks").get_data(as_text=True)


def test_a_webhook_can_be_changed_and_deleted(workspace_client: FlaskClient):
    hook = create(workspace_client)

    changed = workspace_client.patch(
        f"/v1/webhooks/{hook['id']}", json={"events": ["*"], "active": False, "description": "Paused"}
    )

    assert changed.status_code == 200
    assert (changed.json["events"], changed.json["active"], changed.json["description"]) == (
        ["*"],
        False,
        "Paused",
    )
    assert changed.json["url"] == HOOK["url"]
    assert workspace_client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    gone = workspace_client.get(f"/v1/webhooks/{hook['id']}")
    assert gone.status_code == 404
    assert gone.content_type == "application/problem+json"
    assert workspace_client.get("/v1/webhooks").json["items"] == []


def test_rotating_the_secret_shows_a_new_one_once(workspace_client: FlaskClient):
    hook = create(workspace_client)

    rotated = workspace_client.post(f"/v1/webhooks/{hook['id']}/rotate-secret")

    assert rotated.status_code == 200
    assert rotated.json["id"] == hook["id"]
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != hook["secret"]
    assert "secret" not in workspace_client.get(f"/v1/webhooks/{hook['id']}").json


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("POST", "/ping"),
        ("GET", "/messages"),
    ],
)
def test_another_workspaces_webhook_is_not_found(
    app: Flask, services: Services, workspace_client: FlaskClient, method: str, suffix: str
):
    _, other_token = make_workspace(services, "Other team")
    theirs = create(client_with(app, other_token))

    response = workspace_client.open(f"/v1/webhooks/{theirs['id']}{suffix}", method=method, json={})

    assert response.status_code == 404
    assert response.json["detail"] == f"There is no webhook with id {theirs['id']} in this workspace."


def test_a_member_whose_role_cannot_manage_the_workspace_may_read_webhooks_but_not_change_them(
    app: Flask, services: Services, workspace: Workspace, workspace_client: FlaskClient
):
    hook = create(workspace_client)
    editor = client_with(app, make_member_token(services, workspace, Role.EDITOR))

    assert editor.get("/v1/webhooks").status_code == 200
    assert editor.get(f"/v1/webhooks/{hook['id']}").status_code == 200
    assert editor.get(f"/v1/webhooks/{hook['id']}/messages").status_code == 200
    refused = [
        editor.post("/v1/webhooks", json=HOOK),
        editor.patch(f"/v1/webhooks/{hook['id']}", json={"active": False}),
        editor.delete(f"/v1/webhooks/{hook['id']}"),
        editor.post(f"/v1/webhooks/{hook['id']}/rotate-secret"),
        editor.post(f"/v1/webhooks/{hook['id']}/ping"),
    ]
    assert [response.status_code for response in refused] == [403] * 5
    assert all("manage_workspace" in response.json["detail"] for response in refused)
    assert workspace_client.get(f"/v1/webhooks/{hook['id']}").json["active"] is True


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.org/crier",
        "hooks.example.org/crier",
        "http://127.0.0.1:9000/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "",
    ],
)
def test_a_url_that_is_not_public_http_is_refused_with_a_pointer_to_it(
    workspace_client: FlaskClient, url: str
):
    response = workspace_client.post("/v1/webhooks", json={**HOOK, "url": url})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert [error["pointer"] for error in response.json["errors"]] == ["/url"]


def test_a_changed_url_is_checked_too(workspace_client: FlaskClient):
    hook = create(workspace_client)

    response = workspace_client.patch(f"/v1/webhooks/{hook['id']}", json={"url": "http://192.168.1.20/hook"})

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == ["/url"]


@pytest.mark.parametrize(
    ("events", "pointers"),
    [([], ["/events"]), (["delivery.failed", "post.exploded", "ping"], ["/events/1", "/events/2"])],
)
def test_events_must_be_ones_a_webhook_can_subscribe_to(
    workspace_client: FlaskClient, events: list[str], pointers: list[str]
):
    response = workspace_client.post("/v1/webhooks", json={**HOOK, "events": events})

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == pointers


def test_a_ping_is_queued_for_that_webhook_only_and_shows_in_its_log(workspace_client: FlaskClient):
    hook, other = create(workspace_client), create(workspace_client)

    response = workspace_client.post(f"/v1/webhooks/{hook['id']}/ping")

    assert response.status_code == 202
    assert (response.json["type"], response.json["state"], response.json["attempts"]) == (
        "ping",
        "pending",
        [],
    )
    assert response.json["data"] == {"webhook_id": hook["id"]}
    [logged] = workspace_client.get(f"/v1/webhooks/{hook['id']}/messages").json["items"]
    assert logged["id"] == response.json["id"]
    assert workspace_client.get(f"/v1/webhooks/{other['id']}/messages").json["items"] == []


def test_an_inactive_webhook_cannot_be_pinged(workspace_client: FlaskClient):
    hook = create(workspace_client, active=False)

    response = workspace_client.post(f"/v1/webhooks/{hook['id']}/ping")

    assert response.status_code == 409


def test_the_delivery_log_pages_newest_first_with_each_attempt(
    services: Services, workspace: Workspace, workspace_client: FlaskClient
):
    hook = create(workspace_client)
    message_ids = owe(services, workspace, 5)
    now = utcnow()
    with services.sessions.begin() as session:
        claims = claim_due_messages(session, now=now, limit=1, lease=timedelta(minutes=5))
        record_attempt(
            session,
            claims[0],
            AttemptResult(duration=timedelta(milliseconds=84), status_code=503, error="HTTP 503: busy"),
            now=now,
            max_attempts=7,
        )

    pages, cursor = [], None
    while True:
        response = workspace_client.get(
            f"/v1/webhooks/{hook['id']}/messages",
            query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200
        pages.append([message["id"] for message in response.json["items"]])
        cursor = response.json["next_cursor"]
        if cursor is None:
            break

    newest_first = list(reversed(message_ids))
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    oldest = workspace_client.get(f"/v1/webhooks/{hook['id']}/messages", query_string={"limit": 5}).json[
        "items"
    ][-1]
    assert oldest["id"] == message_ids[0]
    assert oldest["state"] == "pending"
    assert oldest["last_status_code"] == 503
    assert oldest["next_attempt_at"] is not None
    [attempt] = oldest["attempts"]
    assert attempt == {
        "at": attempt["at"],
        "duration_ms": 84,
        "status_code": 503,
        "outcome": "will_retry",
        "error": "HTTP 503: busy",
    }


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIngiXQ"])
def test_a_cursor_this_api_did_not_give_out_is_refused(workspace_client: FlaskClient, cursor: str):
    hook = create(workspace_client)

    response = workspace_client.get(f"/v1/webhooks/{hook['id']}/messages", query_string={"cursor": cursor})

    assert response.status_code == 422
    assert [error.get("parameter") for error in response.json["errors"]] == ["cursor"]


def test_an_unknown_webhook_is_not_found(workspace_client: FlaskClient):
    response = workspace_client.get(f"/v1/webhooks/{uuid.uuid4()}/messages")

    assert response.status_code == 404
