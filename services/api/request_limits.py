"""How large a request body may be: one limit per route, enforced before anything reads the body.

Without it any caller, even one with a read-only token or none, could make a worker read and parse a body
of any size (a 28 MB JSON body took one worker from 130 MB to 1 GB). A body is refused with a 413 problem
document when its Content-Length says it is too large, before it is read (werkzeug holds any reading of a
body with a length to it, through `request.max_content_length`). One sent without a length (chunked,
which gunicorn hands over as a stream it ends itself) is read through `CappedBody`, which answers the same
413 at the first byte past the limit. werkzeug's own cap is not enough there: reading a whole body, it
stops at the limit and returns what it read as if that were all, so a longer body would be parsed cut.
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
    "imports.Imports": FileBody(
        lambda _settings: IMPORT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES,
        frozenset({"multipart/form-data", "text/csv", "application/csv", "application/json"}),
    ),
}


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
    limit = body_limit(request.endpoint, request.mimetype, get_services().settings)
    length = request.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge(
            f"The body is {length:,} bytes; {request.method} {request.path} takes at most {limit:,}."
        )
    if length is None and request.environ.get("wsgi.input_terminated"):
        # Before anything asks for request.stream, which werkzeug builds once, from the environ.
        request.environ["wsgi.input"] = CappedBody(request.environ["wsgi.input"], limit, _too_large(limit))
    else:
        request.max_content_length = limit


def _too_large(limit: int) -> str:
    return f"The body is larger than {request.method} {request.path} takes: at most {limit:,} bytes."


class CappedBody(io.RawIOBase):
    """A body without a Content-Length, read through: RequestEntityTooLarge at its first byte past `limit`."""

    def __init__(self, stream: IO[bytes], limit: int, refusal: str) -> None:
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
            raise RequestEntityTooLarge(self._refusal)
        space[: len(data)] = data
        return len(data)
