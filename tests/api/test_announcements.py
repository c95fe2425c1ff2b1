"""What happens to posts and deliveries is owed to the workspace's webhooks, in the same transaction."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.workspaces.access import Role
from tests.api.conftest import ClientAs
from tests.driving import publish_what_is_due


def subscribe(client: FlaskClient) -> str:
    response = client.post("/v1/webhooks", json={"url": "https://hooks.example.org/crier", "events": ["*"]})
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def owed(client: FlaskClient, hook_id: str) -> list[tuple[str, dict[str, object]]]:
    messages = client.get(f"/v1/webhooks/{hook_id}/messages").json["items"]
    return [(message["type"], message["data"]) for message in reversed(messages)]


def test_a_published_delivery_is_announced_with_where_it_went(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    hook = subscribe(workspace_client)
    post = workspace_client.post("/v1/posts", json={"text": "Hello", "channel_ids": [str(channel.id)]}).json

    publish_what_is_due(services)

    [(event, data)] = owed(workspace_client, hook)
    assert event == "delivery.published"
    assert data["post_id"] == post["id"]
    assert data["delivery_id"] == post["deliveries"][0]["id"]
    assert str(data["url"]).startswith("https://sandbox.invalid/")


def test_approval_requests_rejections_and_expiries_are_announced_for_the_author(
    workspace_client: FlaskClient, client_as: ClientAs, channel: Channel
) -> None:
    hook = subscribe(workspace_client)
    contributor = client_as(Role.CONTRIBUTOR)
    body = {"text": "Please approve", "channel_ids": [str(channel.id)]}
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    first = contributor.post("/v1/posts", json={**body, "scheduled_at": soon}).json
    client_as(Role.EDITOR).post(f"/v1/posts/{first['id']}/reject", json={"comment": "Not yet"})

    events = owed(workspace_client, hook)

    assert [event for event, _ in events] == ["post.approval_requested", "post.rejected"]
    assert events[1][1]["comment"] == "Not yet"
    assert events[0][1]["author_id"] == first["author_id"]
