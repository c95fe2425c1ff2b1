"""The dashboard's media library: every image and video of the workspace, 50 at a time, newest first, with
what is known of each and the posts that attach it; its alt text changed, a file uploaded, an asset deleted.

Each step is what /v1/media does, through the same core calls and the API's own form schemas: an upload is
compose_media.upload_from_form (UploadSchema, upload_media), a description MediaChangeSchema and
describe_media (which sends scheduled posts back to an approver when a member who may not publish changes
it), a deletion delete_media (refused, in its own words, while a post that may still go out attaches it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.compose_media import chosen_file, upload_errors, upload_from_form
from services.api.dashboard.pages import form_expired, refusal
from services.api.dashboard.upload_limits import MIB, megabytes, upload_rules
from services.api.media.schemas import MediaChangeSchema
from services.api.paging import Cursor, encode_cursor
from services.api.problems import request_errors
from shared.errors import Conflict, InvalidInput
from shared.media.models import MediaAsset
from shared.media.services import count_undescribed, get_media, list_media, may_change
from shared.posts.models import Post
from shared.workflow.media import delete_media, describe_media, posts_attaching
from shared.workspaces.access import Actor, Permission
from shared.workspaces.services import list_members

PAGE_SIZE = 50
# The posts named beside an asset; the rest are counted.
POSTS_NAMED = 5
NOT_OUR_LINK = "That link to another page of the library is not one this page gave out."
NO_FILE = "Choose a file to upload."

media_library_blp = Blueprint("media_library", __name__, url_prefix="/media")
answer_refusals(media_library_blp, lambda: url_for("dashboard.media_library.library"))


@media_library_blp.app_context_processor
def upload_rules_for_templates() -> dict[str, Any]:
    # A function, called only by the templates that have a file input (this page's and compose's).
    return {"upload_rules": upload_rules}


@dataclass(frozen=True)
class LibraryView:
    """Which assets the page shows: all or only those without alt text, and from where (None: the newest).

    Read from the query string, or from a form's hidden fields, so a step taken on the page returns to it.
    """

    undescribed: bool = False
    after: tuple[datetime, uuid.UUID] | None = None
    before: tuple[datetime, uuid.UUID] | None = None

    @classmethod
    def read(cls, fields: MultiDict[str, str]) -> LibraryView:
        """The fields' `missing`, `after` and `before`; InvalidInput for a cursor the page never gave out."""
        return cls(
            undescribed=fields.get("missing") == "1",
            after=_cursor(fields.get("after", "")),
            before=_cursor(fields.get("before", "")),
        )

    @property
    def asked(self) -> dict[str, str]:
        """The view as query-string values, for links and hidden fields."""
        values = {"missing": "1"} if self.undescribed else {}
        if self.after is not None:
            values["after"] = encode_cursor(*self.after)
        if self.before is not None:
            values["before"] = encode_cursor(*self.before)
        return values

    def address(self, anchor: str | None = None) -> str:
        values: dict[str, Any] = dict(self.asked)
        return url_for("dashboard.media_library.library", _anchor=anchor, **values)


def _cursor(value: str) -> tuple[datetime, uuid.UUID] | None:
    if not value.strip():
        return None
    try:
        return Cursor().deserialize(value.strip())
    except ValidationError as error:
        raise InvalidInput([]) from error


@dataclass(frozen=True)
class LibraryEntry:
    """One asset as the page lists it, with who uploaded it and the posts that attach it."""

    asset: MediaAsset
    uploader: str | None  # None: not stored, or a member since removed
    posts: list[Post]
    changeable: bool

    @property
    def undescribed(self) -> bool:
        return not (self.asset.alt_text or "").strip()

    @property
    def is_image(self) -> bool:
        return self.asset.content_type.startswith("image/")

    @property
    def size_label(self) -> str:
        size = self.asset.size
        if size < 1024:
            return f"{size} bytes"
        if size < MIB:
            return f"{size / 1024:.0f} KB"
        return megabytes(size)

    @property
    def dimensions(self) -> str | None:
        width, height = self.asset.width, self.asset.height
        return f"{width} \N{MULTIPLICATION SIGN} {height} pixels" if width and height else None

    @property
    def posts_named(self) -> list[Post]:
        return self.posts[:POSTS_NAMED]

    @property
    def posts_more(self) -> int:
        return max(0, len(self.posts) - POSTS_NAMED)


@dataclass(frozen=True)
class LibraryPage:
    entries: list[LibraryEntry]
    undescribed_count: int
    newer: str | None
    older: str | None
    paged: bool
    errors: Mapping[str, str] = field(default_factory=dict)
    entered: Mapping[str, str] = field(default_factory=dict)


