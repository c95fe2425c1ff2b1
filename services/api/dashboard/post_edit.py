"""Editing a post from its page: the compose form filled from the post, saved as PATCH /v1/posts/{id} saves
it (update_checked), with the version the form was drawn from as its If-Match.

When someone changed the post since, nothing is overwritten: the page shows the post as it is now beside
what was typed (412), and saving again is a person's choice. A post the core will not change (some of its
deliveries started, or it was cancelled) is refused in the core's words, before anything is typed.
"""

from __future__ import annotations

import dataclasses
import uuid
from functools import partial
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from marshmallow import ValidationError

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals
from services.api.dashboard.compose import (
    ComposeForm,
    Editing,
    field_errors,
    flash_undescribed,
    page,
    page_again,
    redraw_for,
    shape_problems,
)
from services.api.dashboard.pages import form_expired
from services.api.posts.schemas import PostWriteSchema, post_request
from services.api.problems import request_errors
from shared.db import utcnow
from shared.errors import InvalidInput, PreconditionFailed
from shared.posts.models import Post, PostStage, Timing
from shared.posts.requests import PostRequest
from shared.posts.services import get_post
from shared.timezones import stored_zone
from shared.workflow.scheduling import update_checked
from shared.workflow.services import check_may_edit
from shared.workspaces.access import Permission

# The datetime-local field's form: minutes, as the compose form shows them.
LOCAL_MINUTES = "%Y-%m-%dT%H:%M"
TIMING_FIELD = {Timing.QUEUE: "queue", Timing.RECURRENCE: "recurrence"}

post_edit_blp = Blueprint("post_edit", __name__, url_prefix="/posts")


def _back() -> str:
    return url_for("dashboard.posts.post", post_id=(request.view_args or {}).get("post_id"))


answer_refusals(post_edit_blp, _back)


def form_of(post: Post) -> ComposeForm:
    """The compose form as the post is (PostRequest.of): what saving it unchanged would ask for."""
    asked = PostRequest.of(post)
    at = _shown_time(asked)
    return ComposeForm(
        text=asked.text,
        channel_ids=[str(target.channel_id) for target in asked.targets],
        variants={str(target.channel_id): target.text or "" for target in asked.targets},
        thread=[*asked.thread, ""],
        labels=", ".join(asked.labels),
        timing=TIMING_FIELD.get(asked.timing, "at" if at else "now"),
        at=at,
        timezone=asked.timezone,
        rule=asked.recurrence_rule or "",
        media=[str(media_id) for media_id in asked.media],
    )


def _shown_time(asked: PostRequest) -> str:
    if asked.scheduled_at is None:
        return ""
    return asked.scheduled_at.astimezone(stored_zone(asked.timezone)).strftime(LOCAL_MINUTES)


def keep_what_the_form_does_not_show(changed: PostRequest, before: PostRequest) -> PostRequest:
    """The form has no field for a channel's own thread, options or media, nor for what a reply answers:
    those stay as they were, as a PATCH that does not name them leaves them. Nor has it seconds: a time
    left as the form showed it keeps the seconds it had, so that saving a post due this very minute does not
    move it back to the minute's start, which the core would then refuse as past."""
    targets_before = {target.channel_id: target for target in before.targets}
    targets = [
        dataclasses.replace(
            target,
            thread=targets_before[target.channel_id].thread,
            options=targets_before[target.channel_id].options,
            media=targets_before[target.channel_id].media,
        )
        if target.channel_id in targets_before
        else target
        for target in changed.targets
    ]
    scheduled_at = changed.scheduled_at
    if (
        changed.timing is before.timing
        and changed.timezone == before.timezone
        and _shown_time(changed) == _shown_time(before)
    ):
        scheduled_at = before.scheduled_at
    return dataclasses.replace(changed, targets=targets, reply_to=before.reply_to, scheduled_at=scheduled_at)


@post_edit_blp.get("/<uuid:post_id>/edit")
def edit_form(post_id: uuid.UUID) -> Any:
    """The compose form filled from the post, when the core would let the signed-in member change it."""
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        found = get_post(session, actor.workspace_id, post_id)
        check_may_edit(actor, found)
        return page(session, actor, form_of(found), editing=Editing(found.id, found.version))


@post_edit_blp.post("/<uuid:post_id>/edit")
def save(post_id: uuid.UUID) -> Any:
    """Save the form over the post, unless someone changed it since the form was drawn."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    form = ComposeForm.read(request.form)
    action = request.form.get("action", "save")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        found = get_post(session, actor.workspace_id, post_id)
        check_may_edit(actor, found)
        before = PostRequest.of(found)
    version = request.form.get("version", "")
    # A form without its version is saved over whatever is there, as a PATCH without If-Match is.
    editing = Editing(post_id, int(version)) if version.isdigit() else Editing(post_id, found.version)
    redraw = partial(page_again, actor, editing=editing)
    redrawn = redraw_for(services, actor, form, action, redraw)
    if redrawn is not None:
        return redrawn
    problems = shape_problems(form)
    if problems:
        return redraw(form, errors=field_errors(problems, form), status=422)
    try:
        loaded = PostWriteSchema().load(form.body(draft=before.draft))
    except ValidationError as error:
        found_problems = [
            (item["pointer"], item["detail"]) for item in request_errors({"json": error.messages})
        ]
        return redraw(form, errors=field_errors(found_problems, form), status=422)
    changed = keep_what_the_form_does_not_show(post_request(loaded), before)
    try:
        saved = update_checked(
            services,
            actor,
            post_id,
            changed,
            expected_version=editing.version if version.isdigit() else None,
            now=utcnow(),
        )
    except InvalidInput as error:
        found_problems = [(problem.pointer, problem.detail) for problem in error.problems] or [
            ("", error.detail)
        ]
        return redraw(form, errors=field_errors(found_problems, form), status=422)
    except PreconditionFailed as error:
        with services.sessions.begin() as session:
            now_found = get_post(session, actor.workspace_id, post_id)
            # Drawn from the post as it is now: saving again is a choice made after seeing it.
            changed_meanwhile = Editing(post_id, now_found.version, current=now_found, said=error.detail)
            return page(session, actor, form, editing=changed_meanwhile, status=412)
    flash(f"Saved: the post now says what you wrote. {_what_became_of(saved.stage)}")
    flash_undescribed(services, actor, form)
    return redirect(url_for("dashboard.posts.post", post_id=post_id))


def _what_became_of(stage: PostStage) -> str:
    if stage is PostStage.DRAFT:
        return "It is still a draft."
    if stage is PostStage.PENDING_APPROVAL:
        return "It waits for an approver, who sees it as it is now."
    if stage is PostStage.REJECTED:
        return "It is still rejected: submit it again once it is right."
    return "It goes out at its time."
