"""An imported post is stored exactly as create_post stores the same post: the bulk path may not drift.

Each case makes one post through create_post in one workspace and the same post through an import in an
identical workspace, then compares every column of every row each wrote — the post, its targets, labels,
deliveries, audit entries and webhook messages — with ids replaced by what they name. A column added to
any of those tables is compared without changing this test.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import Base, table_of, utcnow
from shared.notifications.models import EventType, WebhookEndpoint, WebhookMessage
from shared.posts.models import Post, Timing
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor, Role
from shared.workspaces.models import Member, Workspace
from tests.bulk.factories import EVERY_HOUR, actor_as, add_channel, run_import
from tests.factories import make_workspace

# Clock readings and row ids differ between any two posts, however made. So does a new post's version (its
# ETag): create_post's is the number of flushes that changed it (1 to 3), an import's is 1; either is only
# ever compared with the version a client read.
NOT_COMPARED = frozenset({"id", "created_at", "updated_at", "at", "next_attempt_at", "version"})
NOW = utcnow().replace(second=0, microsecond=0)
LATER = NOW + timedelta(days=3)
LATER_IN_PARIS = (LATER + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")  # CET: UTC+1 around November

CASES = {
    "at a time": ({"time": LATER.isoformat()}, {"scheduled_at": LATER}),
    "at a wall time in a zone": (
        {"time": LATER_IN_PARIS, "timezone": "Europe/Paris"},
        {"scheduled_at": LATER, "timezone": "Europe/Paris"},
    ),
    "now": ({"time": "now"}, {}),
    "queued": ({"time": "queue"}, {"timing": Timing.QUEUE}),
    "repeating": (
        {"time": LATER.isoformat(), "recurrence": "FREQ=DAILY;COUNT=3"},
        {"scheduled_at": LATER, "timing": Timing.RECURRENCE, "recurrence_rule": "FREQ=DAILY;COUNT=3"},
    ),
    "a draft with a time": (
        {"time": LATER.isoformat(), "draft": "true"},
        {"scheduled_at": LATER, "draft": True},
    ),
    "a draft without a time": ({"time": "", "draft": "true"}, {"draft": True}),
}


def make_twin(services: Services, name: str, role: Role) -> tuple[Workspace, Actor]:
    """A workspace with the same channels and webhook endpoint as every other twin, and a member of `role`."""
    workspace = make_workspace(services, name)[0]
    add_channel(services, workspace, "Sandbox", posting_schedule=EVERY_HOUR)
    add_channel(services, workspace, "Mastodon", "mastodon", posting_schedule=EVERY_HOUR)
    with services.sessions.begin() as session:
        session.add(
            WebhookEndpoint(
                workspace_id=workspace.id,
                url="https://hooks.example/crier",
                events=[EventType.POST_APPROVAL_REQUESTED.value],
                sealed_secret=b"sealed",
            )
        )
    return workspace, actor_as(services, workspace, role)


def snapshot(session: Session, workspace: Workspace, post_id: uuid.UUID) -> dict[str, Any]:
    names: dict[uuid.UUID, str] = {post_id: "the post", workspace.id: "the workspace"}
    for channel in session.scalars(select(Channel).where(Channel.workspace_id == workspace.id)):
        names[channel.id] = f"channel {channel.name}"
    for member in session.scalars(select(Member).where(Member.workspace_id == workspace.id)):
        names[member.id] = f"member {member.email}"
    for endpoint in session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace.id)
    ):
        names[endpoint.id] = "the endpoint"

    def named(value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return names.get(value, "an id")
        if isinstance(value, str):
            try:
                return names.get(uuid.UUID(value), value)
            except ValueError:
                return value
        if isinstance(value, dict):
            return {key: named(item) for key, item in value.items()}
        if isinstance(value, list):
            return [named(item) for item in value]
        return value

    def columns(row: Base) -> dict[str, Any]:
        return {
            column.key: named(getattr(row, column.key))
            for column in table_of(type(row)).columns
            if column.key not in NOT_COMPARED
        }

    post = session.get_one(Post, post_id)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.subject_id == post_id)).all()
    messages = session.scalars(
        select(WebhookMessage).where(WebhookMessage.workspace_id == workspace.id)
    ).all()
    return {
        "post": columns(post),
        "targets": [columns(target) for target in post.targets],
        "labels": [columns(label) for label in post.labels],
        "deliveries": sorted((columns(delivery) for delivery in post.deliveries), key=str),
        "audit": sorted((columns(entry) for entry in audit), key=str),
        "webhook messages": sorted((columns(message) for message in messages), key=str),
    }


@pytest.mark.parametrize("role", [Role.OWNER, Role.CONTRIBUTOR])
@pytest.mark.parametrize("case", list(CASES))
def test_an_imported_post_is_stored_as_create_post_stores_it(
    services: Services, role: Role, case: str
) -> None:
    cells, fields = CASES[case]
    one, one_actor = make_twin(services, "One by one", role)
    bulk, bulk_actor = make_twin(services, "In bulk", role)
    with services.sessions.begin() as session:
        sandbox, mastodon = session.scalars(
            select(Channel).where(Channel.workspace_id == one.id).order_by(Channel.name.desc())
        ).all()
        request = PostRequest(
            text="Our spring meetup is on!",
            targets=[
                TargetRequest(sandbox.id),
                TargetRequest(mastodon.id, text="Our meetup is on! #fediverse"),
            ],
            labels=["spring", "meetup"],
            **fields,
        )
        made = create_post(session, services.networks, one_actor, request, now=NOW)
    header = ["text", "channels", "labels", "text:mastodon", *cells]
    values = [
        "Our spring meetup is on!",
        "Sandbox|Mastodon",
        "spring|meetup|spring",
        "Our meetup is on! #fediverse",
    ]
    csv = ",".join(header) + "\n" + ",".join([*values, *cells.values()]) + "\n"

    imported = run_import(services, bulk_actor, csv, now=NOW)

    with services.sessions.begin() as session:
        expected = snapshot(session, one, made.id)
        actual = snapshot(session, bulk, uuid.UUID(imported.post_ids[0]))
    assert actual == expected
    assert expected["post"]["stage"] in {"draft", "pending_approval", "scheduled"}


def test_the_twins_differ_when_the_posts_do(services: Services) -> None:
    # The control for the test above: the snapshot does see a different time or text.
    one, actor = make_twin(services, "One by one", Role.OWNER)
    with services.sessions.begin() as session:
        [sandbox] = session.scalars(
            select(Channel).where(Channel.workspace_id == one.id, Channel.name == "Sandbox")
        ).all()
        first, second = (
            create_post(
                session,
                services.networks,
                actor,
                PostRequest(text=text, targets=[TargetRequest(sandbox.id)], scheduled_at=at),
                now=NOW,
            )
            for text, at in (("One", LATER), ("Two", LATER + timedelta(minutes=1)))
        )
    with services.sessions.begin() as session:
        before, after = snapshot(session, one, first.id), snapshot(session, one, second.id)
    assert before["post"]["text"] != after["post"]["text"]
    assert before["deliveries"] != after["deliveries"]
    assert isinstance(before["post"]["scheduled_at"], datetime)
