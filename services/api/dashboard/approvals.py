"""The dashboard's approvals: the posts waiting for an approver, approved or sent back with a comment
(POST /v1/posts/{id}/approve and /reject, the same workflow steps and request schemas), and for a member
whose posts need approval, their own posts waiting or sent back, with the approver's comment; for approvers,
the reviews done, from the audit log (a post's row keeps only its last review, the log keeps each), 50 at a
time back through the log, all of them or only one outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.pages import form_expired, refusal
from services.api.paging import Cursor, encode_cursor
from services.api.posts.schemas import RejectRequestSchema, ReviewRequestSchema
from shared.audit.models import AuditEntry
from shared.audit.services import list_entries
from shared.channels.services import list_channels
from shared.db import utcnow
from shared.posts.checking import check_version
from shared.posts.models import Post, PostState
from shared.posts.services import get_post
from shared.workflow import services as workflow
from shared.workflow.listing import PostFilter, list_posts
from shared.workspaces.access import Actor, Permission
from shared.workspaces.services import list_members

# Enough for any team's queue on one page; the oldest waiting post is the one most at risk of expiring.
SHOWN = 200
REVIEWS_SHOWN = 50
# The audit actions shared.workflow.services.approve and reject record, and how the history says each.
REVIEW_ACTIONS = {"post.approved": "Approved", "post.rejected": "Sent back"}
# The history's outcome filter: its values, and the actions each one lists.
OUTCOMES = {"approved": ("post.approved",), "rejected": ("post.rejected",)}
NOT_OUR_LINK = "That link to older reviews is not one this page gave out."
NO_COMMENT = "Say what the author should change: a post is sent back with a comment."

approvals_blp = Blueprint("approvals", __name__, url_prefix="/approvals")
answer_refusals(approvals_blp, lambda: url_for("dashboard.approvals.approvals"))


@approvals_blp.get("")
def approvals() -> Any:
    """The queue, the member's own posts, and the history: `outcome` filters it, `before` pages back."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        try:
            history = HistoryQuery.read(request.args)
        except ValidationError as error:
            return refusal(400, _said(error), back=url_for(".approvals"))
        return _page(session, actor, history=history)


def _waiting(session: Session, actor: Actor) -> list[Post]:
    pending = list_posts(
        session, actor.workspace_id, PostFilter(state=PostState.PENDING_APPROVAL), limit=SHOWN
    )
    return sorted(pending, key=lambda post: post.created_at)


def _own(session: Session, actor: Actor) -> list[Post]:
    """The member's own posts waiting for an approver or sent back, newest first."""
    return [
        post
        for state in (PostState.PENDING_APPROVAL, PostState.REJECTED)
        for post in list_posts(session, actor.workspace_id, PostFilter(state=state), limit=SHOWN)
        if post.author_id == actor.member_id
    ]


@dataclass(frozen=True)
class Review:
    """One approval or sending back: who, when, with what comment, of which post (None: since deleted)."""

    entry: AuditEntry
    post: Post | None

    @property
    def verdict(self) -> str:
        return REVIEW_ACTIONS[self.entry.action]

    @property
    def comment(self) -> str | None:
        comment: str | None = self.entry.detail.get("comment")
        return comment

    @property
    def at(self) -> datetime:
        return self.entry.at


@dataclass(frozen=True)
class HistoryQuery:
    """Which reviews the history shows: one outcome or all, and from where in the log (None: the newest)."""

    outcome: str = ""
    before: tuple[datetime, uuid.UUID] | None = None

    @classmethod
    def read(cls, args: MultiDict[str, str]) -> HistoryQuery:
        """The query string's `outcome` and `before`; a ValidationError for a value the page never offers."""
        outcome = args.get("outcome", "").strip()
        if outcome and outcome not in OUTCOMES:
            raise ValidationError(
                f"{outcome!r} is not an outcome the history filters by: approved or rejected."
            )
        before = args.get("before", "").strip()
        if not before:
            return cls(outcome)
        try:
            return cls(outcome, Cursor().deserialize(before))
        except ValidationError as error:
            raise ValidationError(NOT_OUR_LINK) from error

    @property
    def actions(self) -> tuple[str, ...]:
        return OUTCOMES.get(self.outcome, tuple(REVIEW_ACTIONS))


