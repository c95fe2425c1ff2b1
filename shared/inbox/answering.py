"""Answering an item: a reply is a post of its own, and a like or a hide an action performed once.

A reply goes through the same workflow as any post: checked as its network counts text, held for an
approver when the member's role needs one, in the audit log, and published by a delivery exactly once,
an uncertain attempt reconciled before anything is sent again. The item links to it, so its thread shows
the reply whatever became of it.

A like or a hide is a row (one per item and kind: asked twice, done once) that a worker performs and tries
again while the network may still take it. Networks like idempotently, or under a key of Crier's own, so
an attempt whose answer was lost is simply made again.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.models import Channel, ChannelState
from shared.channels.opening import Opening, account_with_credentials
from shared.channels.services import account_of
from shared.db import affected_rows, utcnow
from shared.dependencies import HasNetworks, HasTasks
from shared.errors import Conflict
from shared.idempotency.services import IdempotentRequest
from shared.inbox.models import ActionKind, ActionState, InboxAction, InboxItem, InboxReply, ItemState
from shared.networks.inbox import HidesReplies, ReactsToPosts
from shared.networks.ports import (
    Account,
    AuthExpired,
    Network,
    NetworkError,
    NetworkInfo,
    PostGone,
    RateLimited,
    Rejected,
    ReplyTarget,
)
from shared.networks.registry import NetworkRegistry, UnknownNetwork
from shared.posts.models import Post, Timing
from shared.posts.previewing import Previewing
from shared.posts.requests import PostRequest, TargetRequest
from shared.task_names import PERFORM_INBOX_ACTIONS
from shared.workflow.scheduling import create_checked
from shared.workspaces.access import Actor, Permission, require

log = logging.getLogger(__name__)

ACTIONS_PER_RUN = 200
ACTION_LEASE = timedelta(minutes=2)
ACTION_MAX_ATTEMPTS = 8


class Answering(Previewing, HasTasks, Protocol):
    """What replying uses: the workflow's previews and checks, and the task queue to act at once."""


class Acting(Opening, HasNetworks, Protocol):
    """What performing likes and hides uses."""


def reply(
    services: Previewing,
    actor: Actor,
    item: InboxItem,
    text: str,
    *,
    thread: Sequence[str] = (),
    now: datetime,
    idempotency: IdempotentRequest | None = None,
) -> tuple[Post, bool]:
    """A post answering the item on its channel, now (or, for a member who may not publish, once approved).

    The item is marked done and read: it has been answered. Returns the post and, when an Idempotency-Key
    was used before, True with the first reply it made.
    """
    require(actor, Permission.DRAFT)
    network = _installed(services.networks, item.network)
    if not network.info.inbox.can_reply:
        raise Conflict(f"Crier cannot reply on {network.info.display_name}: answer there instead.")
    request = PostRequest(
        text=text,
        thread=list(thread),
        targets=[TargetRequest(item.channel_id)],
        timing=Timing.AT,
        scheduled_at=None,
        reply_to=ReplyTarget.from_json(item.reply_target),
        channels_pointer="/channel_id",
    )

    def link(session: Session, post: Post) -> None:
        answered = session.get_one(InboxItem, item.id)
        session.add(InboxReply(item_id=answered.id, post_id=post.id, member_id=actor.member_id))
        answered.state = ItemState.DONE
        answered.unread = False
        record(session, actor, "inbox_item.replied", "inbox_item", answered.id, post_id=str(post.id))

    return create_checked(services, actor, request, now=now, idempotency=idempotency, also=link)


def replies_of(session: Session, item: InboxItem) -> list[Post]:
    """The posts made from Crier in answer to the item, oldest first."""
    post_ids = [reply.post_id for reply in item.replies]
    if not post_ids:
        return []
    posts = {post.id: post for post in session.scalars(select(Post).where(Post.id.in_(post_ids)))}
    return [posts[post_id] for post_id in post_ids if post_id in posts]


def ask_for_action(
    services: Answering, session: Session, actor: Actor, item: InboxItem, kind: ActionKind
) -> InboxAction:
    """Like or hide the item on its network, once: asked again, the first request is the answer.

    The worker is asked after the caller's transaction commits (see act_soon); should that message be
    lost, the scheduler's periodic run performs it.
    """
    require(actor, Permission.PUBLISH)
    info = _installed(services.networks, item.network).info
    if not _can(info, kind):
        raise Conflict(f"Crier cannot {kind.value} posts on {info.display_name}.")
    existing = next((action for action in item.actions if action.kind is kind), None)
    if existing is not None:
        if existing.state is ActionState.FAILED:
            # Asked again after it failed: a person decided to try once more.
            existing.state = ActionState.PENDING
            existing.attempts = 0
            existing.next_attempt_at = utcnow()
            existing.last_error = None
            record(session, actor, f"inbox_item.{kind.value}_retried", "inbox_item", item.id)
        return existing
    action = InboxAction(item_id=item.id, kind=kind, requested_by=actor.member_id, next_attempt_at=utcnow())
    item.actions.append(action)
    session.flush()
    record(session, actor, f"inbox_item.{kind.value}_asked", "inbox_item", item.id, action_id=str(action.id))
    return action