@media_library_blp.get("")
def library() -> Any:
    """The workspace's media, newest first; `missing=1` lists only those without alt text."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        try:
            view = LibraryView.read(request.args)
        except InvalidInput:
            return refusal(400, NOT_OUR_LINK, back=url_for(".library"))
        return _page(session, actor, view)


@media_library_blp.post("/upload")
def upload() -> Any:
    """Upload a file with its alt text, as POST /v1/media does."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    alt_text = request.form.get("alt_text", "")
    with services.sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
    file = chosen_file(request.files.get("file"))
    try:
        if file is None:
            raise InvalidInput([])
        media_id = upload_from_form(services, actor, file, alt_text)
    except InvalidInput as refused:
        errors = upload_errors(refused.problems) if refused.problems else {"upload": NO_FILE}
        with services.sessions.begin() as session:
            view, entered = _view_of_form(), {"upload_alt": alt_text}
            return _page(session, actor, view, errors=errors, entered=entered, status=422)
    flash(
        f"Uploaded {file.filename}."
        if not alt_text.strip()
        else f"Uploaded {file.filename} with its alt text."
    )
    return redirect(url_for(".library", _anchor=f"media-{media_id}"))


@media_library_blp.post("/<uuid:media_id>/alt-text")
def describe(media_id: uuid.UUID) -> Any:
    """Change or clear the alt text, as PATCH /v1/media/{id} does: a scheduled post that attaches the asset
    goes back to an approver when the member's posts need approval."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    typed = request.form.get("alt_text", "")
    field = f"alt-{media_id}"
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        view = _view_of_form()
        asset = get_media(session, actor.workspace_id, media_id)
        try:
            body = MediaChangeSchema().load({"alt_text": typed.strip() or None})
        except ValidationError as error:
            said = " ".join(item["detail"] for item in request_errors({"json": error.messages}))
            return _page(session, actor, view, errors={field: said}, entered={field: typed}, status=422)
        filename = asset.filename
        describe_media(session, actor, asset, body["alt_text"])
    flash(
        f"Saved the alt text of {filename}." if body["alt_text"] else f"Removed the alt text of {filename}."
    )
    return redirect(view.address(f"media-{media_id}"))


@media_library_blp.post("/<uuid:media_id>/delete")
def delete(media_id: uuid.UUID) -> Any:
    """Delete the asset, as DELETE /v1/media/{id} does; refused beside it while a post may still send it."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        view = _view_of_form()
        asset = get_media(session, actor.workspace_id, media_id)
        filename = asset.filename
        try:
            unused = delete_media(session, actor, asset)
        except Conflict as refused:
            # Refused before anything changed: the page is drawn again in the same transaction.
            return _page(session, actor, view, errors={f"delete-{media_id}": refused.detail}, status=409)
    # Once the deletion is committed, never before: a rolled-back one would leave an asset without bytes.
    if unused is not None:
        services.media.delete(unused)
    flash(f"Deleted {filename}.")
    return redirect(view.address())


def _view_of_form() -> LibraryView:
    try:
        return LibraryView.read(request.form)
    except InvalidInput:
        return LibraryView()  # the step is still taken; the page it returns to is the newest


def _page(
    session: Session,
    actor: Actor,
    view: LibraryView,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
) -> Any:
    page = _read_page(session, actor, view)
    html = render_template(
        "dashboard/media_library.html",
        **chrome(session, actor),
        view=view,
        page=page,
        may_upload=actor.can(Permission.DRAFT),
        errors=errors or {},
        entered=entered or {},
        rules=upload_rules(),
    )
    return make_response(html, status)


def _read_page(session: Session, actor: Actor, view: LibraryView) -> LibraryPage:
    found = list(
        list_media(
            session,
            actor.workspace_id,
            after=view.after,
            before=view.before,
            undescribed=view.undescribed,
            limit=PAGE_SIZE + 1,
        )
    )
    filtered = LibraryView(undescribed=view.undescribed)
    if view.before is not None:
        # Read going back towards the newest: the one more asked for, when there is one, is the newest.
        shown = found[-PAGE_SIZE:]
        newer_exists, older_exists = len(found) > PAGE_SIZE, True
    else:
        shown = found[:PAGE_SIZE]
        newer_exists, older_exists = view.after is not None, len(found) > PAGE_SIZE
    newer = older = None
    if newer_exists:
        newer = (
            LibraryView(view.undescribed, before=_key(shown[0])).address() if shown else filtered.address()
        )
    if older_exists and shown:
        older = LibraryView(view.undescribed, after=_key(shown[-1])).address()
    return LibraryPage(
        entries=_entries(session, actor, shown),
        undescribed_count=count_undescribed(session, actor.workspace_id),
        newer=newer,
        older=older,
        paged=view.after is not None or view.before is not None,
    )


def _key(asset: MediaAsset) -> tuple[datetime, uuid.UUID]:
    return asset.created_at, asset.id


def _entries(session: Session, actor: Actor, assets: Sequence[MediaAsset]) -> list[LibraryEntry]:
    names = {member.id: member.name for member in list_members(session, actor.workspace_id)}
    attaching = posts_attaching(session, actor.workspace_id, [asset.id for asset in assets])
    return [
        LibraryEntry(
            asset,
            names.get(asset.uploaded_by) if asset.uploaded_by else None,
            attaching.get(asset.id, []),
            may_change(actor, asset),
        )
        for asset in assets
    ]
