"""A post's workflow: written, submitted, approved or rejected, scheduled, changed, cancelled, published now.

Each step checks its request and its actor first (shared.posts.checking, and check_may_edit here, which
looks at the post's deliveries); a post's deliveries are made, cancelled, brought forward or taken back by
shared.deliveries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shared.audit.services import record
from shared.channels.models import Channel
from shared.deliveries.creating import schedule_at, schedule_in_queue
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.services import bring_forward, cancel_waiting, withdraw_unclaimed
from shared.errors import Conflict, Forbidden
from shared.networks.registry import NetworkRegistry
from shared.notifications.models import EventType
from shared.notifications.outbox import emit
from shared.posts.checking import (
    check_author,
    check_request,
    check_time_is_ahead,
    check_version,
)
from shared.posts.models import Post, PostLabel, PostStage, PostTarget, Timing
from shared.posts.requests import PostRequest, apply_request
from shared.workspaces.access import Actor, Permission, require

EXPIRED_REASON = "Its time came before anyone approved it, so it was not published."
CHANGED_AFTER_APPROVAL = "It was changed after its approval by a member whose changes need approval."


def check_may_edit(actor: Actor, post: Post) -> None:
    # A member who may not publish may change their approved post too: update_post sends it back to an
    # approver, so what goes out is always what someone who may publish has seen.
    check_author(actor, post)
    if post.stage is PostStage.SCHEDULED:
        if any(delivery.state is not DeliveryState.SCHEDULED for delivery in post.deliveries):
            raise Conflict(
                "Some of the post's deliveries have started or ended: cancel or duplicate it instead."
            )
    elif post.stage in {PostStage.EXPIRED, PostStage.CANCELLED}:
        raise Conflict(f"The post is {post.stage}: duplicate it to use it again.")


def create_post(
    session: Session,
    networks: NetworkRegistry,
    actor: Actor,
    request: PostRequest,
    *,
    now: datetime,
    text_problems: Mapping[uuid.UUID, Sequence[str]] | None = None,
) -> Post:
    """Store a post as a draft, for approval, or scheduled, by what the actor may do."""
    require(actor, Permission.DRAFT)
    channels = check_request(session, networks, actor.workspace_id, request, now, text_problems)
    # Its id is chosen here, not at a flush: the post, its targets, its deliveries and its audit entries
    # are then written in one flush at the end, each table once, with no UPDATE of a row just inserted.
    post = Post(
        id=uuid.uuid4(),
        workspace_id=actor.workspace_id,
        author_id=actor.member_id,
        stage=PostStage.DRAFT,
        occurrences_created=0,
        deliveries=[],
    )
    apply_request(post, request)
    session.add(post)
    record(session, actor, "post.created", "post", post.id, state=post.stage.value)
    if not request.draft:
        submit(session, actor, post, channels, now=now, share_next=request.share_next)
    return post


def submit(
    session: Session,
    actor: Actor,
    post: Post,
    channels: Mapping[uuid.UUID, Channel] | None = None,
    *,
    now: datetime,
    share_next: bool = False,
) -> Post:
    """Move a draft on: scheduled when the actor may publish, otherwise to an approver."""
    check_author(actor, post)
    if post.stage not in {PostStage.DRAFT, PostStage.REJECTED}:
        raise Conflict(f"The post is {post.stage}; only a draft or a rejected post can be submitted.")
    check_time_is_ahead(post, now)
    if actor.can(Permission.PUBLISH):
        return _schedule(session, actor, post, channels or _channels_of(session, post), now, share_next)
    post.stage = PostStage.PENDING_APPROVAL
    record(session, actor, "post.approval_requested", "post", post.id)
    _tell(session, EventType.POST_APPROVAL_REQUESTED, post)
    return post


def approve(session: Session, actor: Actor, post: Post, *, comment: str | None, now: datetime) -> Post:
    require(actor, Permission.APPROVE)
    if post.stage is not PostStage.PENDING_APPROVAL:
        raise Conflict(f"The post is {post.stage}; only a post pending approval can be approved.")
    if post.timing is not Timing.QUEUE and post.scheduled_at is not None and post.scheduled_at < now:
        raise Conflict("The post's time has passed: reschedule it, then approve it.")
    post.review_comment, post.reviewed_by, post.reviewed_at = comment, actor.member_id, now
    record(session, actor, "post.approved", "post", post.id, comment=comment)
    return _schedule(session, actor, post, _channels_of(session, post), now, share_next=False)


def reject(session: Session, actor: Actor, post: Post, *, comment: str, now: datetime) -> Post:
    require(actor, Permission.APPROVE)
    if post.stage is not PostStage.PENDING_APPROVAL:
        raise Conflict(f"The post is {post.stage}; only a post pending approval can be rejected.")
    post.stage = PostStage.REJECTED
    post.review_comment, post.reviewed_by, post.reviewed_at = comment, actor.member_id, now
    record(session, actor, "post.rejected", "post", post.id, comment=comment)
    _tell(session, EventType.POST_REJECTED, post, comment=comment)
    return post


def expire_unapproved(session: Session, now: datetime, limit: int = 500) -> list[Post]:
    """Posts whose time came while they waited for approval: they do not go out, and they say so."""
    overdue = session.scalars(
        select(Post)
        .where(
            Post.stage == PostStage.PENDING_APPROVAL,
            Post.timing != Timing.QUEUE,
            Post.scheduled_at <= now,
        )
        .order_by(Post.scheduled_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for post in overdue:
        post.stage = PostStage.EXPIRED
        record(
            session,
            Actor.system(post.workspace_id),
            "post.expired",
            "post",
            post.id,
            reason=EXPIRED_REASON,
        )
        _tell(session, EventType.POST_EXPIRED, post, reason=EXPIRED_REASON)
    return list(overdue)


def _tell(session: Session, event: EventType, post: Post, **extra: Any) -> None:
    """Tell the workspace's webhooks about the post's step, for its author and its approvers."""
    emit(
        session,
        post.workspace_id,
        event,
        {
            "post_id": post.id,
            "author_id": post.author_id,
            "scheduled_at": post.scheduled_at,
            "text": post.text,
            **extra,
        },
    )


def update_post(
    session: Session,
    networks: NetworkRegistry,
    actor: Actor,
    post: Post,
    request: PostRequest,
    *,
    expected_version: int | None,
    now: datetime,
    text_problems: Mapping[uuid.UUID, Sequence[str]] | None = None,
) -> Post:
    """Replace a post's content and time, unless someone changed it since `expected_version`."""
    check_version(post, expected_version)
    check_may_edit(actor, post)
    check_request(session, networks, actor.workspace_id, request, now, text_problems)
    was_scheduled = post.stage is PostStage.SCHEDULED
    if was_scheduled:
        _unschedule(session, post)
    apply_request(post, request)
    session.flush()
    record(session, actor, "post.changed", "post", post.id)
    if was_scheduled:
        check_time_is_ahead(post, now)
        if actor.can(Permission.PUBLISH):
            post.stage = PostStage.DRAFT  # re-scheduled below, in its new time and on its new channels
            _schedule(session, actor, post, _channels_of(session, post), now, request.share_next)
        else:
            _await_approval_again(session, actor, post, reason=CHANGED_AFTER_APPROVAL)
    return post


