"""Deleting a published post from its networks, and editing its text there, as a person asks.

Each becomes a change per delivery (shared.deliveries.changes), applied exactly once by the worker; the
request itself is in the audit log. An edit's text is checked as each network counts it first, as when
the post was scheduled, and becomes the channel's text of the post: what the change then sends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from shared.audit.services import record
from shared.deliveries.changes import request_change
from shared.deliveries.models import ChangeKind, Delivery, DeliveryChange, DeliveryState
from shared.deliveries.services import get_delivery
from shared.dependencies import HasTasks
from shared.errors import Conflict, InvalidInput, Problem
from shared.posts.models import Post, PostTarget
from shared.posts.previewing import Previewing, preview_drafts
from shared.posts.services import get_post
from shared.task_names import APPLY_DUE_CHANGES
from shared.workspaces.access import Actor, Permission, require

log = logging.getLogger(__name__)


class ChangingPublished(Previewing, HasTasks, Protocol):
    """What asking for deletes and edits of published posts uses: previews, and the task queue."""


@dataclass(frozen=True)
class Skipped:
    """A delivery left as it is, and why: its network cannot do it, or nothing of it is out there."""

    delivery_id: uuid.UUID
    channel_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class ChangesAsked:
    changes: list[DeliveryChange]
    skipped: list[Skipped]


def delete_post_from_networks(
    services: ChangingPublished,
    actor: Actor,
    post_id: uuid.UUID,
    *,
    channel_ids: Sequence[uuid.UUID] | None,
    now: datetime,
) -> ChangesAsked:
    """Delete the post from each of its channels' networks (or the channels named), every part of it."""
    require(actor, Permission.PUBLISH)
    with services.sessions.begin() as session:
        post = get_post(session, actor.workspace_id, post_id)
        chosen, skipped = _deliveries_out_there(services, post, channel_ids, ChangeKind.DELETE)
        changes = [
            request_change(session, delivery, ChangeKind.DELETE, requested_by=actor.member_id, now=now)
            for delivery in chosen
        ]
        record(
            session,
            actor,
            "post.deleted_from_networks",
            "post",
            post.id,
            deliveries=[str(delivery.id) for delivery in chosen],
        )
    _apply_soon(services)
    return ChangesAsked(changes, skipped)


def delete_delivery_from_network(
    services: ChangingPublished, actor: Actor, delivery_id: uuid.UUID, *, now: datetime
) -> DeliveryChange:
    """Delete one delivery's post (every part of it) from its network."""
    require(actor, Permission.PUBLISH)
    with services.sessions.begin() as session:
        delivery = get_delivery(session, actor.workspace_id, delivery_id)
        if not services.networks.get(delivery.channel.network).info.can_delete:
            raise Conflict(_cannot(services, delivery, ChangeKind.DELETE))
        change = request_change(session, delivery, ChangeKind.DELETE, requested_by=actor.member_id, now=now)
        record(session, actor, "delivery.deleted_from_network", "delivery", delivery.id)
    _apply_soon(services)
    return change


def edit_published_post(
    services: ChangingPublished,
    actor: Actor,
    post_id: uuid.UUID,
    *,
    text: str,
    channel_ids: Sequence[uuid.UUID] | None,
    now: datetime,
) -> ChangesAsked:
    """Give the published post a new text on each channel whose network allows edits (or those named)."""
    require(actor, Permission.PUBLISH)
    with services.sessions.begin() as session:
        post = get_post(session, actor.workspace_id, post_id)
        chosen, skipped = _deliveries_out_there(services, post, channel_ids, ChangeKind.EDIT)
        drafts = {
            delivery.channel_id: replace(post.draft_for(delivery.channel_id), text=text)
            for delivery in chosen
        }
    # Outside the transaction: a network may be asked its own limit (a Mastodon server announces it).
    problems = [
        Problem("/text", f"{preview.channel_name} ({preview.network}): {problem}")
        for preview in preview_drafts(services, actor.workspace_id, list(drafts.items()))
        for problem in preview.texts[0].problems
        if preview.texts
    ]
    if problems:
        raise InvalidInput(problems)
    with services.sessions.begin() as session:
        post = get_post(session, actor.workspace_id, post_id)
        for channel_id in drafts:
            _target(post, channel_id).text = text
        post.updated_at = now
        changes = [
            request_change(
                session,
                session.get_one(Delivery, delivery.id),
                ChangeKind.EDIT,
                requested_by=actor.member_id,
                now=now,
            )
            for delivery in chosen
        ]
        record(
            session,
            actor,
            "post.edited_on_networks",
            "post",
            post.id,
            text=text,
            deliveries=[str(delivery.id) for delivery in chosen],
        )
    _apply_soon(services)
    return ChangesAsked(changes, skipped)


