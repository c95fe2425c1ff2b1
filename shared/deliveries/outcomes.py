"""What a network's answer means for a delivery's columns: published, retried after a backoff, or given up.

Shared by the publish attempts (shared.deliveries.attempts), the checks of uncertain deliveries
(shared.deliveries.reconciling) and the changes to published ones (shared.deliveries.changes).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.deliveries.models import DeliveryState
from shared.networks.ports import Draft, NetworkError, PublishedPart, PublishedPost
from shared.wording import counted

RATE_LIMIT_DEFAULT_WAIT = timedelta(seconds=60)
RETRY_BACKOFF_CAP = timedelta(minutes=10)


def published_values(post: PublishedPost, *, fallback: datetime) -> dict[str, object]:
    """The columns of a delivery found published; `fallback` dates a post whose network gives no time."""
    # The network's own time of the post where it gives one: the time Crier sent it is only an estimate.
    published_at = post.created_at or fallback
    return {
        "external_id": post.external_id,
        "external_url": post.url,
        "published_at": published_at,
        "last_error": None,
        # From now on the metrics collector looks at it; its schedule says when it reads the counts.
        "metrics_due_at": published_at,
    }


def after_failure(
    failures_before: int,
    error: str,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None,
    *,
    out_there: bool = False,
) -> tuple[DeliveryState, dict[str, object]]:
    """A failure the network says did not publish anything (more): retry after a backoff, or give up.

    Giving up on a delivery with parts on the network is not a failure: a person reviews what is there.
    """
    gave_up, values = retry_or_give_up(failures_before, error, now, max_attempts, rng)
    if not gave_up:
        return DeliveryState.RETRY_WAIT, values
    return DeliveryState.NEEDS_REVIEW if out_there else DeliveryState.FAILED, values


def retry_or_give_up(
    failures_before: int, error: str, now: datetime, max_attempts: int, rng: random.Random | None
) -> tuple[bool, dict[str, object]]:
    """One more failure: the columns of a retry after a backoff, or (True) of giving up, attempts used up.

    A delivery's attempts and a change to a published one count their failures alike.
    """
    failures = failures_before + 1
    if failures >= max_attempts:
        return True, {
            "failures": failures,
            "last_error": f"Gave up after {counted(failures, 'attempt')}. Last error: {error}",
        }
    return False, {
        "failures": failures,
        "due_at": now + retry_delay(failures, rng or random.Random()),
        "last_error": error,
    }


def retry_delay(failures: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, so retries of many deliveries do not arrive together."""
    base = min(timedelta(seconds=5 * 2 ** (failures - 1)), RETRY_BACKOFF_CAP)
    return base * rng.uniform(0.5, 1.5)


def describe_error(error: NetworkError) -> str:
    """The error as last_error says it: its message, or its kind when it has none."""
    return str(error) or type(error).__name__


def parts_out_there(parts: Sequence[PublishedPart], draft: Draft | None) -> str:
    """`The post and 1 of 3 thread replies are on the network (url, url).`"""
    replies = len(parts) - 1
    of = f" of {len(draft.thread)}" if draft is not None else ""
    reply_word = "reply" if replies == 1 and not of else "replies"
    addresses = ", ".join(part.url or part.external_id for part in parts)
    return f"The post and {replies}{of} thread {reply_word} are on the network ({addresses})."
