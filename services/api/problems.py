"""One error body for every failure: RFC 9457 problem details, built here and nowhere else."""

from __future__ import annotations

import http
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response, json, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from shared.errors import (
    Busy,
    Conflict,
    CrierError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
    Unavailable,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# The webargs locations whose errors point into the request body; the others name a parameter.
BODY_LOCATIONS = frozenset({"json", "form", "json_or_form"})

# The most specific class wins; any other CrierError is the client's mistake, so 400.
STATUS_OF_ERROR: dict[type[CrierError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    PreconditionFailed: 412,
    Unavailable: 503,
    Busy: 429,
}

VALIDATION_FAILED = "The request does not have the expected shape; each error names what to fix."


class ProblemErrorSchema(Schema):
    """One thing wrong with the request: where it is and what is wrong."""

    pointer = fields.String(
        metadata={"description": "JSON pointer into the request body.", "example": "/channel_ids/0"}
    )
    parameter = fields.String(metadata={"description": "Query or path parameter.", "example": "state"})
    detail = fields.String(required=True, metadata={"example": "Not a valid UUID."})


class ProblemSchema(Schema):
    """RFC 9457 problem details: the body of every error response."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Unprocessable Entity"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String(metadata={"example": VALIDATION_FAILED})
    instance = fields.String(metadata={"description": "The request path.", "example": "/v1/posts"})
    errors = fields.List(fields.Nested(ProblemErrorSchema))


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem-details response. `type` stays about:blank, so `title` is the status's own phrase."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extensions,
    }
    if errors:
        body["errors"] = errors
    # Strict UTF-8 but for what cannot be encoded (a lone surrogate a message quotes from the request),
    # which becomes "?": an error about bad text must not fail on it.
    encoded = json.dumps(body).encode("utf-8", "replace")
    response = Response(encoded, status=status, mimetype=PROBLEM_CONTENT_TYPE)
    response.headers.extend(headers or {})
    return response


def request_errors(messages: Mapping[str, Any]) -> list[dict[str, str]]:
    """webargs' nested messages by location, as one error per message."""
    errors = []
    for location, messages_here in messages.items():
        for path, detail in _flatten(messages_here):
            if location in BODY_LOCATIONS:
                errors.append(
                    {"pointer": "".join(f"/{json_pointer_token(part)}" for part in path), "detail": detail}
                )
            elif path:
                errors.append({"parameter": path[0], "detail": detail})
            else:
                errors.append({"detail": detail})
    return errors


def _flatten(messages: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(messages, Mapping):
        for key, nested in messages.items():
            # marshmallow files errors about a whole object under "_schema": they belong to the object.
            yield from _flatten(nested, path if key == "_schema" else (*path, str(key)))
    elif isinstance(messages, list | tuple):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, str(messages)


def json_pointer_token(part: str) -> str:
    """A JSON pointer reference token (RFC 6901)."""
    return part.replace("~", "~0").replace("/", "~1")


class ProblemApi(Api):
    """flask-smorest's Api, answering every error (HTTP, domain or unexpected) with a problem document."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(CrierError, self.handle_crier_error)

    def _register_responses(self) -> None:
        # Replaces flask-smorest's own, which documents error bodies as application/json.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "A problem document (RFC 9457).", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Routing errors, webargs' 422 and, through Flask's InternalServerError, unhandled exceptions.

        Flask has already logged an unhandled exception with its traceback before this runs; the
        generic description of InternalServerError keeps internals out of the body.
        """
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = request_errors(data.get("messages", {}))
        detail = data.get("message") or (VALIDATION_FAILED if errors else error.description or "")
        # Keep what werkzeug adds, such as Allow on a 405, but not its HTML content type.
        headers = {key: value for key, value in error.get_headers() if key.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return problem(status, detail, errors=errors, headers=headers)

    def handle_crier_error(self, error: CrierError) -> Response:
        status = next((STATUS_OF_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_OF_ERROR), 400)
        errors = None
        if isinstance(error, InvalidInput):
            errors = [{"pointer": item.pointer, "detail": item.detail} for item in error.problems]
        headers: dict[str, str] = {}
        if isinstance(error, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(error, Busy):
            headers["Retry-After"] = str(error.retry_after_seconds)
        return problem(status, error.detail, errors=errors, headers=headers)
