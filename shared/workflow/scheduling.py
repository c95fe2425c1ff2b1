"""Creating and editing posts with their texts checked as each network counts them, a server's own limit
included.

The texts are previewed first, outside the transaction, because a network may have to be asked (a
Mastodon instance announces its limit). A channel that cannot be previewed (its network does not answer,
it needs reconnecting) does not block scheduling: its delivery waits, and the network has the last word.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from shared.errors import InvalidInput, PreconditionFailed
from shared.idempotency.services import IdempotentRequest, find_or_reserve
from shared.posts.models import Post
from shared.posts.previewing import Previewing, preview_drafts
from shared.posts.requests import PostRequest
from shared.posts.services import get_post
from shared.workflow.services import create_post, update_post
from shared.workspaces.access import Actor


def create_checked(
    services: Previewing,
    actor: Actor,
    request: PostRequest,
    *,
    now: datetime,
    idempotency: IdempotentRequest | None = None,
    also: Callable[[Session, Post], None] | None = None,
) -> tuple[Post, bool]:
    """The new post, or with an Idempotency-Key already used for this request, the first one (True).

    `also` is called with the new post in the transaction that creates it: what must be kept exactly when
    the post is (an inbox item's link to its reply).
    """
    text_problems = _text_problems(services, actor.workspace_id, request)
    with services.sessions.begin() as session:
        key = find_or_reserve(session, actor.workspace_id, idempotency, now) if idempotency else None
        if key is not None and key.resource_id is not None:
            return get_post(session, actor.workspace_id, key.resource_id), True
        post = create_post(session, services.networks, actor, request, now=now, text_problems=text_problems)
        if also is not None:
            also(session, post)
        if key is not None:
            key.resource_id = post.id
        return post, False


def update_checked(
    services: Previewing,
    actor: Actor,
    post_id: uuid.UUID,
    request: PostRequest,
    *,
    expected_version: int | None,
    now: datetime,
) -> Post:
    text_problems = _text_problems(services, actor.workspace_id, request)
    try:
        with services.sessions.begin() as session:
            post = get_post(session, actor.workspace_id, post_id)
            return update_post(
                session,
                services.networks,
                actor,
                post,
                request,
                expected_version=expected_version,
                now=now,
                text_problems=text_problems,
            )
    except StaleDataError as error:
        # Someone's change committed between our read and our write: the version column caught it.
        raise PreconditionFailed(
            "Someone changed the post while you were changing it: fetch it again and reapply your change."
        ) from error


def _text_problems(
    services: Previewing, workspace_id: uuid.UUID, request: PostRequest
) -> dict[uuid.UUID, list[str]]:
    drafts = [(target.channel_id, request.draft_for(target)) for target in request.targets]
    try:
        previews = preview_drafts(services, workspace_id, drafts)
    except InvalidInput:
        return {}  # create_post names the unknown channels, with every other problem at once
    return {
        preview.channel_id: [problem for sent in preview.texts for problem in sent.problems]
        for preview in previews
        if preview.texts  # a network that could not be asked: its own check of the text alone
    }
