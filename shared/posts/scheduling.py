"""Scheduling a post with its text checked as each network counts it, a server's own limit included."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from shared.bootstrap import Services
from shared.errors import InvalidInput
from shared.networks.ports import Draft
from shared.posts.models import Post
from shared.posts.previewing import preview_draft
from shared.posts.services import schedule_post


def schedule_checked(
    services: Services,
    workspace_id: uuid.UUID,
    *,
    text: str,
    channel_ids: Sequence[uuid.UUID],
    scheduled_at: datetime | None,
    now: datetime,
) -> Post:
    """Schedule a post, refusing a text any channel's network would refuse, all problems at once.

    The texts are previewed first, outside the transaction, because a network may have to be asked (a
    Mastodon server's limit). A channel that cannot be previewed (its network does not answer, it needs
    reconnecting) does not block scheduling: its delivery waits, and the network has the last word.
    """
    try:
        previews = preview_draft(services, workspace_id, Draft(text=text), channel_ids)
    except InvalidInput:
        previews = []  # schedule_post names the unknown channels, with every other problem at once
    text_problems = {
        preview.channel_id: [problem for sent in preview.texts for problem in sent.problems]
        for preview in previews
        if preview.texts  # a network that could not be asked: its own check of the text alone
    }
    with services.sessions.begin() as session:
        return schedule_post(
            session,
            services.networks,
            workspace_id,
            text=text,
            channel_ids=channel_ids,
            scheduled_at=scheduled_at,
            now=now,
            text_problems=text_problems,
        )
