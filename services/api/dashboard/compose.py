"""The dashboard's compose page: write a post (text, per-channel variants, a thread, labels), see it as
each network will count it, and schedule it, queue it, repeat it, keep it as a draft or send it for approval.

The form is read into the same body POST /v1/posts takes and loaded by the API's own schema, then created
by the same core call (create_checked), so the page keeps exactly the API's rules; the previews are
POST /v1/preview's (preview_drafts). Everything works without script: "Check" and "Add a reply" post the
form and draw it again; static/compose.js only refreshes the counts as one types. Media are chosen from the
workspace's library or uploaded from the form (compose_media).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.compose_media import (
    LibraryItem,
    chosen_file,
    library,
    thumbnail,
    undescribed,
    upload_errors,
    upload_from_form,
)
from services.api.dashboard.pages import form_expired
from services.api.dashboard.viewer_zone import viewer_zone
from services.api.posts.schemas import PostWriteSchema, post_request
from services.api.problems import request_errors
from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.services import list_channels
from shared.db import utcnow
from shared.errors import InvalidInput, Problem
from shared.idempotency.services import IdempotentRequest, fingerprint
from shared.networks.ports import Draft
from shared.posts.models import Post, PostStage
from shared.posts.previewing import ChannelPreview, preview_drafts
from shared.workflow.scheduling import create_checked
from shared.workspaces.access import Actor, Permission

COMPOSE_OPERATION = "dashboard.compose"
DEFAULT_TIMEZONE = "UTC"
TIMINGS = ("now", "at", "queue", "recurrence")
RECURRENCE_EXAMPLE = "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12"
# The page runs one script of its own, which asks this server for the counts; nothing else.
COMPOSE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Which of the form's fields a problem belongs beside, by its JSON pointer's first step; the channels'
# and the thread's own pointers name one channel or one reply (field_of).
FIELD_OF_FIRST_STEP = {
    "text": "text",
    "channels": "channels",
    "channel_ids": "channels",
    "thread": "thread",
    "labels": "labels",
    "scheduled_at": "at",
    "timezone": "timezone",
    "queue": "queue",
    "recurrence": "rule",
    "media": "media",
    "timing": "timing",
}

compose_blp = Blueprint("compose", __name__, url_prefix="/compose")
answer_refusals(compose_blp, lambda: url_for("dashboard.compose.compose_form"))


@compose_blp.after_request
def allow_own_script(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = COMPOSE_CONTENT_SECURITY_POLICY
    return response


@cache
def zone_names() -> list[str]:
    return sorted(available_timezones())


@dataclass
class ComposeForm:
    """The compose form as typed: strings, to draw it again exactly so."""

    text: str = ""
    channel_ids: list[str] = field(default_factory=list)
    variants: dict[str, str] = field(default_factory=dict)  # by channel id; blank: the post's text
    thread: list[str] = field(default_factory=list)
    labels: str = ""
    timing: str = "now"
    at: str = ""  # a datetime-local value: the wall-clock time in `timezone`
    timezone: str = DEFAULT_TIMEZONE
    queue: str = "last"
    rule: str = ""
    media: list[str] = field(default_factory=list)  # the chosen assets' ids, in the order they go out
    upload_alt: str = ""
    key: str = ""

    @classmethod
    def read(cls, form: MultiDict[str, str]) -> ComposeForm:
        channel_ids = form.getlist("channel")
        return cls(
            text=form.get("text", ""),
            channel_ids=channel_ids,
            variants={channel_id: form.get(f"variant-{channel_id}", "") for channel_id in channel_ids},
            thread=form.getlist("thread"),
            labels=form.get("labels", ""),
            timing=form.get("timing", "now"),
            at=form.get("at", "").strip(),
            timezone=form.get("timezone", DEFAULT_TIMEZONE),
            queue=form.get("queue", "last"),
            rule=form.get("rule", "").strip(),
            media=list(dict.fromkeys(form.getlist("media"))),
            upload_alt=form.get("upload_alt", ""),
            key=form.get("compose_key", ""),
        )

    @property
    def replies(self) -> list[tuple[int, str]]:
        """The thread's replies that say something, with their place among the form's fields."""
        return [(index, item) for index, item in enumerate(self.thread) if item.strip()]

    def body(self, *, draft: bool) -> dict[str, Any]:
        """The form as POST /v1/posts's JSON body."""
        body: dict[str, Any] = {
            "text": self.text,
            "thread": [item for _, item in self.replies],
            "channels": [
                {"channel_id": channel_id}
                | ({"text": self.variants[channel_id]} if self.variants.get(channel_id, "").strip() else {})
                for channel_id in self.channel_ids
            ],
            "media": self.media,
            "labels": [label.strip() for label in self.labels.split(",") if label.strip()],
            "timezone": self.timezone,
            "draft": draft,
        }
        if self.timing in {"at", "recurrence"}:
            body["scheduled_at"] = self.at or None
        if self.timing == "queue":
            body["queue"] = self.queue
        if self.timing == "recurrence":
            body["recurrence"] = {"rule": self.rule}
        return body

    def drafts(self, channels: Mapping[str, Channel]) -> list[tuple[uuid.UUID, Draft]]:
        """What each chosen channel of the workspace would receive, for its preview."""
        thread = tuple(item for _, item in self.replies)
        return [
            (channels[channel_id].id, Draft(text=self.text_for(channel_id), thread=thread))
            for channel_id in self.channel_ids
            if channel_id in channels
        ]

    def text_for(self, channel_id: str) -> str:
        variant = self.variants.get(channel_id, "")
        return variant if variant.strip() else self.text


