"""Bulk tests' factories: channels on any network, members as actors, and an import in one call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.bootstrap import Services
from shared.bulk.models import PostImport
from shared.bulk.reading import SourceFormat, read_source
from shared.bulk.services import import_posts
from shared.channels.models import Channel
from shared.db import utcnow
from shared.workspaces.access import Actor, Role
from shared.workspaces.models import Workspace
from shared.workspaces.services import authenticate
from tests.factories import make_member_token

EVERY_HOUR = {
    day: [f"{hour:02d}:00" for hour in range(24)] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def actor_as(services: Services, workspace: Workspace, role: Role) -> Actor:
    """The workspace's member of `role` (made if needed), acting through an admin-scoped token."""
    token = make_member_token(services, workspace, role)
    with services.sessions.begin() as session:
        return authenticate(session, token, utcnow())


def add_channel(
    services: Services,
    workspace: Workspace,
    name: str,
    network: str = "sandbox",
    *,
    posting_schedule: dict[str, list[str]] | None = None,
    **fields: Any,
) -> Channel:
    """A channel stored as it is: a Mastodon or Bluesky one without credentials, as nothing is published."""
    with services.sessions.begin() as session:
        channel = Channel(
            workspace_id=workspace.id,
            network=network,
            name=name,
            handle=name.lower().replace(" ", "_"),
            settings={},
            posting_schedule=posting_schedule or {},
            **fields,
        )
        session.add(channel)
    return channel


def run_import(
    services: Services,
    actor: Actor,
    text: str,
    source_format: SourceFormat = SourceFormat.CSV,
    *,
    now: datetime | None = None,
) -> PostImport:
    with services.sessions.begin() as session:
        return import_posts(
            session,
            services.networks,
            actor,
            read_source(text.encode(), source_format),
            now=now or utcnow(),
        )
