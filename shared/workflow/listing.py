"""Finding a workspace's posts: filters that match the states readers see, pages that hold still."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, lazyload, selectinload

from shared.channels.models import Channel
from shared.deliveries.models import Delivery
from shared.posts.models import Post, PostLabel, PostState, PostTarget
from shared.workflow.states import state_condition
from shared.workspaces.services import get_in_workspace


@dataclass(frozen=True)
class PostFilter:
    """Which posts a list or an export holds: those matching every field given (None matches all)."""

    state: PostState | None = None
    channel_id: uuid.UUID | None = None
    label: str | None = None
    scheduled_from: datetime | None = None
    scheduled_to: datetime | None = None


EVERY_POST = PostFilter()


# What the API shows of a post, each relation in one query per page, and nothing it does not show. The
# models join a channel to each target and each delivery (a page of 50 decoded the same 3 channels' JSON
# columns 600 times) and select a delivery's parts, changes and its channel's metrics health eagerly: here
# the channels come once, for the deliveries, and the rest waits until someone reads it in the session (a
# target's channel is then found among those already loaded).
SHOWN_POST = (
    selectinload(Post.targets).lazyload(PostTarget.channel),  # the deliveries' channels are the same
    selectinload(Post.deliveries).options(
        selectinload(Delivery.channel).lazyload(Channel.collection),
        lazyload(Delivery.parts),
        lazyload(Delivery.changes),
    ),
)


def read_post(session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    """The post with what the API shows of it loaded; NotFound when it is not the workspace's."""
    return get_in_workspace(session, Post, workspace_id, post_id, "post", options=SHOWN_POST)


def list_posts(
    session: Session,
    workspace_id: uuid.UUID,
    which: PostFilter = EVERY_POST,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[Post]:
    """Newest first. `after` is the (created_at, id) of the previous page's last post: a keyset, so a post
    created while someone pages does not shift the pages."""
    query = select(Post).where(Post.workspace_id == workspace_id)
    if which.state is not None:
        query = query.where(state_condition(which.state))
    if which.channel_id is not None:
        query = query.where(
            exists().where(PostTarget.post_id == Post.id, PostTarget.channel_id == which.channel_id)
        )
    if which.label is not None:
        query = query.where(exists().where(PostLabel.post_id == Post.id, PostLabel.name == which.label))
    if which.scheduled_from is not None:
        query = query.where(Post.scheduled_at >= which.scheduled_from)
    if which.scheduled_to is not None:
        query = query.where(Post.scheduled_at < which.scheduled_to)
    if after is not None:
        created_at, post_id = after
        query = query.where(
            or_(Post.created_at < created_at, and_(Post.created_at == created_at, Post.id < post_id))
        )
    return session.scalars(
        query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit).options(*SHOWN_POST)
    ).all()
