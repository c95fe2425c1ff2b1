"""Reading published posts' counts: in batches where a server offers it, else one post at a time; and an
account's own counts from the answer that holds them.

A server that answers a batch read with 404, 405, 501 or another refusal that is not about the credentials
or the pace has no such read: its posts are read one at a time from then on, and the adapter remembers that
for the server while its process runs (docs/networks.md, "Metrics").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.networks.ports import Audience, Engagement, PostGone
from shared.networks.toolkit.answers import reading

# Posts by id, as the network shows them; a post left out is one it did not show.
Posts = Mapping[str, Mapping[str, Any]]


class BatchReads:
    """The servers that refused a batch read for want of it, while this process runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: set[str] = set()

    def offered_by(self, server: str) -> bool:
        with self._lock:
            return server not in self._refused

    def refused_by(self, server: str) -> None:
        with self._lock:
            self._refused.add(server)


def counts_in_batches(
    ids: Sequence[str],
    *,
    batch_size: int,
    read_batch: Callable[[list[str]], Posts | None],
    read_each: Callable[[list[str]], Posts],
    engagement: Callable[[Mapping[str, Any]], Engagement],
    missing: Callable[[str], Engagement | PostGone],
    what: str,
) -> dict[str, Engagement | PostGone]:
    """Each post's counts, `batch_size` posts a request (`read_batch`; None where the server has no batch
    read, and then `read_each`); a post the network did not show is what `missing` makes of it."""
    result: dict[str, Engagement | PostGone] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        seen = read_batch(chunk)
        if seen is None:
            seen = read_each(chunk)
        for post_id in chunk:
            post = seen.get(post_id)
            if post is None:
                result[post_id] = missing(post_id)
                continue
            with reading(what, write=False):
                result[post_id] = engagement(post)
    return result


def audience_from(
    answer: Mapping[str, Any], *, followers: str, following: str, posts: str, **raw: str
) -> Audience:
    """The account's counts from the answer's fields of these names, `raw` kept beside them; a field that
    is not a whole number is left unsaid, which is not zero."""
    counts = {key: answer[key] for key in (followers, following, posts) if isinstance(answer.get(key), int)}
    return Audience(
        followers=counts.get(followers),
        following=counts.get(following),
        posts=counts.get(posts),
        raw={**raw, **counts},
    )
