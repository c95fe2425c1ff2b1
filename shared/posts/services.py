"""Reading a post. What people do with posts (write, submit, approve, schedule, cancel…) is
shared.workflow, above the deliveries it makes and cancels."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from shared.errors import NotFound
from shared.posts.models import Post


def get_post(session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    post = session.get(Post, post_id)
    if post is None or post.workspace_id != workspace_id:
        raise NotFound("post", post_id)
    return post
