"""Finding a workspace's posts: filters that match the states readers see, pages that hold still."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, PostLabel, PostStage, PostState, PostTarget


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


# The states a post has before it is scheduled: its stage alone says them.
BEFORE_SCHEDULING = frozenset(
    {PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.REJECTED, PostState.EXPIRED}
)


def state_condition(state: PostState) -> ColumnElement[bool]:
    """Post.state (derived in Python from the deliveries) as SQL, for filtering."""
    if state in BEFORE_SCHEDULING:
        return Post.stage == PostStage(state.value)

    def having(*states: DeliveryState) -> ColumnElement[bool]:
        return exists().where(Delivery.post_id == Post.id, Delivery.state.in_(states))

    def having_other_than(*states: DeliveryState) -> ColumnElement[bool]:
        return exists().where(Delivery.post_id == Post.id, Delivery.state.not_in(states))

    scheduled = Post.stage == PostStage.SCHEDULED
    attention = having(DeliveryState.NEEDS_REVIEW)
    moving = or_(having(*DeliveryState.in_progress()), Post.next_occurrence_at.is_not(None))
    settled = and_(scheduled, not_(attention), not_(moving))
    published = having(DeliveryState.PUBLISHED)
    deleted = and_(
        having(DeliveryState.DELETED), not_(having_other_than(DeliveryState.DELETED, DeliveryState.CANCELLED))
    )
    if state is PostState.NEEDS_ATTENTION:
        return and_(scheduled, attention)
    if state is PostState.SCHEDULED:
        return and_(scheduled, not_(attention), or_(moving, not_(having_other_than())))
    if state is PostState.PUBLISHED:
        return and_(settled, published, not_(having_other_than(DeliveryState.PUBLISHED)))
    if state is PostState.PARTIALLY_PUBLISHED:
        return and_(settled, published, having_other_than(DeliveryState.PUBLISHED))
    if state is PostState.CANCELLED:
        all_cancelled = and_(
            settled, having(DeliveryState.CANCELLED), not_(having_other_than(DeliveryState.CANCELLED))
        )
        return or_(Post.stage == PostStage.CANCELLED, all_cancelled)
    if state is PostState.DELETED:
        return and_(settled, deleted)
    # FAILED: settled, nothing published, not everything cancelled, not deleted.
    return and_(settled, not_(published), not_(deleted), having_other_than(DeliveryState.CANCELLED))
