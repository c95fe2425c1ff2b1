"""GET /v1/posts/<id>/metrics and POST /v1/posts/<id>/metrics/refresh."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.publishing import publish_delivery
from shared.metrics.collecting import collect_metrics
from shared.task_names import COLLECT_POST_METRICS
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.models import Workspace
from tests.driving import claim_what_is_due
from tests.factories import make_channel, make_post, make_workspace

SAMPLE_FIELDS = {"collected_at", "likes", "reposts", "replies", "quotes", "bookmarks", "views", "clicks"}


def test_a_published_posts_metrics_list_each_deliverys_samples_and_latest(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    post = make_post(services, workspace, [channel])
    [claim] = claim_what_is_due(services)
    publish_delivery(services, claim.delivery_id, claim.attempt)
    assert collect_metrics(services, post.id) == 1
    assert collect_metrics(services, post.id) == 1

    response = workspace_client.get(f"/v1/posts/{post.id}/metrics")

    assert response.status_code == 200
    assert response.json["post_id"] == str(post.id)
    [delivery] = response.json["deliveries"]
    assert delivery["delivery_id"] == str(claim.delivery_id)
    assert delivery["channel_id"] == str(channel.id)
    assert delivery["network"] == "sandbox"
    assert len(delivery["samples"]) == 2
    assert all(set(sample) == SAMPLE_FIELDS for sample in delivery["samples"])
    first, second = delivery["samples"]
    assert datetime.fromisoformat(first["collected_at"]) <= datetime.fromisoformat(second["collected_at"])
    assert second["collected_at"].endswith("+00:00")
    assert delivery["latest"] == second
    assert isinstance(second["likes"], int)
    assert second["clicks"] is None  # the sandbox does not count clicks


def test_a_post_not_yet_published_has_deliveries_without_samples(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    post = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=1))

    response = workspace_client.get(f"/v1/posts/{post.id}/metrics")

    assert response.status_code == 200
    [delivery] = response.json["deliveries"]
    assert delivery["latest"] is None
    assert delivery["samples"] == []


def test_refreshing_sends_one_collect_task_after_the_transaction_ends(
    workspace_client: FlaskClient,
    services: Services,
    workspace: Workspace,
    channel: Channel,
    task_queue: MemoryTaskQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = make_post(services, workspace, [channel])
    connections_in_use_when_sent = []
    record = task_queue.send

    def send_noting_open_connections(task_name: str, kwargs: dict[str, Any], **options: Any) -> None:
        connections_in_use_when_sent.append(services.engine.pool.checkedout())  # type: ignore[attr-defined]
        record(task_name, kwargs, **options)

    monkeypatch.setattr(task_queue, "send", send_noting_open_connections)

    response = workspace_client.post(f"/v1/posts/{post.id}/metrics/refresh")

    assert response.status_code == 202
    assert response.json == {"post_id": str(post.id), "queued": True}
    assert [(task.name, task.kwargs) for task in task_queue.sent] == [
        (COLLECT_POST_METRICS, {"post_id": str(post.id)})
    ]
    assert connections_in_use_when_sent == [0]


@pytest.mark.parametrize("action", ["GET metrics", "POST refresh"])
def test_a_post_of_another_workspace_or_a_missing_one_has_no_metrics_and_sends_nothing(
    workspace_client: FlaskClient, services: Services, task_queue: MemoryTaskQueue, action: str
) -> None:
    other_workspace, _ = make_workspace(services, "Someone else")
    theirs = make_post(services, other_workspace, [make_channel(services, other_workspace)])

    for post_id in (theirs.id, uuid.uuid4()):
        path = f"/v1/posts/{post_id}/metrics"
        if action == "GET metrics":
            response = workspace_client.get(path)
        else:
            path += "/refresh"
            response = workspace_client.post(path)

        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
        assert response.json == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"There is no post with id {post_id} in this workspace.",
            "instance": path,
        }
    assert task_queue.sent == []
