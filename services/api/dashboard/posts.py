"""A post's page in the dashboard: its text and variants, its state, each delivery (state, URL, error,
attempts), and the steps a person takes on it, each a form calling what the API's endpoint calls.

Cancel, publish now and submit are POST /v1/posts/{id}/…'s workflow steps; retry and resolve are
POST /v1/deliveries/{id}/…'s; "delete on the networks" is POST /v1/posts/{id}/delete-published, and "edit on
the networks" POST /v1/posts/{id}/edit-published (both shared.workflow.published, so the same checks, the
same audit entry and the same permission).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.pages import form_expired
from services.api.dashboard.post_metrics import read_post_metrics, shown_or_not_given
from services.api.deliveries.schemas import Resolution, ResolveSchema
from services.api.posts.schemas import EditPublishedSchema
from services.api.problems import request_errors
from shared.channels.services import list_channels
from shared.db import utcnow
from shared.deliveries.models import ChangeState, Delivery, DeliveryChange, DeliveryState
from shared.deliveries.services import get_delivery, mark_published, republish_delivery, retry_delivery
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from shared.posts.models import Post, PostStage
from shared.posts.services import get_post
from shared.timezones import stored_zone
from shared.workflow import services as workflow
from shared.workflow.published import delete_post_from_networks, edit_published_post, why_not_editable
from shared.workflow.services import check_may_edit
from shared.workflow.states import post_state
from shared.workspaces.access import Actor, Permission

# What a person may ask again of a delivery that ended without going out.
RETRIABLE = frozenset({DeliveryState.FAILED, DeliveryState.MISSED, DeliveryState.CANCELLED})
# The edit form's one field: named apart from compose's `text` so an error beside it is unambiguous.
EDIT_FIELD = "published_text"

posts_blp = Blueprint("posts", __name__, url_prefix="/posts")


def _back() -> str:
    post_id = (request.view_args or {}).get("post_id")
    return url_for(".post", post_id=post_id) if post_id else url_for("dashboard.dashboard")


answer_refusals(posts_blp, _back)


@posts_blp.get("/<uuid:post_id>")
def post(post_id: uuid.UUID) -> Any:
    """The post, what became of it on each channel, and what can be done about it."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        return _page(session, actor, get_post(session, actor.workspace_id, post_id))


def _page(
    session: Session,
    actor: Actor,
    found: Post,
    *,
    errors: dict[str, str] | None = None,
    entered: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    names = {channel.id: channel.name for channel in list_channels(session, actor.workspace_id)}
    state = post_state(found)
    unscheduled = found.stage in {PostStage.DRAFT, PostStage.PENDING_APPROVAL, PostStage.REJECTED}
    waiting = any(delivery.state in DeliveryState.waiting() for delivery in found.deliveries)
    zone = stored_zone(found.timezone)
    try:
        check_may_edit(actor, found)
        can_edit = actor.can(Permission.DRAFT)
    except (Conflict, Forbidden):
        can_edit = False
    out_there = [delivery for delivery in found.deliveries if _on_its_network(delivery)]
    editable = [delivery for delivery in out_there if why_not_editable(get_services(), delivery) is None]
    html = render_template(
        "dashboard/post.html",
        **chrome(session, actor),
        post=found,
        state=state,
        zone=zone,
        channel_names=names,
        can_publish=actor.can(Permission.PUBLISH),
        can_draft=actor.can(Permission.DRAFT),
        can_edit=can_edit,
        # The buttons the services would not refuse: a scheduled post is withdrawn only by those who
        # may publish, and only while something of it still waits.
        can_cancel=unscheduled or (waiting and actor.can(Permission.PUBLISH)),
        can_publish_now=unscheduled or waiting,
        can_submit=found.stage in {PostStage.DRAFT, PostStage.REJECTED},
        on_the_networks=any(delivery.state is DeliveryState.PUBLISHED for delivery in found.deliveries),
        editable=editable,
        not_editable=[
            (delivery, why_not_editable(get_services(), delivery))
            for delivery in out_there
            if delivery not in editable
        ],
        # The text the networks show now: the channel's text of the post, which an edit changes.
        published_text=found.draft_for(editable[0].channel_id).text if editable else found.text,
        edit_field=EDIT_FIELD,
        change_said=change_said,
        retriable=RETRIABLE,
        metrics=read_post_metrics(session, actor.workspace_id, found, zone, utcnow()),
        shown_or_not_given=shown_or_not_given,
        errors=errors or {},
        entered=entered or {},
    )
    return make_response(html, status)


def _step(
    post_id: uuid.UUID, needs: Permission, act: Callable[[Session, Actor, Post], object], done: str
) -> Any:
    """One workflow step on the post, in one transaction, then back to its page saying what happened."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, needs)
        act(session, actor, get_post(session, actor.workspace_id, post_id))
    flash(done)
    return redirect(url_for(".post", post_id=post_id))


@posts_blp.post("/<uuid:post_id>/cancel")
def cancel(post_id: uuid.UUID) -> Any:
    return _step(
        post_id,
        Permission.DRAFT,
        lambda session, actor, found: workflow.cancel_post(session, actor, found, now=utcnow()),
        "Cancelled: what had not gone out will not.",
    )


@posts_blp.post("/<uuid:post_id>/publish-now")
def publish_now(post_id: uuid.UUID) -> Any:
    return _step(
        post_id,
        Permission.PUBLISH,
        lambda session, actor, found: workflow.publish_now(session, actor, found, now=utcnow()),
        "Publishing now: every delivery still waiting goes out at once.",
    )


@posts_blp.post("/<uuid:post_id>/submit")
def submit(post_id: uuid.UUID) -> Any:
    return _step(
        post_id,
        Permission.DRAFT,
        lambda session, actor, found: workflow.submit(session, actor, found, now=utcnow()),
        "Submitted: scheduled, or sent for approval when your role needs it.",
    )


@posts_blp.post("/<uuid:post_id>/delete-published")
def delete_published(post_id: uuid.UUID) -> Any:
    """Delete what went out from each network, once, by a worker (the networks that cannot are named)."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.PUBLISH)
    asked = delete_post_from_networks(services, actor, post_id, channel_ids=None, now=utcnow())
    said = f"Deleting from {len(asked.changes)} network{'s' if len(asked.changes) != 1 else ''}."
    if asked.skipped:
        said += " Not deleted where the network cannot: " + "; ".join(
            str(skipped.reason) for skipped in asked.skipped
        )
    flash(said)
    return redirect(url_for(".post", post_id=post_id))


@posts_blp.post("/<uuid:post_id>/edit-published")
def edit_published(post_id: uuid.UUID) -> Any:
    """Give the published post a new text on the networks that allow edits, once, by a worker.

    The form's text goes through the API's own schema, then to the function POST /v1/posts/{id}/edit-published
    calls: a text a network would refuse, or a post with nothing left to edit, is an error beside the field.
    """
    if not signin.csrf_token_is_valid():
        return form_expired()
    typed = request.form.get("text", "")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.PUBLISH)
    try:
        try:
            body = EditPublishedSchema().load({"text": typed})
        except ValidationError as invalid:
            raise InvalidInput(
                [
                    Problem(item["pointer"], item["detail"])
                    for item in request_errors({"json": invalid.messages})
                ]
            ) from invalid
        asked = edit_published_post(
            services, actor, post_id, text=body["text"], channel_ids=None, now=utcnow()
        )
    except (InvalidInput, Conflict) as refused:
        problems = refused.problems if isinstance(refused, InvalidInput) else []
        detail = " ".join(problem.detail for problem in problems) or refused.detail
        with services.sessions.begin() as session:
            found = get_post(session, actor.workspace_id, post_id)
            return _page(
                session,
                actor,
                found,
                errors={EDIT_FIELD: detail},
                entered={EDIT_FIELD: typed},
                status=409 if isinstance(refused, Conflict) else 422,
            )
    said = f"Editing on {len(asked.changes)} network{'s' if len(asked.changes) != 1 else ''}."
    if asked.skipped:
        said += (
            " Not edited where the network cannot: " + "; ".join(skip.reason for skip in asked.skipped) + "."
        )
    flash(said)
    return redirect(url_for(".post", post_id=post_id) + "#deliveries")


