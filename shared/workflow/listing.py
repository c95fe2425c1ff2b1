"""Finding a workspace's posts: filters that match the states readers see, pages that hold still."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from shared.posts.models import Post, PostLabel, PostState, PostTarget
from shared.workflow.states import state_condition


def list_posts(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    state: PostState | None = None,
    channel_id: uuid.UUID | None = None,
    label: str | None = None,
    scheduled_from: datetime | None = None,
    scheduled_to: datetime | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[Post]:
    """Newest first. `after` is the (created_at, id) of the previous page's last post: a keyset, so a post
    created while someone pages does not shift the pages."""
    query = select(Post).where(Post.workspace_id == workspace_id)
    if state is not None:
        query = query.where(state_condition(state))
    if channel_id is not None:
        query = query.where(
            exists().where(PostTarget.post_id == Post.id, PostTarget.channel_id == channel_id)
        )
    if label is not None:
        query = query.where(exists().where(PostLabel.post_id == Post.id, PostLabel.name == label))
    if scheduled_from is not None:
        query = query.where(Post.scheduled_at >= scheduled_from)
    if scheduled_to is not None:
        query = query.where(Post.scheduled_at < scheduled_to)
    if after is not None:
        created_at, post_id = after
        query = query.where(
            or_(Post.created_at < created_at, and_(Post.created_at == created_at, Post.id < post_id))
        )
    return session.scalars(query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)).all()
