"""Imports (POST /v1/imports, GET /v1/imports/<id>) and exports (GET /v1/exports/posts.csv, calendar.ics)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import UnsupportedMediaType

from services.api.auth import requires
from services.api.bulk.schemas import IMPORT_REQUEST_BODY, ImportSchema, PostExportQuerySchema
from services.api.calendar.schemas import CalendarQuerySchema
from services.api.context import get_actor, get_services
from services.api.posts.views import IDEMPOTENCY_KEY_PARAMETER
from shared.bulk.exporting import export_calendar_ics, export_posts_csv
from shared.bulk.models import PostImport
from shared.bulk.reading import Source, SourceFormat, guess_format, read_source
from shared.bulk.services import get_import, import_posts
from shared.db import utcnow
from shared.errors import InvalidInput, Problem
from shared.idempotency.services import IdempotentRequest, find_or_reserve, fingerprint
from shared.timezones import check_timezone, to_utc
from shared.workflow.listing import PostFilter
from shared.workspaces.access import Permission

imports = Blueprint(
    "imports", __name__, url_prefix="/v1/imports", description="Many posts at once, from a CSV or JSON file."
)
exports = Blueprint(
    "exports", __name__, url_prefix="/v1/exports", description="Posts as CSV, the calendar as iCalendar."
)

CSV_TYPES = frozenset({"text/csv", "application/csv"})
IMPORT_OPERATION = "imports.create"
CREATED_HEADERS = {
    "Location": {"description": "The import's URL.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when the Idempotency-Key was seen before: this is the first request's import.",
        "schema": {"type": "string"},
    },
}


@imports.route("")
class Imports(MethodView):
    @requires(Permission.DRAFT)
    @imports.doc(requestBody=IMPORT_REQUEST_BODY, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @imports.response(201, ImportSchema, headers=CREATED_HEADERS)
    @imports.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @imports.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self) -> tuple[PostImport, dict[str, str]]:
        """Make up to 5,000 posts from a CSV or JSON file: all of them, or none and a list of every problem.

        Each post is made as POST /v1/posts makes one: scheduled, a draft, or waiting for approval when your
        role needs it. Texts are checked with each network's own rules, without asking the network.
        """
        source = read_source(*_uploaded_file())
        services, actor, now = get_services(), get_actor(), utcnow()
        key = request.headers.get("Idempotency-Key")
        idempotency = IdempotentRequest(key, IMPORT_OPERATION, _fingerprint(source)) if key else None
        replayed = False
        with services.sessions.begin() as session:
            reserved = find_or_reserve(session, actor.workspace_id, idempotency, now) if idempotency else None
            if reserved is not None and reserved.resource_id is not None:
                made, replayed = get_import(session, actor.workspace_id, reserved.resource_id), True
            else:
                made = import_posts(session, services.networks, actor, source, now=now)
                if reserved is not None:
                    reserved.resource_id = made.id
        headers = {"Location": url_for(".ImportById", import_id=made.id)}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return made, headers


@imports.route("/<uuid:import_id>")
class ImportById(MethodView):
    @requires(Permission.READ)
    @imports.response(200, ImportSchema)
    @imports.alt_response(404, response="NOT_FOUND")
    def get(self, import_id: uuid.UUID) -> PostImport:
        """An import: how many posts it made, and their ids."""
        with get_services().sessions.begin() as session:
            return get_import(session, get_actor().workspace_id, import_id)


def _uploaded_file() -> tuple[bytes, SourceFormat]:
    """The file in the body (text/csv or application/json), or in a form's `file` field."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput([Problem("/file", "Send the file in a form field named `file`.")])
        data = upload.read()
        if upload.mimetype == "application/json":
            return data, SourceFormat.JSON
        return data, guess_format(upload.filename or "", data)
    if request.mimetype in CSV_TYPES:
        return request.get_data(), SourceFormat.CSV
    if request.mimetype == "application/json":
        return request.get_data(), SourceFormat.JSON
    raise UnsupportedMediaType(
        "Send the posts as text/csv, as application/json, or as multipart/form-data with a `file` field."
    )


def _fingerprint(source: Source) -> str:
    # The rows as read, not the bytes: the same posts with or without a byte-order mark are the same request.
    return fingerprint({"format": source.format, "rows": [[row.number, row.cells] for row in source.rows]})


@exports.route("/posts.csv")
class PostsExport(MethodView):
    @requires(Permission.READ)
    @exports.arguments(PostExportQuerySchema, location="query")
    @exports.response(
        200,
        {"type": "string"},
        content_type="text/csv",
        description="UTF-8 with a byte-order mark; the columns `crier import` and POST /v1/imports read.",
    )
    def get(self, query: dict[str, Any]) -> Response:
        """The posts as a CSV file, filtered like GET /v1/posts: for a spreadsheet, or to import again."""
        with get_services().sessions.begin() as session:
            body = export_posts_csv(session, get_actor().workspace_id, PostFilter(**query))
        return Response(
            body, mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="posts.csv"'}
        )


@exports.route("/calendar.ics")
class CalendarExport(MethodView):
    @requires(Permission.READ)
    @exports.arguments(CalendarQuerySchema, location="query")
    @exports.response(200, {"type": "string"}, content_type="text/calendar")
    def get(self, query: dict[str, Any]) -> Response:
        """The calendar from `from` to `to` (at most 92 days) as iCalendar: one event per post and channel."""
        zone = check_timezone(query["tz"], pointer="/tz")
        start, end = (
            moment if moment.tzinfo else to_utc(moment, zone) for moment in (query["start"], query["end"])
        )
        with get_services().sessions.begin() as session:
            body = export_calendar_ics(
                session, get_actor().workspace_id, start, end, timezone=query["tz"], now=utcnow()
            )
        return Response(
            body,
            mimetype="text/calendar",
            headers={"Content-Disposition": 'attachment; filename="crier.ics"'},
        )
