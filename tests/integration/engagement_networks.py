"""Networks for the metrics tests: they answer with the counts a test sets, and note every read.

Each channel's settings say what its network answers: `counts` (the same for each of its posts, e.g.
`{"likes": 3}`; a metric left out is one the network does not report), `gone` (external ids deleted on the
network), `engagement` ("transient", "rate_limited" or "crash" to fail) and `audience` (followers and
the rest, for the networks that report them). `READS` lists every call: (network, channel id, ids).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from importlib.metadata import EntryPoint

from sqlalchemy import Engine

from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import utcnow
from shared.limits.ports import Rate
from shared.networks.ports import Account, Audience, Engagement, PostGone, RateLimited, Transient
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry
from shared.taskqueue import TaskQueue
from tests.integration.fake_networks import SANDBOX_ENTRY, SCRIPTED_ENTRY, ScriptedNetwork

READS: list[tuple[str, str, tuple[str, ...]]] = []


class ReadableNetwork(ScriptedNetwork):
    """`readable`: reads counts in batches of 3 per request, as Mastodon reads 20 and Bluesky 25."""

    info = replace(
        ScriptedNetwork.info,
        name="readable",
        display_name="Readable (tests)",
        metrics=("likes", "reposts", "replies", "quotes", "bookmarks", "views"),
        engagement_batch_size=3,
    )

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        READS.append((self.info.name, account.channel_id, tuple(external_ids)))
        answer = account.settings.get("engagement", "counts")
        if answer == "transient":
            raise Transient("readable: 502 Bad Gateway from the metrics endpoint")
        if answer == "rate_limited":
            raise RateLimited("readable: 429 Too Many Requests", utcnow() + timedelta(minutes=20))
        if answer == "crash":
            raise RuntimeError("readable: the adapter has a bug")
        counts = dict(account.settings.get("counts", {}))
        gone = set(account.settings.get("gone", []))
        return {
            external_id: PostGone(f"readable: {external_id} was deleted")
            if external_id in gone
            else Engagement(**counts, raw={"id": external_id, **counts})
            for external_id in external_ids
        }


class ThrottledNetwork(ReadableNetwork):
    """`throttled`: Crier allows itself one read per channel now, then one every 100 s."""

    info = replace(
        ReadableNetwork.info,
        name="throttled",
        display_name="Throttled (tests)",
        account_read_rate=Rate(burst=1, per_second=0.01),
    )


class AudienceNetwork(ReadableNetwork):
    """`audience`: also reports each account's followers, follows and posts, as Mastodon and Bluesky do."""

    info = replace(ReadableNetwork.info, name="audience", display_name="With followers (tests)")

    def fetch_audience(self, account: Account) -> Audience:
        READS.append((self.info.name, account.channel_id, ("audience",)))
        if account.settings.get("audience") == "transient":
            raise Transient("audience: 503 Service Unavailable")
        counts = dict(account.settings.get("audience", {"followers": 1000, "following": 10, "posts": 5}))
        return Audience(**counts, raw=counts)


class MuteNetwork(ScriptedNetwork):
    """`mute`: posts and cannot read anything back, as an incoming webhook (Slack's, Discord's)."""

    info = replace(ScriptedNetwork.info, name="mute", display_name="Mute (tests)", metrics=())

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        raise AssertionError("a network that reports no metrics was asked for some")


def entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(
        name=name, value=f"tests.integration.engagement_networks:{target}", group=ENTRY_POINT_GROUP
    )


ENTRIES = [
    SANDBOX_ENTRY,
    SCRIPTED_ENTRY,
    entry("readable", "ReadableNetwork"),
    entry("throttled", "ThrottledNetwork"),
    entry("audience", "AudienceNetwork"),
    entry("mute", "MuteNetwork"),
]


def bootstrap_with_readable_networks(settings: Settings, tasks: TaskQueue, engine: Engine) -> Services:
    READS.clear()
    return bootstrap(
        settings, tasks=tasks, networks=NetworkRegistry(settings, entries=ENTRIES), engine=engine
    )


def reads_of(network: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(channel_id, ids) for name, channel_id, ids in READS if name == network]