def send_back_for_approval(session: Session, actor: Actor, post: Post, *, reason: str) -> Post:
    """A scheduled post that changed in a way its approver did not see (its media's alt text, say): its
    deliveries are withdrawn, and an approver decides again. Conflict when some delivery has started."""
    if post.stage is not PostStage.SCHEDULED:
        return post
    if any(delivery.state is not DeliveryState.SCHEDULED for delivery in post.deliveries):
        raise Conflict(
            f"Post {post.id} is going out already (some of its deliveries have started or ended), and "
            "your role needs an approver for what goes out: ask an editor to make this change."
        )
    _unschedule(session, post)
    session.flush()
    return _await_approval_again(session, actor, post, reason=reason)


def _await_approval_again(session: Session, actor: Actor, post: Post, *, reason: str) -> Post:
    # The earlier review approved another content: it is no approval of this one.
    post.stage = PostStage.PENDING_APPROVAL
    post.review_comment, post.reviewed_by, post.reviewed_at = None, None, None
    record(session, actor, "post.approval_requested", "post", post.id, reason=reason)
    _tell(session, EventType.POST_APPROVAL_REQUESTED, post, reason=reason)
    return post


def cancel_post(session: Session, actor: Actor, post: Post, *, now: datetime) -> Post:
    """Withdraw a post: deliveries that have not gone out are cancelled, and its queue slots are freed."""
    check_may_edit(actor, post)
    if post.stage is PostStage.SCHEDULED:
        if not actor.can(Permission.PUBLISH):
            raise Forbidden("Cancelling a scheduled post needs the 'publish' permission.")
        busy = [d for d in post.deliveries if d.state in {DeliveryState.PUBLISHING, DeliveryState.UNKNOWN}]
        if busy:
            raise Conflict("A delivery is being published or checked; cancel the others one by one.")
        cancel_waiting(session, post, now=now)
        session.execute(update(Post).where(Post.id == post.id).values(next_occurrence_at=None))
        session.refresh(post)
        for delivery in post.deliveries:
            session.refresh(delivery)
    elif post.stage in {PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED}:
        post.stage = PostStage.CANCELLED
    else:
        raise Conflict(f"The post is {post.stage}: there is nothing to cancel.")
    record(session, actor, "post.cancelled", "post", post.id)
    return post


