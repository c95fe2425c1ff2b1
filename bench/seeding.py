"""Many deliveries at once for the benchmarks: bulk inserts, not one schedule_post per delivery."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from shared.channels.models import Channel
from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post
from shared.workspaces.models import Workspace


def seed_deliveries(
    sessions: sessionmaker[Session],
    count: int,
    due_at: Callable[[int], datetime],
    *,
    channels: int = 10,
    sandbox_options: Mapping[str, Any] | None = None,
) -> list[uuid.UUID]:
    """`count` sandbox deliveries, the i-th due at `due_at(i)`, spread over `channels` channels."""
    with sessions.begin() as session:
        workspace = Workspace(name=f"bench {uuid.uuid4().hex[:8]}")
        session.add(workspace)
        session.flush()
        channel_ids = [uuid.uuid4() for _ in range(channels)]
        session.execute(
            insert(Channel),
            [
                {
                    "id": channel_id,
                    "workspace_id": workspace.id,
                    "network": "sandbox",
                    "name": f"bench {number}",
                    "handle": f"bench_{number}",
                    "settings": dict(sandbox_options or {}),
                }
                for number, channel_id in enumerate(channel_ids)
            ],
        )
        # One post may not have two deliveries on one channel: each delivery gets a post of its own.
        rows = [(uuid.uuid4(), uuid.uuid4(), due_at(index)) for index in range(count)]
        session.execute(
            insert(Post),
            [
                {"id": post_id, "workspace_id": workspace.id, "text": f"bench {index}", "scheduled_at": due}
                for index, (post_id, _, due) in enumerate(rows)
            ],
        )
        session.execute(
            insert(Delivery),
            [
                {
                    "id": delivery_id,
                    "post_id": post_id,
                    "channel_id": channel_ids[index % channels],
                    "scheduled_at": due,
                    "due_at": due,
                    "state": DeliveryState.SCHEDULED,
                }
                for index, (post_id, delivery_id, due) in enumerate(rows)
            ],
        )
    return [delivery_id for _, delivery_id, _ in rows]
