"""A webhook's URL is often its receiver's credential: members below admin see its host alone, wherever
they look, and the audit log keeps the host alone for everyone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from tests.api.conftest import ClientAs
from tests.dashboard.conftest import sign_in
from tests.factories import make_connected_channel, make_member_token, make_post

SECRET = "T0K3N-only-the-receiver-and-admins-know"
HOOK_URL = f"https://hooks.example.org/services/{SECRET}?sig={SECRET}"
CHANNEL_URL = f"https://receiver.example.net/in/{SECRET}"

BELOW_ADMIN = [
    (Role.VIEWER, Scope.READ),
    (Role.CONTRIBUTOR, Scope.WRITE),
    (Role.EDITOR, Scope.ADMIN),
    (Role.OWNER, Scope.READ),  # an owner's read-only token is no admin either
    (Role.OWNER, Scope.WRITE),
]
ADMINS = [(Role.ADMIN, Scope.ADMIN), (Role.OWNER, Scope.ADMIN)]


@pytest.fixture
def webhook_id(client_as: ClientAs) -> str:
    created = client_as(Role.ADMIN).post("/v1/webhooks", json={"url": HOOK_URL, "events": ["*"]})
    assert created.status_code == 201, created.json
    return str(created.json["id"])


@pytest.fixture
def webhook_channel(services: Services, workspace: Workspace) -> Channel:
    return make_connected_channel(
        services,
        workspace,
        "webhook",
        "Our site",
        settings={"url": CHANNEL_URL, "max_length": 500},
        credentials={"secret": "a-signing-secret-of-some-length"},
    )


@pytest.mark.parametrize(("role", "scope"), BELOW_ADMIN, ids=lambda value: str(value))
def test_below_admin_a_webhooks_url_is_its_host_alone(
    client_as: ClientAs, webhook_id: str, role: Role, scope: Scope
) -> None:
    client = client_as(role, scope)

    listed = client.get("/v1/webhooks").json["items"]
    one = client.get(f"/v1/webhooks/{webhook_id}").json

    assert [hook["url"] for hook in listed] == ["https://hooks.example.org/…"]
    assert one["url"] == "https://hooks.example.org/…"


@pytest.mark.parametrize(("role", "scope"), ADMINS, ids=lambda value: str(value))
def test_admins_see_a_webhooks_url_whole_to_change_it(
    client_as: ClientAs, webhook_id: str, role: Role, scope: Scope
) -> None:
    assert client_as(role, scope).get(f"/v1/webhooks/{webhook_id}").json["url"] == HOOK_URL


@pytest.mark.parametrize(("role", "scope"), BELOW_ADMIN, ids=lambda value: str(value))
def test_below_admin_the_webhook_networks_url_is_its_host_alone(
    client_as: ClientAs, webhook_channel: Channel, role: Role, scope: Scope
) -> None:
    client = client_as(role, scope)

    listed = client.get("/v1/channels").json["items"]
    one = client.get(f"/v1/channels/{webhook_channel.id}").json

    assert [channel["settings"] for channel in listed] == [
        {"url": "https://receiver.example.net/…", "max_length": 500}
    ]
    assert one["settings"]["url"] == "https://receiver.example.net/…"


def test_an_admin_sees_the_webhook_networks_url_whole(client_as: ClientAs, webhook_channel: Channel) -> None:
    assert (
        client_as(Role.ADMIN).get(f"/v1/channels/{webhook_channel.id}").json["settings"]["url"] == CHANNEL_URL
    )


def test_nothing_a_viewer_can_read_holds_the_secret(
    app: Flask,
    client_as: ClientAs,
    services: Services,
    workspace: Workspace,
    webhook_id: str,
    webhook_channel: Channel,
) -> None:
    admin = client_as(Role.ADMIN)
    assert admin.post(f"/v1/webhooks/{webhook_id}/ping").status_code == 202
    make_post(services, workspace, [webhook_channel], scheduled_at=utcnow() + timedelta(days=1))
    viewer_token = make_member_token(services, workspace, Role.VIEWER, Scope.READ)
    viewer = app.test_client()
    viewer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {viewer_token}"
    later = (utcnow() + timedelta(days=3)).isoformat()
    window = {"from": utcnow().isoformat(), "to": later}
    readable = [
        viewer.get("/v1/webhooks"),
        viewer.get(f"/v1/webhooks/{webhook_id}"),
        viewer.get(f"/v1/webhooks/{webhook_id}/messages"),
        viewer.get("/v1/channels"),
        viewer.get(f"/v1/channels/{webhook_channel.id}"),
        viewer.get("/v1/posts"),
        viewer.get("/v1/deliveries"),
        viewer.get("/v1/calendar", query_string=window),
        viewer.get("/v1/exports/posts.csv"),
        viewer.get("/v1/exports/calendar.ics", query_string=window),
        viewer.post("/v1/preview", json={"text": "Hi", "channel_ids": [str(webhook_channel.id)]}),
    ]
    browser = app.test_client()
    sign_in(browser, viewer_token)
    readable.append(browser.get("/dashboard"))

    assert [response.status_code for response in readable] == [200] * len(readable)
    leaked = [response.request.path for response in readable if SECRET in response.get_data(as_text=True)]
    assert leaked == []
    assert SECRET in admin.get(f"/v1/webhooks/{webhook_id}").get_data(as_text=True), (
        "the control: it is there"
    )


def test_the_audit_log_keeps_a_webhooks_host_alone_when_made_changed_and_deleted(
    client_as: ClientAs, webhook_id: str
) -> None:
    admin = client_as(Role.ADMIN)
    moved = admin.patch(f"/v1/webhooks/{webhook_id}", json={"url": f"https://other.example.org/{SECRET}2"})
    assert moved.json["url"] == f"https://other.example.org/{SECRET}2"
    assert admin.delete(f"/v1/webhooks/{webhook_id}").status_code == 204

    log = admin.get("/v1/audit", query_string={"subject_id": webhook_id}).json["items"]

    assert [(entry["action"], entry["detail"]["url"]) for entry in log] == [
        ("webhook.deleted", "https://other.example.org/…"),
        ("webhook.updated", "https://other.example.org/…"),
        ("webhook.created", "https://hooks.example.org/…"),
    ]
    assert SECRET not in json.dumps(log)