def _deliveries_out_there(
    services: ChangingPublished, post: Post, channel_ids: Sequence[uuid.UUID] | None, kind: ChangeKind
) -> tuple[list[Delivery], list[Skipped]]:
    """The post's deliveries with something on their network, on the channels asked for, that can take
    the change; the others (on those channels) with why not. None at all is a conflict."""
    wanted = set(channel_ids) if channel_ids is not None else None
    if wanted is not None:
        unknown = wanted - {target.channel_id for target in post.targets}
        if unknown:
            raise InvalidInput(
                [
                    Problem(f"/channel_ids/{index}", f"The post does not go to the channel {channel_id}.")
                    for index, channel_id in enumerate(channel_ids or ())
                    if channel_id in unknown
                ]
            )
    chosen: list[Delivery] = []
    skipped: list[Skipped] = []
    for delivery in post.deliveries:
        if wanted is not None and delivery.channel_id not in wanted:
            continue
        if delivery.state is DeliveryState.DELETED or not (delivery.external_id or delivery.parts):
            if wanted is not None:  # asked for by name: say why nothing is done there
                reason = f"the delivery is {delivery.state}: nothing of it is on the network"
                skipped.append(Skipped(delivery.id, delivery.channel_id, reason))
            continue
        info = services.networks.get(delivery.channel.network).info
        if not (info.can_delete if kind is ChangeKind.DELETE else info.can_edit):
            skipped.append(Skipped(delivery.id, delivery.channel_id, _cannot(services, delivery, kind)))
            continue
        chosen.append(delivery)
    if not chosen:
        said = "; ".join(skip.reason for skip in skipped) or "none of its deliveries is on a network"
        raise Conflict(
            f"Nothing of the post can be {'deleted' if kind is ChangeKind.DELETE else 'edited'}: {said}."
        )
    return chosen, skipped


def why_not_editable(services: ChangingPublished, delivery: Delivery) -> str | None:
    """Why the delivery's network cannot take an edit of it (None: it can), in the words a skip gives."""
    if services.networks.get(delivery.channel.network).info.can_edit:
        return None
    return _cannot(services, delivery, ChangeKind.EDIT)


def _cannot(services: ChangingPublished, delivery: Delivery, kind: ChangeKind) -> str:
    name = services.networks.get(delivery.channel.network).info.display_name
    if kind is ChangeKind.DELETE:
        return f"{name} offers no way for Crier to delete a post; delete it on {name}"
    return f"{name} does not let a published post be edited; delete it and post again"


def _target(post: Post, channel_id: uuid.UUID) -> PostTarget:
    target = post.target(channel_id)
    if target is None:
        target = PostTarget(post_id=post.id, channel_id=channel_id, position=len(post.targets), options={})
        post.targets.append(target)
    return target


def _apply_soon(services: ChangingPublished) -> None:
    """Ask a worker to apply it now; should the message be lost, the scheduler's periodic run does."""
    try:
        services.tasks.send(APPLY_DUE_CHANGES, {})
    except Exception:
        log.warning("could not ask a worker now; the scheduler's next periodic run applies it", exc_info=True)
