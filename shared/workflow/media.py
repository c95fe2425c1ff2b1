"""What changing a media asset does to the posts that attach it.

The alt text goes out with the post, so for a member who may not publish, describing an asset again sends
each scheduled post that attaches it back to an approver; and an asset cannot be deleted while a post that
may still go out attaches it. The asset itself is changed by shared.media.services.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, Text, and_, cast, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from shared.deliveries.models import Delivery, DeliveryState
from shared.errors import Conflict
from shared.media.models import MediaAsset
from shared.media.services import lock_for_change, remove_media, set_alt_text
from shared.posts.models import Post, PostStage, PostTarget
from shared.workflow.services import send_back_for_approval
from shared.workflow.states import post_state
from shared.workspaces.access import Actor, Permission

# A post in one of these stages goes out when it is submitted, which checks nothing again.
UNSENT_STAGES = (PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED)
# A scheduled post's delivery in one of these states may still send: by itself, or when a person says so.
SENDING_STATES = DeliveryState.in_progress() | {DeliveryState.NEEDS_REVIEW}


def describe_media(session: Session, actor: Actor, asset: MediaAsset, alt_text: str | None) -> MediaAsset:
    """Set or clear the asset's alt text; posts that attach it send the new one from then on.

    For a member who may not publish, each scheduled post that attaches the asset goes back to an approver
    (a conflict if one of them is going out already).
    """
    if set_alt_text(session, actor, asset, alt_text) and not actor.can(Permission.PUBLISH):
        reason = f"The alt text of {asset.filename} changed after its approval."
        for post in _scheduled_posts_attaching(session, asset):
            send_back_for_approval(session, actor, post, reason=reason)
    return asset


def delete_media(session: Session, actor: Actor, asset: MediaAsset) -> str | None:
    """Delete the asset, unless a post that may still go out attaches it.

    Returns the storage key whose bytes no asset uses any more, for the caller to remove once the deletion
    is committed; None when another asset has the same bytes (shared.media.services.remove_media).
    """
    lock_for_change(session, actor, asset)
    user = _post_still_sending(session, asset)
    if user is not None:
        raise Conflict(
            f"Post {user.id} ({post_state(user)}) attaches this media and has not gone out yet: remove the "
            "media from it, or wait until it is published."
        )
    return remove_media(session, actor, asset)


def posts_attaching(
    session: Session, workspace_id: uuid.UUID, asset_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[Post]]:
    """The workspace's posts that attach each asset (the post's media or a channel's own), newest first;
    one query for all the assets, for a page that lists them."""
    if not asset_ids:
        return {}
    mentions = [str(asset_id) for asset_id in asset_ids]
    query = (
        select(Post)
        .where(Post.workspace_id == workspace_id, or_(*(_mentions(mention) for mention in mentions)))
        .options(selectinload(Post.targets))
        .order_by(Post.created_at.desc(), Post.id.desc())
    )
    attaching: dict[uuid.UUID, list[Post]] = {asset_id: [] for asset_id in asset_ids}
    for post in session.scalars(query):
        attached = set(post.media).union(*(target.media or () for target in post.targets))
        for mention in mentions:
            if mention in attached:
                attaching[uuid.UUID(mention)].append(post)
    return attaching


def _post_still_sending(session: Session, asset: MediaAsset) -> Post | None:
    may_send = or_(Post.stage.in_(UNSENT_STAGES), _scheduled_and_sending())
    return session.scalars(
        select(Post).where(Post.workspace_id == asset.workspace_id, _attaches(asset), may_send).limit(1)
    ).first()


def _scheduled_posts_attaching(session: Session, asset: MediaAsset) -> Sequence[Post]:
    """The scheduled posts that attach the asset and have something still to send, oldest first."""
    return session.scalars(
        select(Post)
        .where(Post.workspace_id == asset.workspace_id, _attaches(asset), _scheduled_and_sending())
        .order_by(Post.created_at, Post.id)
    ).all()


def _attaches(asset: MediaAsset) -> ColumnElement[bool]:
    return _mentions(str(asset.id))


def _mentions(mention: str) -> ColumnElement[bool]:
    # Ids are kept as JSON text lists; a UUID has no LIKE wildcards, so a substring match is an exact one.
    return or_(
        cast(Post.media, Text).contains(mention),
        exists().where(PostTarget.post_id == Post.id, cast(PostTarget.media, Text).contains(mention)),
    )


def _scheduled_and_sending() -> ColumnElement[bool]:
    return and_(
        Post.stage == PostStage.SCHEDULED,
        or_(
            Post.next_occurrence_at.is_not(None),
            exists().where(Delivery.post_id == Post.id, Delivery.state.in_(SENDING_STATES)),
        ),
    )
