"""POST /v1/posts and GET /v1/posts/<id>."""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.context import get_services, get_workspace_id
from services.api.posts.schemas import PostCreateSchema, PostSchema
from shared.db import utcnow
from shared.posts.models import Post
from shared.posts.scheduling import schedule_checked
from shared.posts.services import get_post

blp = Blueprint("posts", __name__, url_prefix="/v1/posts", description="Write once, publish everywhere.")

LOCATION_HEADER = {"Location": {"description": "The new post's URL.", "schema": {"type": "string"}}}


@blp.route("")
class Posts(MethodView):
    @blp.arguments(PostCreateSchema)
    @blp.response(201, PostSchema, headers=LOCATION_HEADER)
    def post(self, body: dict[str, Any]) -> tuple[Post, dict[str, str]]:
        """Schedule a post on channels, at a time or now: one delivery per channel."""
        post = schedule_checked(get_services(), get_workspace_id(), now=utcnow(), **body)
        return post, {"Location": url_for(".PostById", post_id=post.id)}


@blp.route("/<uuid:post_id>")
class PostById(MethodView):
    @blp.response(200, PostSchema)
    def get(self, post_id: uuid.UUID) -> Post:
        """A post with each of its deliveries."""
        with get_services().sessions.begin() as session:
            return get_post(session, get_workspace_id(), post_id)
