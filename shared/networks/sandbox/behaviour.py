"""How a sandbox channel behaves, as its settings say (slow, failing the ways real networks fail), and how
its posts' and accounts' counts grow, by deterministic curves, so that metrics exist without any process."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.networks.ports import Audience, Engagement
from shared.networks.toolkit.settings import unknown_options

# How fast engagement grows: a post has half its final likes after this many seconds.
ENGAGEMENT_HALF_LIFE_SECONDS = 60.0

# A minute: slower than any real network answers, and well inside a publish attempt's lease.
MAX_LATENCY_MS = 60_000


def _finite(value: float) -> bool:
    return isinstance(value, int) or math.isfinite(value)


@dataclass(frozen=True)
class SandboxOptions:
    """A sandbox channel's behaviour, from the channel's settings."""

    latency_ms: float = 0.0
    failure_rate: float = 0.0
    stored_then_timeout_rate: float = 0.0
    honours_idempotency_key: bool = True
    # Whether its audience answers: each of the account's latest posts gets replies from sandbox readers as
    # its reply count grows (at most AUDIENCE_REPLIES_PER_POST), so the inbox has something to show.
    audience_replies: bool = False

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> tuple[SandboxOptions, list[str]]:
        problems = unknown_options(settings, cls.__dataclass_fields__)
        values: dict[str, Any] = {}
        for name in ("latency_ms", "failure_rate", "stored_then_timeout_rate"):
            if name not in settings:
                continue
            value = settings[name]
            # An int is finite however large (and math.isfinite cannot convert one past a float's range).
            if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
                problems.append(f"{name} must be a finite number")
            elif value < 0 or value > (MAX_LATENCY_MS if name == "latency_ms" else 1):
                bound = f"between 0 and {MAX_LATENCY_MS:,}" if name == "latency_ms" else "between 0 and 1"
                problems.append(f"{name} must be {bound}")
            else:
                values[name] = float(value)
        for name in ("honours_idempotency_key", "audience_replies"):
            if name not in settings:
                continue
            if isinstance(settings[name], bool):
                values[name] = settings[name]
            else:
                problems.append(f"{name} must be true or false")
        return cls(**values), problems


def engagement_at(post_id: str, age_seconds: float) -> Engagement:
    """The counts a sandbox post has at a given age: rising quickly, then levelling off."""
    seed = int.from_bytes(hashlib.sha256(post_id.encode()).digest()[:4], "big")
    final_likes = 20 + seed % 180
    share = max(age_seconds, 0.0) / (max(age_seconds, 0.0) + ENGAGEMENT_HALF_LIFE_SECONDS)
    likes = int(final_likes * share)
    counts = {
        "likes": likes,
        "reposts": likes // 5,
        "replies": likes // 10,
        "quotes": likes // 30,
        "bookmarks": likes // 8,
        "views": likes * 30 + int(share * 100),
    }
    return Engagement(**counts, raw={"id": post_id, **counts})


# How many of a post's replies the audience writes out, and who they are.
AUDIENCE_REPLIES_PER_POST = 3
READERS = ("ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances")
REPLIES = (
    "Thanks for sharing this!",
    "Where can I read more about it?",
    "Does this work on mobile too?",
    "Great news, congratulations to the team.",
    "I tried it yesterday: it works.",
)


def audience_reply(post_id: str, number: int) -> tuple[str, str, str]:
    """The id, reader and text of a post's `number`th reply from the audience: the same every time."""
    digest = hashlib.sha256(f"{post_id}:reply:{number}".encode()).hexdigest()
    seed = int(digest[:8], 16)
    return digest[:32], READERS[seed % len(READERS)], REPLIES[(seed // 7) % len(REPLIES)]


def audience_on(handle: str, moment: datetime, posts: int) -> Audience:
    """An account's counts at a moment: a few hundred followers, and a few more each day."""
    seed = int.from_bytes(hashlib.sha256(handle.encode()).digest()[:4], "big")
    days = (moment - datetime(2026, 1, 1, tzinfo=UTC)).days
    counts = {"followers": 200 + seed % 800 + 3 * max(days, 0), "following": 50 + seed % 150, "posts": posts}
    return Audience(**counts, raw={"handle": handle, **counts})
