"""The channels and posts of a chaos run: sandbox channels and Mastodon accounts, posts with threads."""

from __future__ import annotations

import itertools
import math
import random
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.chaos.plan import Plan
from shared.bootstrap import Services
from shared.channels.services import connect_channel
from shared.db import utcnow
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor
from shared.workspaces.services import get_or_create_workspace
from tests.networks.mastodon.fake import FakeMastodon

SANDBOX_CHANNELS = 10
# Crier posts at most 20 statuses at once on one Mastodon account (its limit is 80 an hour, 20 at once):
# with no more than this many each, no account's deliveries wait for the limit, bar a few retries.
DELIVERIES_PER_MASTODON_ACCOUNT = 12
THREAD_SHARE = 0.2
REPLIES = (2, 3)
POSTS_PER_TRANSACTION = 100
SANDBOX_SETTINGS = {
    "failure_rate": 0.05,
    "stored_then_timeout_rate": 0.03,
    # A repeated publish must store a second post, so a duplicate shows in the store.
    "honours_idempotency_key": False,
}


@dataclass(frozen=True)
class PlannedPost:
    # Seconds after the first due time.
    offset: float
    networks: tuple[str, ...]  # one per target
    replies: int


@dataclass(frozen=True)
class Channels:
    workspace_id: uuid.UUID
    sandbox: list[uuid.UUID]
    mastodon: list[uuid.UUID]


def plan_posts(plan: Plan, rng: random.Random) -> list[PlannedPost]:
    """Posts of one to three targets, each on Mastodon at the plan's share, due uniformly, oldest first."""
    posts = []
    remaining = plan.deliveries
    while remaining:
        width = min(remaining, rng.randint(1, 3))
        networks = tuple(
            "mastodon" if rng.random() < plan.mastodon_share else "sandbox" for _ in range(width)
        )
        replies = rng.choice(REPLIES) if rng.random() < THREAD_SHARE else 0
        posts.append(PlannedPost(rng.uniform(0, plan.spread_seconds), networks, replies))
        remaining -= width
    return sorted(posts, key=lambda post: post.offset)


def mastodon_deliveries(posts: Sequence[PlannedPost]) -> int:
    return sum(post.networks.count("mastodon") for post in posts)


def connect_channels(
    services: Services, rng: random.Random, mastodon: FakeMastodon, posts: Sequence[PlannedPost]
) -> Channels:
    """The sandbox channels, and enough accounts on the Mastodon server for the posts' share of it."""
    # At least three, so that a post may go to three different accounts.
    accounts = max(3, math.ceil(mastodon_deliveries(posts) / DELIVERIES_PER_MASTODON_ACCOUNT))
    with services.sessions.begin() as session:
        workspace_id = get_or_create_workspace(session, "Chaos").id
        sandbox = [
            connect_channel(
                session,
                services.networks,
                workspace_id,
                network="sandbox",
                name=f"Chaos {number}",
                handle=f"chaos{number}",
                settings={"latency_ms": rng.randint(20, 100), **SANDBOX_SETTINGS},
            ).id
            for number in range(1, SANDBOX_CHANNELS + 1)
        ]
        on_mastodon = []
        for number in range(1, accounts + 1):
            token = secrets.token_hex(16)
            mastodon.add_account(f"chaos{number}", token=token)
            channel = connect_channel(
                session,
                services.networks,
                workspace_id,
                network="mastodon",
                name=f"Chaos on Mastodon {number}",
                handle=f"chaos{number}",
                settings={"base_url": mastodon.base_url},
                credentials={"access_token": token},
                cipher=services.credentials,
            )
            on_mastodon.append(channel.id)
    rng.shuffle(on_mastodon)
    return Channels(workspace_id, sandbox, on_mastodon)


def write_posts(
    services: Services,
    posts: Sequence[PlannedPost],
    channels: Channels,
    first_due: datetime,
    rng: random.Random,
) -> None:
    """Each post through the core, oldest first, a hundred to a transaction."""
    # In turn, so every account gets its share and no more; three in a row are three different accounts.
    next_account = itertools.cycle(channels.mastodon)
    for start in range(0, len(posts), POSTS_PER_TRANSACTION):
        with services.sessions.begin() as session:
            for number, post in enumerate(posts[start : start + POSTS_PER_TRANSACTION], start + 1):
                sandbox = iter(rng.sample(channels.sandbox, post.networks.count("sandbox")))
                targets = [
                    next(next_account) if net == "mastodon" else next(sandbox) for net in post.networks
                ]
                request = PostRequest(
                    text=f"Chaos post {number}: published once, whatever happens.",
                    thread=[
                        f"Chaos post {number}, reply {n} of {post.replies}."
                        for n in range(1, post.replies + 1)
                    ],
                    targets=[TargetRequest(channel_id) for channel_id in targets],
                    scheduled_at=first_due + timedelta(seconds=post.offset),
                )
                actor = Actor.system(channels.workspace_id)
                create_post(session, services.networks, actor, request, now=utcnow())


class PostWriter(threading.Thread):
    """Writes the posts in the background while the chaos runs: oldest first, so it stays ahead of the
    scheduler once under way, however long ten thousand posts take to write."""

    def __init__(
        self,
        services: Services,
        posts: Sequence[PlannedPost],
        channels: Channels,
        first_due: datetime,
        rng: random.Random,
    ) -> None:
        # A daemon: an interrupted run does not wait for it (its database is gone by then).
        super().__init__(name="chaos-post-writer", daemon=True)
        self.arguments = (services, posts, channels, first_due, rng)
        self.error: BaseException | None = None
        self.seconds: float | None = None

    def run(self) -> None:
        began = time.monotonic()
        try:
            write_posts(*self.arguments)
        except BaseException as error:
            self.error = error
        self.seconds = time.monotonic() - began

    def check(self) -> bool:
        """Whether every post is written; raises what stopped the writer."""
        finished = not self.is_alive()  # first: an error is set before the thread ends
        if self.error is not None:
            raise RuntimeError("writing the posts failed") from self.error
        return finished
