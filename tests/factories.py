"""Factories: the fewest calls that make a realistic workspace, channel or post for a test."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.channels.services import connect_channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.posts.models import Post
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_add_member, get_or_create_workspace, issue_token


def make_workspace(services: Services, name: str = "Acme community team") -> tuple[Workspace, str]:
    """A workspace and a live admin-scoped bearer token of its owner."""
    with services.sessions.begin() as session:
        workspace = get_or_create_workspace(session, name)
    return workspace, make_member_token(services, workspace, Role.OWNER)


def make_member_token(
    services: Services, workspace: Workspace, role: Role, scope: Scope = Scope.ADMIN
) -> str:
    """A bearer token of a member with `role` (one member per role and workspace), scoped to `scope`."""
    with services.sessions.begin() as session:
        member = get_or_add_member(session, workspace, f"{role.value}@example.org", role=role)
        token, _ = issue_token(session, member, f"tests ({scope.value})", scope=scope)
    return token


def make_channel(
    services: Services,
    workspace: Workspace,
    name: str = "Sandbox",
    *,
    network: str = "sandbox",
    timezone: str = "UTC",
    posting_schedule: dict[str, list[str]] | None = None,
    **options: Any,
) -> Channel:
    """A channel on `network` (the sandbox by default); `options` are its network settings."""
    with services.sessions.begin() as session:
        return connect_channel(
            session,
            services.networks,
            workspace.id,
            network=network,
            name=name,
            handle=name.lower().replace(" ", "_"),
            settings=options,
            timezone=timezone,
            posting_schedule=posting_schedule,
        )


def make_post(
    services: Services,
    workspace: Workspace,
    channels: list[Channel],
    *,
    text: str = "Our spring meetup is on!",
    scheduled_at: datetime | None = None,
) -> Post:
    """A post scheduled by Crier itself (an owner's rights), at `scheduled_at` or now."""
    request = PostRequest(
        text=text, targets=[TargetRequest(channel.id) for channel in channels], scheduled_at=scheduled_at
    )
    with services.sessions.begin() as session:
        return create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())


def only_delivery_id(post: Post) -> uuid.UUID:
    [delivery] = post.deliveries
    return delivery.id


def read_delivery(services: Services, delivery_id: uuid.UUID) -> Delivery:
    """The delivery as committed, read in a session of its own."""
    with services.sessions() as session:
        return session.get_one(Delivery, delivery_id)


def make_connected_channel(
    services: Services,
    workspace: Workspace,
    network: str,
    name: str,
    *,
    settings: dict[str, Any],
    credentials: dict[str, Any],
    handle: str | None = None,
) -> Channel:
    """A channel on `network` with credentials, sealed as connecting stores them (never tried on it)."""
    with services.sessions.begin() as session:
        return connect_channel(
            session,
            services.networks,
            workspace.id,
            network=network,
            name=name,
            handle=handle or f"{name.lower().replace(' ', '_')}-{uuid.uuid4().hex[:6]}",
            settings=settings,
            credentials=credentials,
            cipher=services.credentials,
        )


def make_slack_channel(services: Services, workspace: Workspace, name: str = "Team chat") -> Channel:
    """A Slack channel: a network that takes no thread, no media, and cannot delete or edit."""
    return make_connected_channel(
        services,
        workspace,
        "slack",
        name,
        settings={},
        credentials={"webhook_url": "https://hooks.slack.com/services/T0001/B0001/abcdef"},
    )


def make_mastodon_channel(
    services: Services, workspace: Workspace, base_url: str, token: str, name: str = "Alice"
) -> Channel:
    """A Mastodon channel on a server of this machine (a fake), reached over plain http: the services'
    settings must allow 127.0.0.1 (tests.networks.on_this_machine)."""
    return make_connected_channel(
        services,
        workspace,
        "mastodon",
        name,
        settings={"base_url": base_url},
        credentials={"access_token": token},
    )
