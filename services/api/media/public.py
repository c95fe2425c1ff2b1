"""GET /public-media/<token>: a media file of a delivery, fetched by the network itself (Instagram, Threads).

Those networks take media only as a URL they fetch, and they send no Crier token: the signed token in the
address is the permission (shared.media.public_addresses). A token that is forged, altered, expired or names
a file that is gone answers the same 404, so the answer tells nothing about which it was. Like the short
links, it lives outside /v1 and outside the OpenAPI document: no program puts these URLs together.
"""

from __future__ import annotations

import logging

from flask import Blueprint, send_file
from werkzeug.wrappers import Response

from services.api.context import get_services
from services.api.problems import problem
from shared.media.models import MediaAsset
from shared.media.ports import ContentMissing
from shared.media.public_addresses import PUBLIC_MEDIA_PATH

log = logging.getLogger(__name__)

public_media = Blueprint("public_media", __name__)


@public_media.get(f"{PUBLIC_MEDIA_PATH}<token>")
def serve_public_media(token: str) -> Response:
    """The file the token names, while the token is valid; 404 for anything else."""
    services = get_services()
    named = services.public_media.asset_named(token)
    if named is None:
        return _not_found()
    with services.sessions.begin() as session:
        asset = session.get(MediaAsset, named.asset_id)
        # The token names the workspace too: an asset moved or re-created under another workspace's id
        # is never served to an address made for the first.
        if asset is None or asset.workspace_id != named.workspace_id:
            return _not_found()
        content_type, size, storage_key = asset.content_type, asset.size, asset.storage_key
    try:
        content = services.media.open(storage_key)
    except ContentMissing as missing:
        log.error("media %s has lost its bytes: %s", named.asset_id, missing)
        return _not_found()
    response = send_file(content, mimetype=content_type, conditional=False, etag=False, max_age=None)
    response.content_length = size
    # The address is a capability: no shared cache may keep the file and hand it to whoever asks next.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found() -> Response:
    return problem(404, "There is no media at this address, or the address has expired.")
