"""Optimistic concurrency over HTTP: a resource's version is its ETag, and If-Match must name it."""

from __future__ import annotations

from flask import request

from shared.errors import InvalidInput

IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": (
        "The ETag you read. When someone changed the resource since, the answer is 412 and nothing changes. "
        "Without it, the change applies to whatever is current."
    ),
}
ETAG_HEADER = {"ETag": {"description": "The resource's version.", "schema": {"type": "string"}}}


def etag_of(version: int) -> str:
    return f'"{version}"'


def expected_version() -> int | None:
    """The version the request's If-Match names; None when it sends none (or `*`)."""
    if not request.if_match or request.if_match.star_tag:
        return None
    tags = request.if_match.as_set()
    # An empty quoted tag (`""`) is read as None.
    tag = next(iter(tags)) if len(tags) == 1 else None
    if not tag or not tag.isdigit():
        raise InvalidInput([], 'If-Match takes one ETag as this API gave it, like "3".')
    return int(tag)
