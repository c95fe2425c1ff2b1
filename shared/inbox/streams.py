"""Saved searches ("streams"): a hashtag or words searched on a channel's network, read like an inbox.

A stream's items are listed on their own (ItemFilter.stream_id) and can be answered and liked as any item;
they are not announced to webhooks, nor counted as unread: a busy hashtag is read, not worked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.models import Channel
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound, Problem
from shared.inbox.models import InboxSource, SourceKind
from shared.networks.inbox import SearchesPosts
from shared.networks.registry import NetworkRegistry
from shared.workspaces.access import Actor, Permission, require

NAME_WIDTH = 200
QUERY_WIDTH = 500


def create_stream(
    session: Session, networks: NetworkRegistry, actor: Actor, channel_id: uuid.UUID, *, name: str, query: str
) -> InboxSource:
    """A saved search on the channel's network, read first at once."""
    require(actor, Permission.DRAFT)
    channel = session.get(Channel, channel_id)
    if channel is None or channel.workspace_id != actor.workspace_id:
        raise InvalidInput(
            [Problem("/channel_id", f"There is no channel with id {channel_id} in this workspace.")]
        )
    network = networks.get(channel.network)
    if not (network.info.inbox.can_search and isinstance(network, SearchesPosts)):
        raise InvalidInput(
            [
                Problem(
                    "/channel_id", f"Crier cannot search {network.info.display_name}: choose another channel."
                )
            ]
        )
    problems = []
    if not name.strip() or len(name) > NAME_WIDTH:
        problems.append(Problem("/name", f"A stream's name is 1 to {NAME_WIDTH} characters."))
    if len(query) > QUERY_WIDTH:
        problems.append(Problem("/query", f"A query is at most {QUERY_WIDTH} characters."))
    else:
        problems += [Problem("/query", problem) for problem in network.query_problems(query)]
    if problems:
        raise InvalidInput(problems)
    stream = InboxSource(
        workspace_id=actor.workspace_id,
        channel_id=channel.id,
        kind=SourceKind.SEARCH,
        name=name.strip(),
        query=query.strip(),
        created_by=actor.member_id,
        next_read_at=utcnow(),
    )
    session.add(stream)
    session.flush()
    record(session, actor, "stream.created", "stream", stream.id, query=stream.query)
    return stream


def list_streams(session: Session, workspace_id: uuid.UUID) -> Sequence[InboxSource]:
    return session.scalars(
        select(InboxSource)
        .where(InboxSource.workspace_id == workspace_id, InboxSource.kind == SourceKind.SEARCH)
        .order_by(InboxSource.created_at, InboxSource.id)
    ).all()


def get_stream(session: Session, workspace_id: uuid.UUID, stream_id: uuid.UUID) -> InboxSource:
    stream = session.get(InboxSource, stream_id)
    if stream is None or stream.workspace_id != workspace_id or stream.kind is not SourceKind.SEARCH:
        raise NotFound("stream", stream_id)
    return stream


def delete_stream(session: Session, actor: Actor, stream: InboxSource) -> None:
    """Stop reading it; its items go with it (answers made from them stay as the posts they are)."""
    require(actor, Permission.DRAFT)
    if stream.kind is not SourceKind.SEARCH:
        raise Conflict("A channel's inbox is not a stream: it is read while the channel is connected.")
    record(session, actor, "stream.deleted", "stream", stream.id, query=stream.query)
    session.delete(stream)
