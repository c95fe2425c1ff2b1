"""Uploading, describing, listing and deleting media assets.

An upload is checked before anything is kept: its size against the upload limit, its type read from its
bytes, and that type against what the installed networks take. Whether an asset fits a given network (its
count, size and description limits) is checked when a post attaches it (shared.posts.attaching).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO

from sqlalchemy import ColumnElement, Text, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.deliveries.models import Delivery, DeliveryState
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from shared.media.detecting import READABLE, detect_type
from shared.media.models import MediaAsset
from shared.media.ports import MediaStorage
from shared.networks.registry import NetworkRegistry
from shared.posts.models import Post, PostStage, PostTarget
from shared.workflow.services import send_back_for_approval
from shared.workflow.states import post_state
from shared.workspaces.access import Actor, Permission, require

FILENAME_LIMIT = 255
# Control characters (C0, DEL, C1, Unicode's line and paragraph separators) and lone surrogates.
_NOT_PRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# A post in one of these stages goes out when it is submitted, which checks nothing again.
UNSENT_STAGES = (PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED)
# A scheduled post's delivery in one of these states may still send: by itself, or when a person says so.
SENDING_STATES = DeliveryState.in_progress() | {DeliveryState.NEEDS_REVIEW}


def accepted_types(networks: NetworkRegistry) -> list[str]:
    """Every media type some installed network takes, in a stable order."""
    return sorted(
        {
            kind
            for network in networks.all()
            if network.info.media
            for kind in network.info.media.content_types
        }
    )


def upload_media(
    session: Session,
    storage: MediaStorage,
    networks: NetworkRegistry,
    actor: Actor,
    source: IO[bytes],
    *,
    filename: str,
    alt_text: str | None,
    max_bytes: int,
) -> MediaAsset:
    """Keep an upload (`source` must be seekable) once its size and type allow; the new asset."""
    require(actor, Permission.DRAFT)
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    if size == 0:
        raise InvalidInput([Problem("/file", "The file is empty.")])
    if size > max_bytes:
        raise InvalidInput(
            [Problem("/file", f"The file is {size:,} bytes; an upload may be at most {max_bytes:,} bytes.")]
        )
    detected = detect_type(source)
    if detected is None:
        raise InvalidInput(
            [Problem("/file", f"Crier cannot tell what this file is: it reads {READABLE} by their content.")]
        )
    taken = accepted_types(networks)
    if detected.content_type not in taken:
        raise InvalidInput(
            [
                Problem(
                    "/file",
                    f"The file is {detected.content_type}, which no installed network takes. "
                    f"They take {', '.join(taken) or 'no media at all'}.",
                )
            ]
        )
    # Kept before the row is written: should the transaction fail, the file is left unused, and the same
    # bytes uploaded again reuse it.
    stored = storage.put(source)
    asset = MediaAsset(
        workspace_id=actor.workspace_id,
        uploaded_by=actor.member_id,
        filename=plain_filename(filename),
        content_type=detected.content_type,
        size=stored.size,
        sha256=stored.sha256,
        width=detected.width,
        height=detected.height,
        alt_text=alt_text or None,
        storage_key=stored.key,
    )
    session.add(asset)
    session.flush()
    record(session, actor, "media.uploaded", "media", asset.id, filename=asset.filename, size=asset.size)
    return asset


def list_media(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[MediaAsset]:
    """Newest first; `after` is the (created_at, id) of the previous page's last asset."""
    query = select(MediaAsset).where(MediaAsset.workspace_id == workspace_id)
    if after is not None:
        created_at, media_id = after
        query = query.where(
            or_(
                MediaAsset.created_at < created_at,
                and_(MediaAsset.created_at == created_at, MediaAsset.id < media_id),
            )
        )
    return session.scalars(
        query.order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc()).limit(limit)
    ).all()


def get_media(session: Session, workspace_id: uuid.UUID, media_id: uuid.UUID) -> MediaAsset:
    asset = session.get(MediaAsset, media_id)
    if asset is None or asset.workspace_id != workspace_id:
        raise NotFound("media", media_id)
    return asset


def describe_media(session: Session, actor: Actor, asset: MediaAsset, alt_text: str | None) -> MediaAsset:
    """Set or clear the asset's alt text; posts that attach it send the new one from then on.

    The alt text goes out with the post, so for a member who may not publish, each scheduled post that
    attaches the asset goes back to an approver (a conflict if one of them is going out already).
    """
    _check_may_change(actor, asset)
    if (alt_text or None) == asset.alt_text:
        return asset
    asset.alt_text = alt_text or None
    record(session, actor, "media.described", "media", asset.id)
    if not actor.can(Permission.PUBLISH):
        reason = f"The alt text of {asset.filename} changed after its approval."
        for post in _scheduled_posts_attaching(session, asset):
            send_back_for_approval(session, actor, post, reason=reason)
    return asset


def delete_media(session: Session, actor: Actor, asset: MediaAsset) -> str | None:
    """Delete the asset, unless a post that may still go out attaches it.

    Returns the storage key whose bytes no asset uses any more, for the caller to remove once the deletion
    is committed (never before: a rolled-back deletion would leave an asset without its bytes); None when
    another asset has the same bytes.
    """
    _check_may_change(actor, asset)
    # Locked first, so a post attaching it at the same time either commits before this looks (and is seen)
    # or, once this commits, finds no asset to attach (shared.posts.attaching reads it FOR SHARE).
    session.refresh(asset, with_for_update=True)
    user = _post_still_sending(session, asset)
    if user is not None:
        raise Conflict(
            f"Post {user.id} ({post_state(user)}) attaches this media and has not gone out yet: remove the "
            "media from it, or wait until it is published."
        )
    key = asset.storage_key
    record(session, actor, "media.deleted", "media", asset.id, filename=asset.filename)
    session.delete(asset)
    session.flush()
    shared = session.scalar(select(func.count()).where(MediaAsset.storage_key == key))
    return None if shared else key


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
    mention = str(asset.id)
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


def _check_may_change(actor: Actor, asset: MediaAsset) -> None:
    require(actor, Permission.DRAFT)
    if not actor.can(Permission.PUBLISH) and asset.uploaded_by != actor.member_id:
        raise Forbidden("You may change only the media you uploaded.")


def plain_filename(filename: str) -> str:
    """The file's own name, without the folders some browsers send with it, nor control characters.

    The name goes back out in a Content-Disposition header when the file is downloaded: a CR or LF in it
    would break the header (werkzeug refuses to send it), a NUL cannot be stored, and a lone surrogate
    cannot be encoded.
    """
    name = PurePosixPath(filename.replace("\\", "/")).name
    printable = "".join(" " if _NOT_PRINTABLE.match(character) else character for character in name)
    return " ".join(printable.split())[:FILENAME_LIMIT] or "upload"
