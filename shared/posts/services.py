"""Reading a post. What people do with posts (write, submit, approve, schedule, cancel…) is
shared.workflow, above the deliveries it makes and cancels."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from shared.posts.models import Post
from shared.workspaces.services import get_in_workspace


def get_post(session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    return get_in_workspace(session, Post, workspace_id, post_id, "post")