@dataclass(frozen=True)
class History:
    """One page of reviews, and the links to the newest and the next older page (None: no older one)."""

    query: HistoryQuery
    reviews: list[Review]
    newest: str
    older: str | None


def _reviewed(session: Session, actor: Actor, query: HistoryQuery) -> History:
    """A page of the workspace's reviews, newest first, as GET /v1/audit pages them (by time, then id)."""
    found = list_entries(
        session, actor.workspace_id, actions=query.actions, before=query.before, limit=REVIEWS_SHOWN + 1
    )
    entries = found[:REVIEWS_SHOWN]
    posts = _posts_by_id(session, actor.workspace_id, {entry.subject_id for entry in entries})
    filtered: dict[str, Any] = {"outcome": query.outcome} if query.outcome else {}
    older = None
    if len(found) > REVIEWS_SHOWN:
        before = encode_cursor(entries[-1].at, entries[-1].id)
        older = url_for(".approvals", **filtered, before=before, _anchor="reviewed")
    return History(
        query,
        [Review(entry, posts.get(entry.subject_id)) for entry in entries],
        newest=url_for(".approvals", **filtered, _anchor="reviewed"),
        older=older,
    )


def _posts_by_id(
    session: Session, workspace_id: uuid.UUID, post_ids: set[uuid.UUID]
) -> dict[uuid.UUID, Post]:
    # One query for the whole history rather than one get_post per line.
    found = session.scalars(select(Post).where(Post.workspace_id == workspace_id, Post.id.in_(post_ids)))
    return {post.id: post for post in found}


def _page(
    session: Session,
    actor: Actor,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
    history: HistoryQuery | None = None,
) -> Any:
    can_approve = actor.can(Permission.APPROVE)
    html = render_template(
        "dashboard/approvals.html",
        **chrome(session, actor),
        can_approve=can_approve,
        waiting=_waiting(session, actor) if can_approve else [],
        own=_own(session, actor) if actor.member_id is not None else [],
        history=_reviewed(session, actor, history or HistoryQuery()) if can_approve else None,
        outcomes={"": "Every outcome", "approved": "Approved", "rejected": "Sent back"},
        channel_names={channel.id: channel.name for channel in list_channels(session, actor.workspace_id)},
        member_names={member.id: member.name for member in list_members(session, actor.workspace_id)},
        errors=errors or {},
        entered=entered or {},
    )
    return make_response(html, status)


@approvals_blp.post("/<uuid:post_id>/approve")
def approve(post_id: uuid.UUID) -> Any:
    """Approve the post as it was shown (its version): a change made meanwhile is refused, not approved."""
    return _review(post_id, ReviewRequestSchema(), approving=True)


@approvals_blp.post("/<uuid:post_id>/reject")
def reject(post_id: uuid.UUID) -> Any:
    """Send the post back to its author; what to change is required."""
    return _review(post_id, RejectRequestSchema(), approving=False)


def _review(post_id: uuid.UUID, schema: Schema, *, approving: bool) -> Any:
    if not signin.csrf_token_is_valid():
        return form_expired()
    comment = request.form.get("comment", "")
    field = f"comment-{post_id}"
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.APPROVE)
        found = get_post(session, actor.workspace_id, post_id)
        try:
            if not approving and not comment.strip():
                raise ValidationError(NO_COMMENT)
            body = schema.load({"comment": comment.strip()} if comment.strip() else {})
        except ValidationError as error:
            return _page(session, actor, errors={field: _said(error)}, entered={field: comment}, status=422)
        check_version(found, _version())
        now = utcnow()
        if approving:
            workflow.approve(session, actor, found, comment=body["comment"], now=now)
        else:
            workflow.reject(session, actor, found, comment=body["comment"], now=now)
    flash("Approved: it is scheduled." if approving else "Sent back to its author with your comment.")
    return redirect(url_for(".approvals"))


def _said(error: ValidationError) -> str:
    messages = error.messages
    found = messages.values() if isinstance(messages, dict) else [messages]
    return " ".join(str(message) for listed in found for message in listed)


def _version() -> int | None:
    try:
        return int(request.form["version"])
    except (KeyError, ValueError):
        return None
