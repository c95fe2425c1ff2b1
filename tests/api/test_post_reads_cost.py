"""What reading posts costs the database: the same statements for a page of one post as for a page of fifty,
and nothing loaded twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post


@contextmanager
def statements_of(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    event.listen(services.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(services.engine, "before_cursor_execute", note)


@pytest.fixture
def channels(services: Services, workspace: Workspace) -> list[Channel]:
    return [make_channel(services, workspace, f"Sandbox {number}") for number in range(3)]


def _posts(services: Services, workspace: Workspace, channels: list[Channel], count: int) -> None:
    for number in range(count):
        make_post(
            services, workspace, channels, text=f"Post {number}", scheduled_at=utcnow() + timedelta(days=1)
        )


def test_a_page_of_fifty_posts_costs_the_statements_a_page_of_one_does(
    services: Services, workspace: Workspace, workspace_client: FlaskClient, channels: list[Channel]
):
    _posts(services, workspace, channels, 1)
    workspace_client.get("/v1/posts")  # the token's first use is noted once, with a write of its own
    with statements_of(services) as for_one:
        assert len(workspace_client.get("/v1/posts?limit=50").get_json()["items"]) == 1
    _posts(services, workspace, channels, 49)
    with statements_of(services) as for_fifty:
        page = workspace_client.get("/v1/posts?limit=50").get_json()["items"]

    assert len(page) == 50
    assert {delivery["network"] for post in page for delivery in post["deliveries"]} == {"sandbox"}
    assert len(for_fifty) == len(for_one)


def test_a_post_s_channels_are_read_once_for_its_targets_and_deliveries(
    services: Services, workspace: Workspace, workspace_client: FlaskClient, channels: list[Channel]
):
    _posts(services, workspace, channels, 1)
    [post] = workspace_client.get("/v1/posts").get_json()["items"]
    with statements_of(services) as seen:
        shown = workspace_client.get(f"/v1/posts/{post['id']}").get_json()

    assert [target["channel_id"] for target in shown["channels"]] == [str(channel.id) for channel in channels]
    assert [delivery["network"] for delivery in shown["deliveries"]] == ["sandbox"] * 3
    from_channels = [statement for statement in seen if "FROM channels" in statement]
    assert len(from_channels) == 1, from_channels
    # Nothing of what the API does not show is read: parts, changes, a channel's metrics health.
    assert not [
        statement
        for statement in seen
        if any(
            table in statement
            for table in ("FROM delivery_parts", "FROM delivery_changes", "FROM channel_collections")
        )
    ]
