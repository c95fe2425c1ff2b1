"""Threads' publishing quota: 250 posts and 1,000 replies per profile in a moving 24 hours (overview, "Rate
limiting"), read from `GET /{threads-user-id}/threads_publishing_limit?fields=quota_usage,config,
reply_quota_usage,reply_config` before anything is made, so that a used-up quota waits without creating a
container.

Meta says how much is used, not when the oldest post leaves the window, so a used-up quota is looked at again
in QUOTA_RECHECK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.networks.ports import RateLimited
from shared.networks.threads.channel import Channel
from shared.networks.threads.graph import Graph
from shared.networks.toolkit.answers import reading

QUOTA_RECHECK = timedelta(minutes=15)
FIELDS = "quota_usage,config,reply_quota_usage,reply_config"


def check_quota(
    graph: Graph, channel: Channel, *, posts: int, replies: int, now: Callable[[], datetime]
) -> None:
    """RateLimited when the profile has no room left for `posts` posts and `replies` replies."""
    answer = graph.read(
        f"{channel.user_id}/threads_publishing_limit", channel.access_token, {"fields": FIELDS}
    )
    with reading(graph.what, write=False):
        rows = answer["data"]
        usage: Mapping[str, Any] = rows[0] if rows else {}
    room = _room(usage.get("quota_usage"), usage.get("config"))
    reply_room = _room(usage.get("reply_quota_usage"), usage.get("reply_config"))
    if posts and room is not None and room < posts:
        raise RateLimited(
            f"Threads: the profile has published its {_total(usage.get('config'))} posts of the last 24 "
            "hours through the API; Crier waits for room",
            now() + QUOTA_RECHECK,
        )
    if replies and reply_room is not None and reply_room < replies:
        raise RateLimited(
            f"Threads: the profile has room for {reply_room} more replies in the last 24 hours "
            f"(of {_total(usage.get('reply_config'))}), and the thread needs {replies}; Crier waits for room",
            now() + QUOTA_RECHECK,
        )


def _room(used: object, config: object) -> int | None:
    """What is left of a quota, or None where the answer does not say (a field Meta left out)."""
    total = _total(config)
    if total is None or not isinstance(used, int) or isinstance(used, bool):
        return None
    return total - used


def _total(config: object) -> int | None:
    if not isinstance(config, Mapping):
        return None
    total = config.get("quota_total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None