def field_of(pointer: str, form: ComposeForm) -> str:
    """The form field a problem's JSON pointer names: one channel's variant, one reply, or a whole field."""
    steps = pointer.strip("/").split("/") if pointer else []
    if not steps:
        return "form"
    if steps[0] in {"channels", "channel_ids"} and len(steps) > 1 and steps[1].isdigit():
        index = int(steps[1])
        if index < len(form.channel_ids):
            return f"variant-{form.channel_ids[index]}" if steps[2:3] == ["text"] else "channels"
    if steps[0] == "thread" and len(steps) > 1 and steps[1].isdigit():
        replies = form.replies
        if int(steps[1]) < len(replies):
            return f"thread-{replies[int(steps[1])][0]}"
    return FIELD_OF_FIRST_STEP.get(steps[0], "form")


def field_errors(problems: Sequence[tuple[str, str]], form: ComposeForm) -> dict[str, str]:
    """Each (pointer, detail) beside its field; a field with several problems says them all."""
    errors: dict[str, list[str]] = {}
    for pointer, detail in problems:
        errors.setdefault(field_of(pointer, form), []).append(detail)
    return {name: " ".join(dict.fromkeys(details)) for name, details in errors.items()}


def shape_problems(form: ComposeForm) -> list[tuple[str, str]]:
    """What the form itself must say before the API's schema is asked: in a person's words, not a JSON's."""
    problems = []
    if not form.text.strip():
        problems.append(("/text", "Write the post's text."))
    if not form.channel_ids:
        problems.append(("/channels", "Choose at least one channel to publish on."))
    if form.timing not in TIMINGS:
        problems.append(("/timing", "Choose when to publish."))
    if form.timing == "at" and not form.at:
        problems.append(("/scheduled_at", "Choose the date and time to publish at."))
    if form.timing == "recurrence" and not form.rule:
        problems.append(("/recurrence/rule", f"Write a repeat rule, for example {RECURRENCE_EXAMPLE}."))
    return problems


# -- The page ---------------------------------------------------------------------------------------------


@compose_blp.get("")
def compose_form() -> Any:
    """An empty compose form, in the zone the `tz` parameter names (the member's own, or UTC, by default)."""
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        own = viewer_zone(session, actor).name
        asked = request.args.get("tz", own)
        form = ComposeForm(timezone=asked if asked in zone_names() else own, thread=[""])
        return page(session, actor, form)


@compose_blp.post("")
def compose() -> Any:
    """The form's buttons: check the previews, add a reply, save a draft, or schedule (or submit) it."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    form = ComposeForm.read(request.form)
    action = request.form.get("action", "submit")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
    redrawn = redraw_for(services, actor, form, action, partial(page_again, actor))
    if redrawn is not None:
        return redrawn
    problems = shape_problems(form)
    if problems:
        return page_again(actor, form, errors=field_errors(problems, form), status=422)
    body = form.body(draft=action == "draft")
    try:
        loaded = PostWriteSchema().load(body)
    except ValidationError as error:
        found = [(item["pointer"], item["detail"]) for item in request_errors({"json": error.messages})]
        return page_again(actor, form, errors=field_errors(found, form), status=422)
    idempotency = IdempotentRequest(form.key, COMPOSE_OPERATION, fingerprint(body)) if form.key else None
    try:
        post, _ = create_checked(services, actor, post_request(loaded), now=utcnow(), idempotency=idempotency)
    except InvalidInput as error:
        found = [(problem.pointer, problem.detail) for problem in error.problems] or [("", error.detail)]
        return page_again(
            actor, form, errors=field_errors(found, form), previews=_previews(actor, form), status=422
        )
    flash(_what_became_of(post.stage))
    flash_undescribed(services, actor, form)
    return redirect(url_for("dashboard.posts.post", post_id=post.id))


def flash_undescribed(services: Services, actor: Actor, form: ComposeForm) -> None:
    """Saved with media that have no alt text: said once more on the post's page, where the form has gone."""
    with services.sessions.begin() as session:
        without_alt = undescribed(session, actor.workspace_id, form.media)
    if without_alt:
        flash(
            f"Without alt text: {', '.join(without_alt)}. "
            "People who cannot see them will not know what they show."
        )


