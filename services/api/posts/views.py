"""Posts: write, schedule, approve, edit, cancel, publish now, duplicate."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.deliveries.schemas import ChangesAskedSchema
from services.api.etags import ETAG_HEADER, IF_MATCH_PARAMETER, etag_of, expected_version
from services.api.paging import page_of
from services.api.posts.schemas import (
    DeletePublishedSchema,
    EditPublishedSchema,
    PostChangeSchema,
    PostListSchema,
    PostQuerySchema,
    PostSchema,
    PostWriteSchema,
    RejectRequestSchema,
    ReviewRequestSchema,
    post_request,
)
from shared.db import Session, reading, utcnow
from shared.idempotency.services import IdempotentRequest, fingerprint
from shared.posts.checking import check_version
from shared.posts.models import Post
from shared.posts.requests import PostRequest
from shared.posts.services import get_post
from shared.workflow import services as workflow
from shared.workflow.listing import PostFilter, list_posts, read_post
from shared.workflow.published import ChangesAsked, delete_post_from_networks, edit_published_post
from shared.workflow.scheduling import create_checked, update_checked
from shared.workspaces.access import Actor, Permission

blp = Blueprint("posts", __name__, url_prefix="/v1/posts", description="Write once, publish everywhere.")

CREATED_HEADERS = {
    "Location": {"description": "The new post's URL.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when the Idempotency-Key was seen before: this is the first request's post.",
        "schema": {"type": "string"},
    },
    **ETAG_HEADER,
}
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": (
        "Any unique string (a UUID): a retry with the same key and body returns the first post instead of "
        "making a second. Kept 24 hours; the same key with another body is a 422."
    ),
}


@blp.route("")
class Posts(MethodView):
    @blp.arguments(PostQuerySchema, location="query")
    @blp.response(200, PostListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The workspace's posts, newest first, filtered by state, channel, label or time."""
        limit, after = query.pop("limit"), query.pop("cursor", None)
        with reading(get_services().sessions) as session:
            items = list_posts(
                session, get_actor().workspace_id, PostFilter(**query), after=after, limit=limit + 1
            )
        return page_of(items, limit, key=lambda post: (post.created_at, post.id))

    @requires(Permission.DRAFT)
    @blp.arguments(PostWriteSchema)
    @blp.response(201, PostSchema, headers=CREATED_HEADERS)
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    def post(self, body: dict[str, Any]) -> tuple[Post, dict[str, str]]:
        """Write a post: scheduled, a draft, or (when your role needs it) waiting for approval.

        One delivery is made per channel once it is scheduled.
        """
        key = request.headers.get("Idempotency-Key")
        idempotency = (
            IdempotentRequest(key, "posts.create", fingerprint(request.get_json(silent=True)))
            if key
            else None
        )
        post, replayed = create_checked(
            get_services(), get_actor(), post_request(body), now=utcnow(), idempotency=idempotency
        )
        headers = {"Location": url_for(".PostById", post_id=post.id), "ETag": etag_of(post.version)}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return post, headers