def act_soon(services: HasTasks) -> None:
    """Ask a worker to perform waiting actions now; the scheduler's periodic run does if this is lost."""
    try:
        services.tasks.send(PERFORM_INBOX_ACTIONS, {})
    except Exception:
        log.warning("could not ask a worker now; the scheduler's next periodic run acts", exc_info=True)


@dataclass(frozen=True)
class _ClaimedAction:
    action_id: uuid.UUID
    kind: ActionKind
    network: str
    target: ReplyTarget
    root: str | None
    attempts: int
    account: Account
    sealed_credentials: bytes | None
    claim: datetime


def perform_due_actions(services: Acting, *, rng: random.Random | None = None) -> int:
    """Perform the likes and hides that are due. Returns how many were done."""
    now = utcnow()
    with services.sessions.begin() as session:
        claimed = _claim_due_actions(session, now)
    done = 0
    for action in claimed:
        outcome, error, retry = _perform(services, action)
        with services.sessions.begin() as session:
            values: dict[str, object] = {
                "attempts": action.attempts + 1,
                "claimed_until": None,
                "last_error": error,
            }
            if outcome is ActionState.PENDING and action.attempts + 1 >= ACTION_MAX_ATTEMPTS:
                outcome = ActionState.FAILED
            values["state"] = outcome
            if outcome is ActionState.DONE:
                values["done_at"] = utcnow()
                done += 1
            elif outcome is ActionState.PENDING:
                values["next_attempt_at"] = utcnow() + (
                    retry or _backoff(action.attempts, rng or random.Random())
                )
            session.execute(
                update(InboxAction)
                .where(InboxAction.id == action.action_id, InboxAction.claimed_until == action.claim)
                .values(**values)
            )
    return done


def _claim_due_actions(session: Session, now: datetime) -> list[_ClaimedAction]:
    query = (
        select(InboxAction, InboxItem, Channel)
        .join(InboxItem, InboxItem.id == InboxAction.item_id)
        .join(Channel, Channel.id == InboxItem.channel_id)
        .where(
            InboxAction.state == ActionState.PENDING,
            InboxAction.next_attempt_at <= now,
            Channel.state == ChannelState.ACTIVE,
        )
        .order_by(InboxAction.next_attempt_at)
        .limit(ACTIONS_PER_RUN)
        .with_for_update(skip_locked=True, of=InboxAction)
    )
    claimed = []
    for action, item, channel in session.execute(query).all():
        claim = now + ACTION_LEASE
        moved = session.execute(
            update(InboxAction)
            .where(InboxAction.id == action.id, InboxAction.state == ActionState.PENDING)
            .values(claimed_until=claim, next_attempt_at=claim)
        )
        if affected_rows(moved):
            claimed.append(
                _ClaimedAction(
                    action_id=action.id,
                    kind=action.kind,
                    network=item.network,
                    target=ReplyTarget.from_json(item.reply_target),
                    root=item.thread_root or item.in_reply_to,
                    attempts=action.attempts,
                    account=account_of(channel),
                    sealed_credentials=channel.sealed_credentials,
                    claim=claim,
                )
            )
    return claimed


def _perform(services: Acting, action: _ClaimedAction) -> tuple[ActionState, str | None, timedelta | None]:
    """The action's new state, the error to keep, and how long a rate limit asks to wait."""
    context = {"channel_id": action.account.channel_id, "network": action.network}
    try:
        network = services.networks.get(action.network)
        account = account_with_credentials(
            services, action.account, action.sealed_credentials, network=network
        )
        if action.kind is ActionKind.LIKE and isinstance(network, ReactsToPosts):
            network.like(account, action.target, str(action.action_id))
        elif action.kind is ActionKind.HIDE and isinstance(network, HidesReplies):
            network.hide_reply(account, action.target, root=action.root)
        else:
            return ActionState.FAILED, f"{network.info.display_name} cannot {action.kind.value} posts", None
        return ActionState.DONE, None, None
    except RateLimited as error:
        wait = (error.reset_at - utcnow()) if error.reset_at is not None else None
        return ActionState.PENDING, str(error), wait
    except (Rejected, AuthExpired, PostGone, UnknownNetwork) as error:
        log.warning("could not %s an inbox item: %s", action.kind.value, error, extra=context)
        return ActionState.FAILED, str(error) or type(error).__name__, None
    except NetworkError as error:
        # Transient, or an answer lost: the network likes and hides idempotently, so it is asked again.
        return ActionState.PENDING, str(error) or type(error).__name__, None
    except Exception as error:
        log.exception(
            "adapter %s raised an unexpected error on an inbox action", action.network, extra=context
        )
        return ActionState.FAILED, f"{type(error).__name__}: {error}", None


def _backoff(attempts: int, rng: random.Random) -> timedelta:
    """Doubling from 15 seconds, with jitter, so that many failed actions do not all return at once."""
    base = 15 * 2 ** min(attempts, 8)
    return timedelta(seconds=base * rng.uniform(0.5, 1.0))


def _installed(networks: NetworkRegistry, name: str) -> Network:
    """The item's network, or Conflict when its adapter is no longer installed: nothing can be sent."""
    try:
        return networks.get(name)
    except UnknownNetwork as error:
        raise Conflict(f"{error} Crier cannot answer on it until it is installed again.") from error


def _can(info: NetworkInfo, kind: ActionKind) -> bool:
    return info.inbox.can_like if kind is ActionKind.LIKE else info.inbox.can_hide