def _on_its_network(delivery: Delivery) -> bool:
    """Something of the delivery is on its network (what shared.workflow.published edits or deletes)."""
    return delivery.state is not DeliveryState.DELETED and bool(delivery.external_id or delivery.parts)


def change_said(change: DeliveryChange) -> str:
    """A change to a published delivery as the post page says it: pending, applied, or failed and why."""
    kind = "edit" if change.kind.value == "edit" else "deletion"
    if change.state in ChangeState.active():
        return f"{kind} pending"
    if change.state is ChangeState.DONE:
        return f"{kind} applied"
    why = f": {change.last_error}" if change.last_error else ""
    if change.state is ChangeState.NEEDS_REVIEW:
        return f"{kind} needs a person to look{why}"
    return f"{kind} failed{why}"


@posts_blp.post("/<uuid:post_id>/deliveries/<uuid:delivery_id>/retry")
def retry(post_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
    """Try a failed, missed or cancelled delivery again, now (POST /v1/deliveries/{id}/retry)."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.PUBLISH)
        _delivery_of(session, actor, post_id, delivery_id)
        retry_delivery(session, actor.workspace_id, delivery_id, now=utcnow())
    flash("Retrying: it goes out now.")
    return redirect(url_for(".post", post_id=post_id))


@posts_blp.post("/<uuid:post_id>/deliveries/<uuid:delivery_id>/resolve")
def resolve(post_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
    """Settle a delivery the network could not vouch for: it is there (at a URL), or send it again."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    body = {"outcome": request.form.get("outcome", "")}
    if request.form.get("url", "").strip():
        body["url"] = request.form["url"].strip()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.PUBLISH)
        _delivery_of(session, actor, post_id, delivery_id)
        try:
            resolution = ResolveSchema().load(body)
        except ValidationError as error:
            detail = " ".join(item["detail"] for item in request_errors({"json": error.messages}))
            found = get_post(session, actor.workspace_id, post_id)
            return _page(
                session,
                actor,
                found,
                errors={f"url-{delivery_id}": detail},
                entered={f"url-{delivery_id}": request.form.get("url", "")},
                status=422,
            )
        now = utcnow()
        if resolution["outcome"] is Resolution.PUBLISHED:
            mark_published(
                session, actor.workspace_id, delivery_id, url=resolution["url"], external_id=None, now=now
            )
            flash("Marked as published.")
        else:
            republish_delivery(session, actor.workspace_id, delivery_id, now=now)
            flash("Sending it again.")
    return redirect(url_for(".post", post_id=post_id))


def _delivery_of(session: Session, actor: Actor, post_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    """The delivery must be this post's: a form for one post acts on no other's."""
    delivery = get_delivery(session, actor.workspace_id, delivery_id)
    if delivery.post_id != post_id:
        raise NotFound("delivery", delivery_id)
