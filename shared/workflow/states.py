"""A post's state as readers see it: its stage, and once it is scheduled, what its deliveries did.

Derived, never stored, so it is never out of step with the deliveries: post_state reads it from a post and
its loaded deliveries, state_condition says the same in SQL for filtering lists. Here rather than on the
Post model: it is read from the deliveries, which are above posts.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, not_, or_

from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, PostStage, PostState


def post_state(post: Post) -> PostState:
    if post.stage is not PostStage.SCHEDULED:
        return PostState(post.stage.value)
    states = {delivery.state for delivery in post.deliveries}
    if not states:  # a recurrence whose first occurrence is still to come
        return PostState.SCHEDULED
    if states & {DeliveryState.NEEDS_REVIEW}:
        return PostState.NEEDS_ATTENTION
    if states & DeliveryState.in_progress() or post.next_occurrence_at is not None:
        return PostState.SCHEDULED
    if states == {DeliveryState.PUBLISHED}:
        return PostState.PUBLISHED
    if DeliveryState.DELETED in states and states <= {DeliveryState.DELETED, DeliveryState.CANCELLED}:
        return PostState.DELETED
    if DeliveryState.PUBLISHED in states:
        return PostState.PARTIALLY_PUBLISHED
    if states == {DeliveryState.CANCELLED}:
        return PostState.CANCELLED
    return PostState.FAILED


# The states a post has before it is scheduled: its stage alone says them.
BEFORE_SCHEDULING = frozenset(
    {PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.REJECTED, PostState.EXPIRED}
)


def state_condition(state: PostState) -> ColumnElement[bool]:
    """post_state as SQL, for filtering."""
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
