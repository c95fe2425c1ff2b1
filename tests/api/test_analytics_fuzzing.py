"""schemathesis over the analytics operations, against a workspace with engagement to read: whatever a
client asks, no 5xx, and every answer matches the document (status, content type, body).

tests/api/test_openapi_fuzzing.py does the same for every operation with an empty history; here the
rollups, latest values, samples and snapshots exist, so the queries behind the answers run on data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.models import ChannelSnapshot, DeliveryMetrics, EngagementHour, MetricSample
from shared.workspaces.models import Workspace
from tests.api.test_openapi_fuzzing import CHECKS
from tests.factories import make_channel, make_post

SETTINGS = settings(
    max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture
def owner_headers(
    services: Services, workspace: Workspace, workspace_and_token: tuple[Workspace, str]
) -> Any:
    channel = make_channel(services, workspace, timezone="Europe/Paris")
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    post = make_post(services, workspace, [channel], scheduled_at=now + timedelta(days=2))
    with services.sessions.begin() as session:
        delivery = session.get_one(Delivery, post.deliveries[0].id)
        delivery.state, delivery.published_at, delivery.external_id = DeliveryState.PUBLISHED, now, "x1"
        session.add(
            DeliveryMetrics(
                delivery_id=delivery.id,
                workspace_id=workspace.id,
                post_id=post.id,
                channel_id=channel.id,
                network="sandbox",
                published_at=now - timedelta(days=10),
                likes=5,
                views=50,
                interactions=5,
            )
        )
        session.add(MetricSample(delivery_id=delivery.id, collected_at=now, likes=5, views=50, raw={}))
        for hours in range(0, 24 * 40, 7):
            session.add(
                EngagementHour(
                    channel_id=channel.id,
                    hour=now - timedelta(hours=hours),
                    workspace_id=workspace.id,
                    network="sandbox",
                    likes=hours % 5,
                    views=hours,
                )
            )
        session.add(ChannelSnapshot(channel_id=channel.id, day=now.date(), taken_at=now, followers=9, raw={}))
    return {"Authorization": f"Bearer {workspace_and_token[1]}"}


def test_no_analytics_request_gets_a_5xx_and_every_answer_matches_the_document(
    app: Flask, owner_headers: Any
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex="^/v1/analytics/")
    failed: dict[str, str] = {}
    operations = [found.ok() for found in schema.get_all_operations()]
    assert len(operations) == 8  # the responses analytics included
    for operation in operations:

        @SETTINGS
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            case.call_and_validate(headers=owner_headers, checks=CHECKS)

        try:
            call()
        except Exception as failure:
            failed[operation.label] = str(failure)[:2000]
    assert not failed, "\n\n".join(f"{label}:\n{detail}" for label, detail in failed.items())