def redraw_for(
    services: Services, actor: Actor, form: ComposeForm, action: str, redraw: Callable[..., Any]
) -> Any | None:
    """The form's steps short of saving, shared with the edit page: a file chosen is uploaded and chosen,
    "Upload", "Add a reply" and "Check" draw the page again (`redraw`). None: go on and save the post."""
    # A file chosen is kept with whichever button is pressed, and chosen for the post: not lost to a refusal.
    upload = chosen_file(request.files.get("upload"))
    if upload is not None:
        try:
            uploaded = upload_from_form(services, actor, upload, form.upload_alt)
        except InvalidInput as error:
            refused = error.problems or [Problem("/file", error.detail)]
            return redraw(form, errors=upload_errors(refused), focus="upload", status=422)
        form.media.append(uploaded)
        form.upload_alt = ""
    if action == "upload":
        return redraw(form, focus=f"media-{form.media[-1]}" if upload else "upload")
    if action == "add_reply":
        form.thread.append("")
        return redraw(form, focus=f"thread-{len(form.thread) - 1}")
    if action == "check":
        return redraw(form, previews=_previews(actor, form), focus="preview")
    return None


def _what_became_of(stage: PostStage) -> str:
    if stage is PostStage.DRAFT:
        return "Saved as a draft: nothing goes out until it is submitted."
    if stage is PostStage.PENDING_APPROVAL:
        return "Sent for approval: it goes out once an approver approves it."
    return "Scheduled: it goes out at its time."


@compose_blp.post("/preview")
def preview_fragment() -> Any:
    """The previews part of the page alone, for compose.js to put in place as one types."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    form = ComposeForm.read(request.form)
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
    previews = _previews(actor, form)
    return render_template("dashboard/compose_preview.html", previews=previews)


@compose_blp.get("/media/<uuid:media_id>")
def media_thumbnail(media_id: uuid.UUID) -> Any:
    """An image of the workspace's library, as the compose form shows it beside its checkbox."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
    return thumbnail(get_services(), actor.workspace_id, media_id)


@dataclass(frozen=True)
class Previews:
    """The previews of the chosen channels, or why there are none; the media chosen, which each network's
    card shows under the post."""

    channels: list[ChannelPreview]
    problem: str | None = None
    media: list[LibraryItem] = field(default_factory=list)


def _previews(actor: Actor, form: ComposeForm) -> Previews:
    services = get_services()
    with services.sessions.begin() as session:
        channels = {str(channel.id): channel for channel in list_channels(session, actor.workspace_id)}
        media = chosen_media(session, actor.workspace_id, form.media)
    drafts = form.drafts(channels)
    if not drafts:
        return Previews([], "Choose a channel to see how each network will count the post.")
    try:
        return Previews(preview_drafts(services, actor.workspace_id, drafts), media=media)
    except InvalidInput as error:
        return Previews([], " ".join(problem.detail for problem in error.problems) or error.detail)


def chosen_media(session: Session, workspace_id: uuid.UUID, chosen: Sequence[str]) -> list[LibraryItem]:
    """The chosen assets of the workspace, in the order they go out; an id that is not one is left out (the
    post's own check names it beside the media)."""
    found = {item.id: item for item in library(session, workspace_id, chosen)}
    return [found[media_id] for media_id in chosen if media_id in found]


@dataclass(frozen=True)
class Editing:
    """The post the form changes (the edit page): its id and the version the form was drawn from; when
    someone changed it since, the post as it is now, and what the core said."""

    post_id: uuid.UUID
    version: int
    current: Post | None = None
    said: str = ""


def page_again(
    actor: Actor,
    form: ComposeForm,
    *,
    editing: Editing | None = None,
    errors: Mapping[str, str] | None = None,
    previews: Previews | None = None,
    focus: str | None = None,
    status: int = 200,
) -> Any:
    with get_services().sessions.begin() as session:
        return page(
            session,
            actor,
            form,
            editing=editing,
            errors=errors,
            previews=previews,
            focus=focus,
            status=status,
        )


def page(
    session: Session,
    actor: Actor,
    form: ComposeForm,
    *,
    editing: Editing | None = None,
    errors: Mapping[str, str] | None = None,
    previews: Previews | None = None,
    focus: str | None = None,
    status: int = 200,
) -> Any:
    every_channel = list_channels(session, actor.workspace_id)
    channels = [
        channel
        for channel in every_channel
        if channel.state is ChannelState.ACTIVE or str(channel.id) in form.channel_ids
    ]
    media_library = library(session, actor.workspace_id, form.media)
    html = render_template(
        "dashboard/compose.html",
        **chrome(session, actor),
        form=form,
        editing=editing,
        form_action=(
            url_for("dashboard.post_edit.save", post_id=editing.post_id)
            if editing
            else url_for("dashboard.compose.compose")
        ),
        channel_names={channel.id: channel.name for channel in every_channel},
        channels=channels,
        chosen=set(form.channel_ids),
        media_library=media_library,
        chosen_media=set(form.media),
        errors=errors or {},
        previews=previews,
        focus=focus,
        zones=zone_names(),
        can_publish=actor.can(Permission.PUBLISH),
        compose_key=form.key or uuid.uuid4(),
        recurrence_example=RECURRENCE_EXAMPLE,
    )
    return make_response(html, status)
