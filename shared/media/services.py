"""Uploading, describing, listing and deleting media assets.

An upload is checked before anything is kept: its size against the upload limit, its type read from its
bytes, and that type against what the installed networks take. Whether an asset fits a given network (its
count, size and description limits) is checked when a post attaches it (shared.posts.attaching). What a
change to an asset does to the posts that attach it is shared.workflow.media's.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.errors import Forbidden, InvalidInput, Problem
from shared.media.detecting import READABLE, detect_type
from shared.media.models import MediaAsset
from shared.media.ports import MediaStorage
from shared.networks.registry import NetworkRegistry
from shared.workspaces.access import Actor, Permission, require
from shared.workspaces.services import get_in_workspace

FILENAME_LIMIT = 255
# Control characters (C0, DEL, C1, Unicode's line and paragraph separators) and lone surrogates.
_NOT_PRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


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
    before: tuple[datetime, uuid.UUID] | None = None,
    undescribed: bool = False,
    limit: int = 50,
) -> Sequence[MediaAsset]:
    """Newest first; `after` is the (created_at, id) of the previous page's last asset, `before` that of
    the next page's first (the `limit` assets just newer than it); `undescribed`: only those without alt
    text."""
    query = select(MediaAsset).where(MediaAsset.workspace_id == workspace_id)
    if undescribed:
        query = query.where(_without_alt_text())
    if after is not None:
        created_at, media_id = after
        query = query.where(
            or_(
                MediaAsset.created_at < created_at,
                and_(MediaAsset.created_at == created_at, MediaAsset.id < media_id),
            )
        )
    if before is not None:
        created_at, media_id = before
        newer = query.where(
            or_(
                MediaAsset.created_at > created_at,
                and_(MediaAsset.created_at == created_at, MediaAsset.id > media_id),
            )
        )
        # The nearest newer ones, read oldest first and turned round: still newest first.
        found = session.scalars(newer.order_by(MediaAsset.created_at, MediaAsset.id).limit(limit)).all()
        return list(reversed(found))
    return session.scalars(
        query.order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc()).limit(limit)
    ).all()


def count_undescribed(session: Session, workspace_id: uuid.UUID) -> int:
    """How many of the workspace's assets have no alt text."""
    query = select(func.count()).where(MediaAsset.workspace_id == workspace_id, _without_alt_text())
    return session.scalar(query) or 0


def _without_alt_text() -> ColumnElement[bool]:
    # Blank counts as none: a description of spaces tells a screen reader nothing either.
    return or_(MediaAsset.alt_text.is_(None), func.trim(MediaAsset.alt_text) == "")


def get_media(session: Session, workspace_id: uuid.UUID, media_id: uuid.UUID) -> MediaAsset:
    return get_in_workspace(session, MediaAsset, workspace_id, media_id, "media")


def set_alt_text(session: Session, actor: Actor, asset: MediaAsset, alt_text: str | None) -> bool:
    """Set or clear the asset's alt text; whether it changed (shared.workflow.media.describe_media also
    sends the posts that attach it back for approval)."""
    _check_may_change(actor, asset)
    if (alt_text or None) == asset.alt_text:
        return False
    asset.alt_text = alt_text or None
    record(session, actor, "media.described", "media", asset.id)
    return True


def lock_for_change(session: Session, actor: Actor, asset: MediaAsset) -> None:
    """Check the actor may change the asset, and lock its row until the transaction ends.

    Locked before anything looks at the posts that attach it, so a post attaching it at the same time
    either commits before that look (and is seen) or, once the change commits, finds no asset to attach
    (shared.posts.attaching reads it FOR SHARE).
    """
    _check_may_change(actor, asset)
    session.refresh(asset, with_for_update=True)


def remove_media(session: Session, actor: Actor, asset: MediaAsset) -> str | None:
    """Delete the asset (locked by lock_for_change, no post that may still go out attaching it).

    Returns the storage key whose bytes no asset uses any more, for the caller to remove once the deletion
    is committed (never before: a rolled-back deletion would leave an asset without its bytes); None when
    another asset has the same bytes.
    """
    key = asset.storage_key
    record(session, actor, "media.deleted", "media", asset.id, filename=asset.filename)
    session.delete(asset)
    session.flush()
    shared = session.scalar(select(func.count()).where(MediaAsset.storage_key == key))
    return None if shared else key


def may_change(actor: Actor, asset: MediaAsset) -> bool:
    """Whether the actor may describe or delete the asset (what set_alt_text and remove_media check)."""
    try:
        _check_may_change(actor, asset)
    except Forbidden:
        return False
    return True


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
