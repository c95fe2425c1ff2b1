"""Writing, scheduling, approving and editing posts.

A post is checked whole before anything is stored: its channels, its time and each channel's text (with
that channel's variant) against the channel's network; every problem is reported at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shared.audit.services import record
from shared.channels.models import Channel
from shared.channels.slots import PostingSchedule, next_free_slots
from shared.db import affected_rows
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.services import CANCELLABLE, withdraw_unclaimed
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed, Problem
from shared.media.attaching import media_problems
from shared.networks.ports import Draft
from shared.networks.registry import NetworkRegistry
from shared.notifications.models import EventType
from shared.notifications.outbox import emit
from shared.posts.lengths import draft_texts, length_problems
from shared.posts.models import Post, PostLabel, PostStage, PostTarget, Timing
from shared.posts.recurrence import Recurrence, check_series, parse_rule
from shared.timezones import check_timezone
from shared.workspaces.access import Actor, Permission

# Clocks drift and requests take time: a time this recent counts as "now" rather than as a mistake.
PAST_TOLERANCE = timedelta(seconds=60)
MAX_LABELS = 20
EXPIRED_REASON = "Its time came before anyone approved it, so it was not published."
CHANGED_AFTER_APPROVAL = "It was changed after its approval by a member whose changes need approval."


@dataclass(frozen=True)
class TargetRequest:
    """One channel to publish on, with its variant (None: the post's own text, thread or media)."""

    channel_id: uuid.UUID
    text: str | None = None
    thread: Sequence[str] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    media: Sequence[uuid.UUID] | None = None  # media asset ids, in order; [] sends none on this channel


@dataclass(frozen=True)
class PostRequest:
    """A post as a person asks for it: what to say, where, and when."""

    text: str
    targets: Sequence[TargetRequest]
    thread: Sequence[str] = ()
    media: Sequence[uuid.UUID] = ()  # media asset ids, in the order they are shown
    labels: Sequence[str] = ()
    timezone: str = "UTC"
    timing: Timing = Timing.AT
    scheduled_at: datetime | None = None  # AT: the time (None: now); RECURRENCE: the first occurrence
    recurrence_rule: str | None = None
    share_next: bool = False  # QUEUE: take the first slot and move the rest of the queue down one
    draft: bool = False  # keep it unscheduled until it is submitted
    # Where the channels were in the request, for problems to point at: `channels`, or `channel_ids`.
    channels_pointer: str = "/channels"

    @property
    def channel_ids(self) -> list[uuid.UUID]:
        return [target.channel_id for target in self.targets]

    @classmethod
    def of(cls, post: Post) -> PostRequest:
        """The request that would make `post` as it is: the base an edit changes fields of."""
        return cls(
            text=post.text,
            thread=list(post.thread),
            media=[uuid.UUID(media_id) for media_id in post.media],
            targets=[
                TargetRequest(
                    target.channel_id,
                    target.text,
                    target.thread,
                    dict(target.options),
                    media=None
                    if target.media is None
                    else [uuid.UUID(media_id) for media_id in target.media],
                )
                for target in post.targets
            ],
            labels=post.label_names,
            timezone=post.timezone,
            timing=post.timing,
            scheduled_at=post.scheduled_at if post.timing is not Timing.QUEUE else None,
            recurrence_rule=post.recurrence_rule,
            draft=post.stage is PostStage.DRAFT,
        )

    def draft_for(self, target: TargetRequest) -> Draft:
        """What the target's channel would receive: the post's text and thread, under its variant."""
        return Draft(
            text=target.text if target.text is not None else self.text,
            thread=tuple(target.thread if target.thread is not None else self.thread),
            options=target.options,
        )


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
    post = Post(
        workspace_id=actor.workspace_id,
        author_id=actor.member_id,
        stage=PostStage.DRAFT,
        occurrences_created=0,
        deliveries=[],
    )
    _apply(post, request)
    session.add(post)
    session.flush()
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
    _check_author(actor, post)
    if post.stage not in {PostStage.DRAFT, PostStage.REJECTED}:
        raise Conflict(f"The post is {post.stage}; only a draft or a rejected post can be submitted.")
    _check_time_is_ahead(post, now)
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
    _check_may_edit(actor, post)
    check_request(session, networks, actor.workspace_id, request, now, text_problems)
    was_scheduled = post.stage is PostStage.SCHEDULED
    if was_scheduled:
        _unschedule(session, post)
    _apply(post, request)
    session.flush()
    record(session, actor, "post.changed", "post", post.id)
    if was_scheduled:
        _check_time_is_ahead(post, now)
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
    _check_may_edit(actor, post)
    if post.stage is PostStage.SCHEDULED:
        if not actor.can(Permission.PUBLISH):
            raise Forbidden("Cancelling a scheduled post needs the 'publish' permission.")
        busy = [d for d in post.deliveries if d.state in {DeliveryState.PUBLISHING, DeliveryState.UNKNOWN}]
        if busy:
            raise Conflict("A delivery is being published or checked; cancel the others one by one.")
        session.execute(
            update(Delivery)
            .where(
                Delivery.post_id == post.id,
                Delivery.state.in_(CANCELLABLE),
            )
            .values(state=DeliveryState.CANCELLED, lease_expires_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
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
    moved = session.execute(
        update(Delivery)
        .where(Delivery.post_id == post.id, Delivery.state == DeliveryState.SCHEDULED)
        .values(scheduled_at=now, due_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(moved) == 0:
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
    _check_may_edit(actor, post)
    if post.stage is PostStage.SCHEDULED:
        raise Conflict("A scheduled post keeps its history: cancel it instead.")
    record(session, actor, "post.deleted", "post", post.id)
    session.delete(post)
    session.flush()


def get_post(session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    post = session.get(Post, post_id)
    if post is None or post.workspace_id != workspace_id:
        raise NotFound("post", post_id)
    return post


def check_version(post: Post, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != post.version:
        raise PreconditionFailed(
            "Someone changed the post since you read it: fetch it again and reapply your change."
        )


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            f"This needs the {permission.value!r} permission, which your role or your token's scope "
            "does not grant."
        )


def check_request(
    session: Session,
    networks: NetworkRegistry,
    workspace_id: uuid.UUID,
    request: PostRequest,
    now: datetime,
    text_problems: Mapping[uuid.UUID, Sequence[str]] | None = None,
) -> dict[uuid.UUID, Channel]:
    """The request's channels, once every rule holds; InvalidInput with every broken one otherwise."""
    too_long = length_problems(
        [
            *draft_texts("", request.text, request.thread, {}),
            *(
                text
                for index, target in enumerate(request.targets)
                for text in draft_texts(
                    f"{request.channels_pointer}/{index}", target.text, target.thread, target.options
                )
            ),
        ]
    )
    if too_long:
        # Said first and alone: counting such a text as each network counts it is the cost the bound avoids.
        raise InvalidInput(too_long)
    channels = {
        channel.id: channel
        for channel in session.scalars(
            select(Channel).where(Channel.workspace_id == workspace_id, Channel.id.in_(request.channel_ids))
        )
    }
    problems: list[Problem] = []
    try:
        zone = check_timezone(request.timezone, pointer="/timezone")
    except InvalidInput as invalid:
        problems.extend(invalid.problems)
        zone = ZoneInfo("UTC")
    problems.extend(_timing_problems(request, zone, now))
    if len(request.labels) > MAX_LABELS:
        problems.append(Problem("/labels", f"A post takes at most {MAX_LABELS} labels."))
    for index, label in enumerate(request.labels):
        if not label.strip() or len(label) > 100:
            problems.append(Problem(f"/labels/{index}", "A label is 1 to 100 characters, not only spaces."))
    seen: set[uuid.UUID] = set()
    for index, target in enumerate(request.targets):
        channel = channels.get(target.channel_id)
        pointer = f"{request.channels_pointer}/{index}"
        if target.channel_id in seen:
            problems.append(Problem(pointer, f"Channel {target.channel_id} is listed more than once."))
        elif channel is None:
            problems.append(Problem(pointer, f"There is no channel {target.channel_id} here."))
        else:
            if (
                request.timing is Timing.QUEUE
                and PostingSchedule.from_document(channel.posting_schedule).is_empty
            ):
                problems.append(
                    Problem(pointer, f"{channel.name} has no posting slots: set its posting_schedule first.")
                )
            draft = request.draft_for(target)
            # A preview's problems when the caller has them (they know a server's own limit), else the
            # network's own check of the text alone.
            known = (text_problems or {}).get(target.channel_id)
            where = f"{pointer}/text" if target.text is not None else "/text"
            for problem in known if known is not None else networks.get(channel.network).validate(draft):
                problems.append(Problem(where, f"{channel.name} ({channel.network}): {problem}"))
        seen.add(target.channel_id)
    problems.extend(media_problems(session, networks, workspace_id, request, channels))
    if problems:
        raise InvalidInput(problems)
    return channels


def _timing_problems(request: PostRequest, zone: ZoneInfo, now: datetime) -> list[Problem]:
    problems = []
    if request.timing is Timing.AT:
        if request.scheduled_at is not None and request.scheduled_at < now - PAST_TOLERANCE:
            problems.append(
                Problem("/scheduled_at", "The time is in the past. Omit scheduled_at to publish now.")
            )
    elif request.timing is Timing.RECURRENCE:
        if request.scheduled_at is None:
            problems.append(Problem("/scheduled_at", "A recurrence starts at its first time: give one."))
        elif request.scheduled_at < now - PAST_TOLERANCE:
            problems.append(Problem("/scheduled_at", "The first occurrence is in the past."))
        try:
            rule = parse_rule(request.recurrence_rule or "", pointer="/recurrence/rule")
            if request.scheduled_at is not None:
                first_local = request.scheduled_at.astimezone(zone).replace(tzinfo=None)
                check_series(Recurrence(rule, first_local, zone), pointer="/recurrence/rule")
        except InvalidInput as invalid:
            problems.extend(invalid.problems)
    elif request.scheduled_at is not None:
        problems.append(Problem("/scheduled_at", "A queued post takes its time from the channels' slots."))
    return problems


def _apply(post: Post, request: PostRequest) -> None:
    post.text = request.text
    post.thread = list(request.thread)
    post.media = [str(media_id) for media_id in request.media]
    post.timing = request.timing
    post.timezone = request.timezone
    post.scheduled_at = request.scheduled_at
    post.recurrence_rule = parse_rule(request.recurrence_rule) if request.recurrence_rule else None
    existing = {target.channel_id: target for target in post.targets}
    post.targets = [
        _target(existing.get(target.channel_id), target, position)
        for position, target in enumerate(request.targets)
    ]
    kept = {label.name: label for label in post.labels}
    post.labels = [kept.get(name) or PostLabel(name=name) for name in dict.fromkeys(request.labels)]


def _target(existing: PostTarget | None, request: TargetRequest, position: int) -> PostTarget:
    target = existing or PostTarget(channel_id=request.channel_id)
    target.position = position
    target.text = request.text
    target.thread = list(request.thread) if request.thread is not None else None
    target.media = [str(media_id) for media_id in request.media] if request.media is not None else None
    target.options = dict(request.options)
    return target


def _check_time_is_ahead(post: Post, now: datetime) -> None:
    if (
        post.timing is not Timing.QUEUE
        and post.scheduled_at is not None
        and post.scheduled_at < now - PAST_TOLERANCE
    ):
        raise InvalidInput([Problem("/scheduled_at", "The time is in the past: choose a new one.")])


def _check_author(actor: Actor, post: Post) -> None:
    """Members who may not publish act only on their own posts."""
    require(actor, Permission.DRAFT)
    if not actor.can(Permission.PUBLISH) and post.author_id != actor.member_id:
        raise Forbidden("You may change only your own posts.")


def _check_may_edit(actor: Actor, post: Post) -> None:
    # A member who may not publish may change their approved post too: update_post sends it back to an
    # approver, so what goes out is always what someone who may publish has seen.
    _check_author(actor, post)
    if post.stage is PostStage.SCHEDULED:
        if any(delivery.state is not DeliveryState.SCHEDULED for delivery in post.deliveries):
            raise Conflict(
                "Some of the post's deliveries have started or ended: cancel or duplicate it instead."
            )
    elif post.stage in {PostStage.EXPIRED, PostStage.CANCELLED}:
        raise Conflict(f"The post is {post.stage}: duplicate it to use it again.")


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
    if post.timing is Timing.AT:
        due_at = post.scheduled_at or now
        post.scheduled_at = due_at
        post.deliveries = [
            Delivery(channel=channels[target.channel_id], scheduled_at=due_at, due_at=due_at, attempts=[])
            for target in post.targets
        ]
        post.occurrences_created = 1
    elif post.timing is Timing.QUEUE:
        post.deliveries = [
            _queue(session, channels[target.channel_id], now, share_next) for target in post.targets
        ]
        post.scheduled_at = min(delivery.scheduled_at for delivery in post.deliveries)
        post.occurrences_created = 1
    else:
        # The scheduler makes each occurrence's deliveries as its time nears (shared.posts.recurring).
        post.deliveries = []
        post.next_occurrence_at = post.scheduled_at
        post.occurrences_created = 0
    session.flush()
    record(session, actor, "post.scheduled", "post", post.id, timing=post.timing.value)
    return post


def _queue(session: Session, channel: Channel, now: datetime, share_next: bool) -> Delivery:
    """A delivery in the channel's next free slot; with share_next, the first slot, the queue moving down."""
    schedule = PostingSchedule.from_document(channel.posting_schedule)
    zone = check_timezone(channel.timezone)
    # Locking the channel's waiting deliveries makes two posts queued at once take different slots.
    waiting = session.execute(
        select(Delivery, Post.timing)
        .join(Post, Post.id == Delivery.post_id)
        .where(
            Delivery.channel_id == channel.id,
            Delivery.state == DeliveryState.SCHEDULED,
            Delivery.scheduled_at > now,
        )
        .order_by(Delivery.scheduled_at)
        .with_for_update(of=Delivery)
    ).all()
    queued = [delivery for delivery, timing in waiting if timing is Timing.QUEUE]
    fixed = [delivery.scheduled_at for delivery, timing in waiting if timing is not Timing.QUEUE]
    if not share_next:
        taken = fixed + [delivery.scheduled_at for delivery in queued]
        slots = next_free_slots(schedule, zone, after=now, taken=taken, count=1)
        if not slots:
            raise Conflict(f"{channel.name} has no free posting slot in the coming year.")
        return Delivery(channel=channel, scheduled_at=slots[0], due_at=slots[0], attempts=[])
    # Share next: the queued posts each move to the following slot, and the new one takes the first. Posts
    # at an exact time stay where they are.
    slots = next_free_slots(schedule, zone, after=now, taken=fixed, count=len(queued) + 1)
    if len(slots) < len(queued) + 1:
        raise Conflict(f"{channel.name} has no free posting slot in the coming year.")
    for delivery, slot in zip(queued, slots[1:], strict=True):
        delivery.scheduled_at = delivery.due_at = slot
    session.flush()
    moved_posts = {delivery.post_id for delivery in queued}
    if moved_posts:
        # A queued post's time is its earliest slot; set without touching its version (nobody edited it).
        earliest = (
            select(func.min(Delivery.scheduled_at)).where(Delivery.post_id == Post.id).scalar_subquery()
        )
        session.execute(
            update(Post)
            .where(Post.id.in_(moved_posts))
            .values(scheduled_at=earliest)
            .execution_options(synchronize_session=False)
        )
    return Delivery(channel=channel, scheduled_at=slots[0], due_at=slots[0], attempts=[])