@blp.route("/<uuid:post_id>")
class PostById(MethodView):
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """A post with each of its deliveries."""
        with reading(get_services().sessions) as session:
            post = read_post(session, get_actor().workspace_id, post_id)
        return post, {"ETag": etag_of(post.version)}

    @requires(Permission.DRAFT)
    @blp.arguments(PostChangeSchema(partial=True))
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def patch(self, body: dict[str, Any], post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Change a post's text, channels, variants, media, labels or time; a scheduled one is rescheduled.

        A scheduled post changed by a member whose posts need approval (a contributor) goes back to
        `pending_approval`, its deliveries withdrawn: only what an approver saw goes out. Send the ETag you
        read as If-Match: when someone changed the post since, the answer is 412.
        """
        services, actor = get_services(), get_actor()
        with services.sessions.begin() as session:
            current = PostRequest.of(get_post(session, actor.workspace_id, post_id))
        changed = _merge(current, body)
        post = update_checked(
            services, actor, post_id, changed, expected_version=expected_version(), now=utcnow()
        )
        return post, {"ETag": etag_of(post.version)}

    @requires(Permission.DRAFT)
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def delete(self, post_id: uuid.UUID) -> None:
        """Delete a post that was never scheduled (a draft, a rejected or expired post)."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            post = get_post(session, actor.workspace_id, post_id)
            check_version(post, expected_version())
            workflow.delete_post(session, actor, post)


def _merge(current: PostRequest, body: dict[str, Any]) -> PostRequest:
    """The post's request with the PATCH's fields over it, read the way a new post's would be."""
    given = dict(body)
    base = {
        "text": current.text,
        "thread": list(current.thread),
        "media": list(current.media),
        "channels": [dataclasses.asdict(target) for target in current.targets],
        "labels": list(current.labels),
        "timezone": current.timezone,
        "scheduled_at": current.scheduled_at,
        "queue": ("last" if current.timing.value == "queue" else None),
        "recurrence": {"rule": current.recurrence_rule} if current.recurrence_rule else None,
        "draft": current.draft,
    }
    if "channel_ids" in given:
        given["channels"] = [{"channel_id": channel_id} for channel_id in given.pop("channel_ids")]
    # Choosing one way of timing clears the others.
    if "queue" in given or "recurrence" in given or "scheduled_at" in given:
        base.update(queue=None, recurrence=None, scheduled_at=None)
    if given.get("queue"):
        given.pop("scheduled_at", None)
    return post_request({**base, **given})


@blp.route("/<uuid:post_id>/submit")
class SubmitPost(MethodView):
    @requires(Permission.DRAFT)
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Submit a draft or rejected post: scheduled when you may publish, otherwise sent for approval."""
        return _step(post_id, partial(workflow.submit, now=utcnow()))


@blp.route("/<uuid:post_id>/approve")
class ApprovePost(MethodView):
    @requires(Permission.APPROVE)
    @blp.arguments(ReviewRequestSchema)
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def post(self, body: dict[str, Any], post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Approve a post pending approval, with an optional comment: it is scheduled.

        Send the ETag of the post you read as If-Match: when its author changed it since, the answer is
        412 and you approve nothing you have not seen.
        """
        version = expected_version()

        def approve_as_read(session: Session, actor: Actor, post: Post) -> Post:
            check_version(post, version)
            return workflow.approve(session, actor, post, comment=body["comment"], now=utcnow())

        return _step(post_id, approve_as_read)


@blp.route("/<uuid:post_id>/reject")
class RejectPost(MethodView):
    @requires(Permission.APPROVE)
    @blp.arguments(RejectRequestSchema)
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any], post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Send a post back to its author with what to change."""
        return _step(post_id, partial(workflow.reject, comment=body["comment"], now=utcnow()))


@blp.route("/<uuid:post_id>/cancel")
class CancelPost(MethodView):
    @requires(Permission.DRAFT)
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Withdraw a post: what has not gone out is cancelled, and its queue slots are freed."""
        return _step(post_id, partial(workflow.cancel_post, now=utcnow()))


@blp.route("/<uuid:post_id>/publish-now")
class PublishPostNow(MethodView):
    @requires(Permission.PUBLISH)
    @blp.response(200, PostSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Publish now: every delivery still waiting for its time goes out at once."""
        return _step(post_id, partial(workflow.publish_now, now=utcnow()))


@blp.route("/<uuid:post_id>/duplicate")
class DuplicatePost(MethodView):
    @requires(Permission.DRAFT)
    @blp.response(201, PostSchema, headers=CREATED_HEADERS)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, post_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """A new draft with the same text, thread, channels, variants and labels, and no time."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            copy = workflow.duplicate_post(session, actor, get_post(session, actor.workspace_id, post_id))
        return copy, {"Location": url_for(".PostById", post_id=copy.id), "ETag": etag_of(copy.version)}


def _step(post_id: uuid.UUID, act: Callable[[Session, Actor, Post], object]) -> tuple[Post, dict[str, str]]:
    """One workflow step on a post, in one transaction; the post as it now is, with its new ETag."""
    actor = get_actor()
    with get_services().sessions.begin() as session:
        post = get_post(session, actor.workspace_id, post_id)
        act(session, actor, post)
    return post, {"ETag": etag_of(post.version)}


@blp.route("/<uuid:post_id>/delete-published")
class DeletePublishedPost(MethodView):
    @requires(Permission.PUBLISH)
    @blp.arguments(DeletePublishedSchema)
    @blp.response(202, ChangesAskedSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any], post_id: uuid.UUID) -> ChangesAsked:
        """Delete the published post from its networks (every part of a thread), once, by a worker.

        Each delivery gets a change to follow in GET /v1/deliveries/{id}; done, the delivery is `deleted`
        and its metrics stop. Networks that cannot delete are listed under `skipped`.
        """
        return delete_post_from_networks(
            get_services(), get_actor(), post_id, channel_ids=body.get("channel_ids"), now=utcnow()
        )


@blp.route("/<uuid:post_id>/edit-published")
class EditPublishedPost(MethodView):
    @requires(Permission.PUBLISH)
    @blp.arguments(EditPublishedSchema)
    @blp.response(202, ChangesAskedSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, body: dict[str, Any], post_id: uuid.UUID) -> ChangesAsked:
        """Change the published post's text on the networks that allow it (GET /v1/networks: can_edit).

        The text is checked as each network counts it, becomes the channels' text of the post, and is sent
        once by a worker; networks that cannot edit are listed under `skipped`.
        """
        return edit_published_post(
            get_services(),
            get_actor(),
            post_id,
            text=body["text"],
            channel_ids=body.get("channel_ids"),
            now=utcnow(),
        )
