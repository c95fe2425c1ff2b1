"""How large a request body may be: one limit per route, enforced before anything reads the body.

Without it any caller, even one with a read-only token or none, could make a worker read and parse a body
of any size (a 28 MB JSON body took one worker from 130 MB to 1 GB). A body is refused with a 413 problem
document when its Content-Length says it is too large, before it is read (werkzeug holds any reading of a
body with a length to it, through `request.max_content_length`). One sent without a length (chunked,
which gunicorn hands over as a stream it ends itself) is read through `CappedBody`, which answers the same
413 at the first byte past the limit. werkzeug's own cap is not enough there: reading a whole body, it
stops at the limit and returns what it read as if that were all, so a longer body would be parsed cut.

A browser sending a dashboard form is answered the same 413 as a page (services.api.dashboard.upload_limits),
not a problem document a person cannot read: the refusal is a `PageTooLarge` when the request is for a
dashboard page and prefers HTML to JSON. Any other client, and any request that does not ask for HTML
before JSON (curl's `*/*` included), gets the problem document as before.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from services.api.context import get_services
from shared.bulk.reading import MAX_BYTES as IMPORT_MAX_BYTES
from shared.config import Settings

DASHBOARD_PATH = "/dashboard/"
# What a client may prefer: a browser names text/html first; an API client JSON or anything.
ANSWER_TYPES = ["application/problem+json", "application/json", "text/html"]

# Room for the multipart framing and the form's other fields around a file of the largest size allowed.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileBody:
    """A route that takes a file: how large a body it takes, and of which media types."""

    limit: Callable[[Settings], int]
    media_types: frozenset[str]


# The routes that take files, by endpoint. Only a body of a type the route reads as a file gets the larger
# limit (a JSON body sent to the upload route is held to the JSON limit); every other body takes
# CRIER_REQUEST_MAX_BYTES.
FILE_BODIES: dict[str, FileBody] = {
    "media.Media": FileBody(
        lambda settings: settings.media_max_bytes + MULTIPART_OVERHEAD_BYTES,
        frozenset({"multipart/form-data"}),
    ),
    # The dashboard's compose form, new post or edit, uploads a file with the post's fields around it; the
    # media library's upload form, a file with its alt text.
    **dict.fromkeys(
        ("dashboard.compose.compose", "dashboard.post_edit.save", "dashboard.media_library.upload"),
        FileBody(
            lambda settings: settings.media_max_bytes + MULTIPART_OVERHEAD_BYTES,
            frozenset({"multipart/form-data"}),
        ),
    ),
    "imports.Imports": FileBody(
        lambda _settings: IMPORT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES,
        frozenset({"multipart/form-data", "text/csv", "application/csv", "application/json"}),
    ),
}


class PageTooLarge(RequestEntityTooLarge):
    """A dashboard form's body too large, sent by a browser: answered with a page saying the limit."""

    def __init__(self, description: str, *, limit: int, file_limit: int | None) -> None:
        super().__init__(description)
        self.limit = limit
        self.file_limit = file_limit  # the largest file the route takes; None: it takes no file


def body_limit(endpoint: str | None, media_type: str, settings: Settings) -> int:
    """The largest body of `media_type` the route at `endpoint` takes, in bytes."""
    file_body = FILE_BODIES.get(endpoint or "")
    if file_body is not None and media_type in file_body.media_types:
        return file_body.limit(settings)
    return settings.request_max_bytes


def limit_request_body() -> None:
    """A before-request hook, the app's first: 413 for a body its Content-Length says is too large.

    It also sets the limit werkzeug holds any later reading of the body to, so a body sent without a
    Content-Length is cut at the same size.
    """
    settings = get_services().settings
    limit = body_limit(request.endpoint, request.mimetype, settings)
    length = request.content_length
    if length is not None and length > limit:
        raise _refusal(
            f"The body is {length:,} bytes; {request.method} {request.path} takes at most {limit:,}.",
            limit,
            settings,
        )
    if length is None and request.environ.get("wsgi.input_terminated"):
        # Before anything asks for request.stream, which werkzeug builds once, from the environ.
        refusal = _refusal(
            f"The body is larger than {request.method} {request.path} takes: at most {limit:,} bytes.",
            limit,
            settings,
        )
        request.environ["wsgi.input"] = CappedBody(request.environ["wsgi.input"], limit, refusal)
    else:
        request.max_content_length = limit


def _refusal(detail: str, limit: int, settings: Settings) -> RequestEntityTooLarge:
    """The 413 to raise: a page for a browser's dashboard form, a problem document for anything else."""
    wants_page = (
        request.path.startswith(DASHBOARD_PATH)
        and request.accept_mimetypes.best_match(ANSWER_TYPES) == "text/html"
    )
    if not wants_page:
        return RequestEntityTooLarge(detail)
    # The dashboard's routes that take a file all take media.
    file_body = FILE_BODIES.get(request.endpoint or "")
    takes_file = file_body is not None and request.mimetype in file_body.media_types
    return PageTooLarge(detail, limit=limit, file_limit=settings.media_max_bytes if takes_file else None)


class CappedBody(io.RawIOBase):
    """A body without a Content-Length, read through: `refusal` raised at its first byte past `limit`."""

    def __init__(self, stream: IO[bytes], limit: int, refusal: RequestEntityTooLarge) -> None:
        super().__init__()
        self._stream = stream
        self._limit = limit
        self._refusal = refusal
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        space = memoryview(buffer).cast("B")
        # At most one byte past the limit: enough to know the body is longer, no more.
        data = self._stream.read(min(len(space), self._limit + 1 - self._read))
        self._read += len(data)
        if self._read > self._limit:
            raise self._refusal
        space[: len(data)] = data
        return len(data)
