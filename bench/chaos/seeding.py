"""The channels and posts of a chaos run: sandbox channels and Mastodon accounts, posts with threads."""

from __future__ import annotations

import itertools
import math
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.chaos.plan import Plan
from shared.bootstrap import Services
from shared.channels.services import connect_channel
from shared.db import utcnow
from shared.posts.services import PostRequest, TargetRequest, create_post
from shared.workspaces.access import Actor
from shared.workspaces.services import get_or_create_workspace
from tests.networks.fake_mastodon import FakeMastodon

SANDBOX_CHANNELS = 10
# Crier posts at most 20 statuses at once on one Mastodon account (its limit is 80 an hour, 20 at once):
# with no more than this many each, no account's deliveries wait for the limit, bar a few retries.
DELIVERIES_PER_MASTODON_ACCOUNT = 12
THREAD_SHARE = 0.2
REPLIES = (2, 3)
FIRST_DUE_AFTER = timedelta(seconds=5)
POSTS_PER_TRANSACTION = 100
SANDBOX_SETTINGS = {
    "failure_rate": 0.05,
    "stored_then_timeout_rate": 0.03,
    # A repeated publish must store a second post, so a duplicate shows in the store.
    "honours_idempotency_key": False,
}


@dataclass(frozen=True)
class PlannedPost:
    due: datetime
    networks: tuple[str, ...]  # one per target
    replies: int


@dataclass(frozen=True)
class Seeded:
    first_due: datetime
    last_due: datetime
    mastodon_accounts: int
    mastodon_deliveries: int
    threads: int


def plan_posts(plan: Plan, rng: random.Random, first_due: datetime) -> list[PlannedPost]:
    """Posts of one to three targets, each on Mastodon at the plan's share, due uniformly, oldest first."""
    posts = []
    remaining = plan.deliveries
    while remaining:
        width = min(remaining, rng.randint(1, 3))
        networks = tuple(
            "mastodon" if rng.random() < plan.mastodon_share else "sandbox" for _ in range(width)
        )
        replies = rng.choice(REPLIES) if rng.random() < THREAD_SHARE else 0
        due = first_due + timedelta(seconds=rng.uniform(0, plan.spread_seconds))
        posts.append(PlannedPost(due, networks, replies))
        remaining -= width
    return sorted(posts, key=lambda post: post.due)


def seed(services: Services, plan: Plan, rng: random.Random, mastodon: FakeMastodon) -> Seeded:
    """Channels and posts through the core. Posts are written oldest first, so even a slow seed stays ahead
    of the scheduler."""
    first_due = utcnow() + FIRST_DUE_AFTER
    posts = plan_posts(plan, rng, first_due)
    mastodon_deliveries = sum(post.networks.count("mastodon") for post in posts)
    # At least three, so that a post may go to three different accounts.
    accounts = max(3, math.ceil(mastodon_deliveries / DELIVERIES_PER_MASTODON_ACCOUNT))
    with services.sessions.begin() as session:
        workspace_id = get_or_create_workspace(session, "Chaos").id
        sandbox_ids = [
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
        mastodon_ids = []
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
                settings={"base_url": mastodon.base_url, "allow_insecure_loopback": True},
                credentials={"access_token": token},
                cipher=services.credentials,
            )
            mastodon_ids.append(channel.id)
    rng.shuffle(mastodon_ids)
    # In turn, so every account gets its share and no more; three in a row are three different accounts.
    next_account = itertools.cycle(mastodon_ids)
    for start in range(0, len(posts), POSTS_PER_TRANSACTION):
        with services.sessions.begin() as session:
            for number, post in enumerate(posts[start : start + POSTS_PER_TRANSACTION], start + 1):
                sandbox = iter(rng.sample(sandbox_ids, post.networks.count("sandbox")))
                channels: list[uuid.UUID] = [
                    next(next_account) if network == "mastodon" else next(sandbox)
                    for network in post.networks
                ]
                request = PostRequest(
                    text=f"Chaos post {number}: published once, whatever happens.",
                    thread=[
                        f"Chaos post {number}, reply {n} of {post.replies}."
                        for n in range(1, post.replies + 1)
                    ],
                    targets=[TargetRequest(channel_id) for channel_id in channels],
                    scheduled_at=post.due,
                )
                create_post(session, services.networks, Actor.system(workspace_id), request, now=utcnow())
    return Seeded(
        first_due=first_due,
        last_due=posts[-1].due,
        mastodon_accounts=accounts,
        mastodon_deliveries=mastodon_deliveries,
        threads=sum(1 for post in posts if post.replies),
    )
