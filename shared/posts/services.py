"""Writing and scheduling posts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.deliveries.models import Delivery
from shared.errors import InvalidInput, NotFound, Problem
from shared.networks.ports import Draft
from shared.networks.registry import NetworkRegistry
from shared.posts.models import Post

# Clocks drift and requests take time: a time this recent counts as "now" rather than as a mistake.
PAST_TOLERANCE = timedelta(seconds=60)


def schedule_post(
    session: Session,
    networks: NetworkRegistry,
    workspace_id: uuid.UUID,
    *,
    text: str,
    channel_ids: Sequence[uuid.UUID],
    scheduled_at: datetime | None,
    now: datetime,
    text_problems: Mapping[uuid.UUID, Sequence[str]] | None = None,
) -> Post:
    """Create a post and one delivery per channel, due at `scheduled_at`, or now when it is None.

    The time, the channels and the text (against every channel's network) are checked first; nothing is
    stored when any check fails, and every problem is reported at once.
    """
    channels = {
        channel.id: channel
        for channel in session.scalars(
            select(Channel).where(Channel.workspace_id == workspace_id, Channel.id.in_(channel_ids))
        )
    }
    problems: list[Problem] = []
    if scheduled_at is not None and scheduled_at < now - PAST_TOLERANCE:
        problems.append(
            Problem("/scheduled_at", "The time is in the past. Omit scheduled_at to publish now.")
        )
    draft = Draft(text=text)
    seen: set[uuid.UUID] = set()
    for index, channel_id in enumerate(channel_ids):
        channel = channels.get(channel_id)
        if channel_id in seen:
            problems.append(
                Problem(f"/channel_ids/{index}", f"Channel {channel_id} is listed more than once.")
            )
        elif channel is None:
            problems.append(Problem(f"/channel_ids/{index}", f"There is no channel {channel_id} here."))
        else:
            # A preview's problems when the caller has them (they know a server's own limit), else the
            # network's own check of the text alone.
            known = (text_problems or {}).get(channel_id)
            for problem in known if known is not None else networks.get(channel.network).validate(draft):
                problems.append(Problem("/text", f"{channel.name} ({channel.network}): {problem}"))
        seen.add(channel_id)
    if problems:
        raise InvalidInput(problems)

    due_at = scheduled_at or now
    post = Post(workspace_id=workspace_id, text=text, scheduled_at=due_at)
    post.deliveries = [
        Delivery(channel=channels[channel_id], scheduled_at=due_at, due_at=due_at, attempts=[])
        for channel_id in channel_ids
    ]
    session.add(post)
    session.flush()
    return post


def get_post(session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID) -> Post:
    post = session.get(Post, post_id)
    if post is None or post.workspace_id != workspace_id:
        raise NotFound("post", post_id)
    return post