def publish_now(session: Session, actor: Actor, post: Post, *, now: datetime) -> Post:
    """Bring every delivery still waiting forward to now."""
    require(actor, Permission.PUBLISH)
    if post.stage is not PostStage.SCHEDULED:
        if post.stage not in {PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED}:
            raise Conflict(f"The post is {post.stage}; it cannot be published.")
        post.timing, post.scheduled_at, post.recurrence_rule = Timing.AT, now, None
        if post.stage is PostStage.PENDING_APPROVAL:
            post.review_comment, post.reviewed_by, post.reviewed_at = None, actor.member_id, now
            post.stage = PostStage.DRAFT
        record(session, actor, "post.published_now", "post", post.id)
        return _schedule(session, actor, post, _channels_of(session, post), now, share_next=False)
    if bring_forward(session, post, now=now) == 0:
        raise Conflict("No delivery of this post is waiting for its time.")
    for delivery in post.deliveries:
        session.refresh(delivery)
    record(session, actor, "post.published_now", "post", post.id)
    return post


def duplicate_post(session: Session, actor: Actor, post: Post) -> Post:
    """A new draft with the same text, thread, variants and labels, and no time."""
    require(actor, Permission.DRAFT)
    copy = Post(
        workspace_id=post.workspace_id,
        author_id=actor.member_id,
        text=post.text,
        thread=list(post.thread),
        media=list(post.media),
        stage=PostStage.DRAFT,
        timing=post.timing if post.timing is Timing.QUEUE else Timing.AT,
        timezone=post.timezone,
        scheduled_at=None,
        occurrences_created=0,
        targets=[
            PostTarget(
                channel_id=target.channel_id,
                position=target.position,
                text=target.text,
                thread=target.thread,
                media=target.media,
                options=dict(target.options),
            )
            for target in post.targets
        ],
        labels=[PostLabel(name=label.name) for label in post.labels],
        deliveries=[],
    )
    session.add(copy)
    session.flush()
    record(session, actor, "post.duplicated", "post", copy.id, source=str(post.id))
    return copy


def delete_post(session: Session, actor: Actor, post: Post) -> None:
    """Remove a post that never went out; one with deliveries is cancelled instead, so its history stays."""
    check_may_edit(actor, post)
    if post.stage is PostStage.SCHEDULED:
        raise Conflict("A scheduled post keeps its history: cancel it instead.")
    record(session, actor, "post.deleted", "post", post.id)
    session.delete(post)
    session.flush()


def _channels_of(session: Session, post: Post) -> dict[uuid.UUID, Channel]:
    return {target.channel_id: target.channel for target in post.targets}


def _unschedule(session: Session, post: Post) -> None:
    """Take back deliveries that have not been claimed, or refuse: a claimed one may be going out now."""
    withdraw_unclaimed(session, list(post.deliveries))
    set_committed_value(post, "deliveries", [])  # as the database now has it: every one was deleted
    post.next_occurrence_at = None
    post.occurrences_created = 0


def _schedule(
    session: Session,
    actor: Actor,
    post: Post,
    channels: Mapping[uuid.UUID, Channel],
    now: datetime,
    share_next: bool,
) -> Post:
    post.stage = PostStage.SCHEDULED
    targeted = [channels[target.channel_id] for target in post.targets]
    if post.timing is Timing.AT:
        due_at = post.scheduled_at or now
        post.scheduled_at = due_at
        schedule_at(post, targeted, due_at)
        post.occurrences_created = 1
    elif post.timing is Timing.QUEUE:
        _follow_queue(session, schedule_in_queue(session, post, targeted, now=now, share_next=share_next))
        post.scheduled_at = min(delivery.scheduled_at for delivery in post.deliveries)
        post.occurrences_created = 1
    else:
        # The scheduler makes each occurrence's deliveries as its time nears (shared.workflow.recurring).
        post.next_occurrence_at = post.scheduled_at
        post.occurrences_created = 0
    record(session, actor, "post.scheduled", "post", post.id, timing=post.timing.value)
    return post


def _follow_queue(session: Session, moved_posts: set[uuid.UUID]) -> None:
    """Queued posts whose deliveries moved down a slot take the time of their earliest one."""
    if not moved_posts:
        return
    # Set without touching their version (nobody edited them).
    earliest = select(func.min(Delivery.scheduled_at)).where(Delivery.post_id == Post.id).scalar_subquery()
    session.execute(
        update(Post)
        .where(Post.id.in_(moved_posts))
        .values(scheduled_at=earliest)
        .execution_options(synchronize_session=False)
    )
