"""The compose page's media: the workspace's library to choose from, a file uploaded from the form itself,
and a small picture of each image for the signed-in browser.

An upload goes through the API's own form schema (UploadSchema) and the core call POST /v1/media makes
(upload_media), so the page refuses exactly what the API refuses; attaching is checked later, with the rest
of the post, by create_checked (a type the chosen channels' networks do not take is refused there).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from flask import Response, send_file
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from services.api.media.schemas import UploadSchema
from services.api.problems import request_errors
from shared.bootstrap import Services
from shared.errors import InvalidInput, NotFound, Problem
from shared.media.models import MediaAsset
from shared.media.ports import ContentMissing
from shared.media.services import get_media, list_media, upload_media
from shared.workspaces.access import Actor

log = logging.getLogger(__name__)

# The newest assets offered to choose from; older ones stay attached when a form already chose them.
LIBRARY_SHOWN = 60
# The upload's problems, by the API form's field, beside the page's own fields.
UPLOAD_FIELDS = {"/file": "upload", "/alt_text": "upload_alt"}


@dataclass(frozen=True)
class LibraryItem:
    """One asset as the form offers it."""

    id: str
    filename: str
    content_type: str
    size: int
    alt_text: str | None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def size_label(self) -> str:
        if self.size < 1024:
            return f"{self.size} bytes"
        if self.size < 1024 * 1024:
            return f"{self.size / 1024:.0f} KB"
        return f"{self.size / (1024 * 1024):.1f} MB"


def library(session: Session, workspace_id: uuid.UUID, chosen: Collection[str]) -> list[LibraryItem]:
    """The newest assets of the workspace, then any chosen asset older than those (still the workspace's)."""
    assets = list(list_media(session, workspace_id, limit=LIBRARY_SHOWN))
    shown = {str(asset.id) for asset in assets}
    for media_id in chosen:
        if media_id in shown:
            continue
        try:
            assets.append(get_media(session, workspace_id, uuid.UUID(media_id)))
        except (ValueError, NotFound):
            continue  # the post's own check names it beside the media
        shown.add(media_id)
    return [_item(asset) for asset in assets]


def undescribed(session: Session, workspace_id: uuid.UUID, chosen: Sequence[str]) -> list[str]:
    """The file names of the chosen assets that have no alt text, in the order they were chosen."""
    ids = [uuid.UUID(media_id) for media_id in chosen]
    query = select(MediaAsset).where(MediaAsset.workspace_id == workspace_id, MediaAsset.id.in_(ids))
    names = {str(asset.id): asset.filename for asset in session.scalars(query) if not asset.alt_text}
    return [names[media_id] for media_id in chosen if media_id in names]


def _item(asset: MediaAsset) -> LibraryItem:
    return LibraryItem(str(asset.id), asset.filename, asset.content_type, asset.size, asset.alt_text)


def chosen_file(upload: FileStorage | None) -> FileStorage | None:
    """The file the form sent, if one was chosen: a file input left empty sends a part without a name."""
    if upload is None or not upload.filename:
        return None
    return upload


def upload_from_form(services: Services, actor: Actor, upload: FileStorage, alt_text: str) -> str:
    """Keep the form's file as POST /v1/media would; its id. InvalidInput, pointing at the page's fields."""
    try:
        loaded = UploadSchema().load({"file": upload, "alt_text": alt_text.strip() or None})
    except ValidationError as error:
        found = request_errors({"form": error.messages})
        raise InvalidInput([Problem(item["pointer"], item["detail"]) for item in found]) from error
    with services.sessions.begin() as session:
        asset = upload_media(
            session,
            services.media,
            services.networks,
            actor,
            loaded["file"].stream,
            filename=loaded["file"].filename or "",
            alt_text=loaded["alt_text"],
            max_bytes=services.settings.media_max_bytes,
        )
        return str(asset.id)


def upload_errors(problems: Sequence[Problem]) -> dict[str, str]:
    """The upload's problems beside the file and alt-text fields (anything else: beside the file)."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(UPLOAD_FIELDS.get(problem.pointer, "upload"), []).append(problem.detail)
    return {name: " ".join(dict.fromkeys(details)) for name, details in errors.items()}


def thumbnail(services: Services, workspace_id: uuid.UUID, media_id: uuid.UUID) -> Response:
    """An image of the workspace, for its own compose page; NotFound for a video or another's asset."""
    with services.sessions.begin() as session:
        asset = get_media(session, workspace_id, media_id)
        content_type, storage_key, sha256 = asset.content_type, asset.storage_key, asset.sha256
    if not content_type.startswith("image/"):
        raise NotFound("image", media_id)
    try:
        content = services.media.open(storage_key)
    except ContentMissing as missing:
        log.error("media %s has lost its bytes: %s", media_id, missing)
        raise NotFound("image", media_id) from missing
    response = send_file(content, mimetype=content_type, etag=sha256, conditional=True)
    # Shown as what its bytes are, never as what a browser might guess from them; kept by this browser only.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
