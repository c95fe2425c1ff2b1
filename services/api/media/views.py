"""The media library: upload, list, describe, delete, and read back images and videos."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Request, Response, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.media.schemas import (
    MediaChangeSchema,
    MediaListSchema,
    MediaQuerySchema,
    MediaSchema,
    UploadSchema,
)
from services.api.paging import page_of
from shared.errors import NotFound
from shared.media.models import MediaAsset
from shared.media.ports import ContentMissing
from shared.media.services import get_media, list_media, plain_filename, upload_media
from shared.workflow.media import delete_media, describe_media
from shared.workspaces.access import Permission

log = logging.getLogger(__name__)


class MultipartParser(FlaskParser):
    """Reads the files with the form's fields: flask-smorest documents one request body per operation."""

    def load_form(self, req: Request, schema: Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


blp = Blueprint(
    "media", __name__, url_prefix="/v1/media", description="Images and videos to attach to posts."
)
blp.ARGUMENTS_PARSER = MultipartParser()

CREATED_HEADERS = {"Location": {"description": "The new asset's URL.", "schema": {"type": "string"}}}
CONTENT_RESPONSE = {
    "description": "The file's bytes, as the content type it was detected as.",
    "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in ("image/*", "video/*")},
}


@blp.route("")
class Media(MethodView):
    @blp.arguments(MediaQuerySchema, location="query")
    @blp.response(200, MediaListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The workspace's media, newest first."""
        limit = query["limit"]
        with get_services().sessions.begin() as session:
            items = list_media(session, get_actor().workspace_id, after=query.get("cursor"), limit=limit + 1)
        return page_of(items, limit, key=lambda asset: (asset.created_at, asset.id))

    @requires(Permission.DRAFT)
    @blp.arguments(UploadSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, MediaSchema, headers=CREATED_HEADERS)
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    def post(self, form: dict[str, Any]) -> tuple[MediaAsset, dict[str, str]]:
        """Upload an image or video (multipart/form-data: `file`, and optionally `alt_text`).

        Its type is read from its bytes: a 422 when no installed network takes it, or when it is larger
        than the upload limit. Whether it fits a network's own limits is checked when a post attaches it.
        """
        upload: FileStorage = form["file"]
        services, actor = get_services(), get_actor()
        with services.sessions.begin() as session:
            asset = upload_media(
                session,
                services.media,
                services.networks,
                actor,
                upload.stream,
                # Only a label for people: what it may not hold is dropped from it, not refused.
                filename=upload.filename or "",
                alt_text=form["alt_text"],
                max_bytes=services.settings.media_max_bytes,
            )
        return asset, {"Location": url_for(".MediaById", media_id=asset.id)}


@blp.route("/<uuid:media_id>")
class MediaById(MethodView):
    @blp.response(200, MediaSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, media_id: uuid.UUID) -> MediaAsset:
        """One media asset."""
        with get_services().sessions.begin() as session:
            return get_media(session, get_actor().workspace_id, media_id)

    @requires(Permission.DRAFT)
    @blp.arguments(MediaChangeSchema)
    @blp.response(200, MediaSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, body: dict[str, Any], media_id: uuid.UUID) -> MediaAsset:
        """Change the alt text; null removes it. Posts send the new one from then on.

        The alt text goes out with the posts: changed by a member whose posts need approval, each
        scheduled post that attaches the asset goes back to `pending_approval` (a 409, changing nothing,
        when one of them has started going out).
        """
        actor = get_actor()
        with get_services().sessions.begin() as session:
            asset = get_media(session, actor.workspace_id, media_id)
            return describe_media(session, actor, asset, body["alt_text"])

    @requires(Permission.DRAFT)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, media_id: uuid.UUID) -> None:
        """Delete an asset; a 409 while a post that has not gone out yet attaches it."""
        services, actor = get_services(), get_actor()
        with services.sessions.begin() as session:
            unused = delete_media(session, actor, get_media(session, actor.workspace_id, media_id))
        if unused is not None:
            services.media.delete(unused)


@blp.route("/<uuid:media_id>/content")
class MediaContent(MethodView):
    @blp.doc(responses={"200": CONTENT_RESPONSE})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, media_id: uuid.UUID) -> Response:
        """The file itself, with the type it was detected as."""
        services = get_services()
        with services.sessions.begin() as session:
            asset = get_media(session, get_actor().workspace_id, media_id)
        try:
            content = services.media.open(asset.storage_key)
        except ContentMissing as missing:
            log.error("media %s has lost its bytes: %s", media_id, missing)
            raise NotFound("media content", media_id) from missing
        response = send_file(
            content,
            mimetype=asset.content_type,
            # Made plain again: a name stored before names were cleaned up may break the header.
            download_name=plain_filename(asset.filename),
            etag=asset.sha256,
            conditional=True,
        )
        # Served as what its bytes are, never as what a browser might guess from them.
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
