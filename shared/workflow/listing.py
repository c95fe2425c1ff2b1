"""Finding a workspace's posts: filters that match the states readers see, pages that hold still."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from shared.posts.models import Post, PostLabel, PostState, PostTarget
from shared.workflow.states import state_condition


@dataclass(frozen=True)
class PostFilter:
    """Which posts a list or an export holds: those matching every field given (None matches all)."""

    state: PostState | None = None
    channel_id: uuid.UUID | None = None
    label: str | None = None
    scheduled_from: datetime | None = None
    scheduled_to: datetime | None = None


EVERY_POST = PostFilter()


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
    return session.scalars(query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)).all()
