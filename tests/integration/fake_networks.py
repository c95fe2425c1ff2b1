"""A network adapter for tests that answers the way real networks fail, chosen per channel.

`ScriptedNetwork` reproduces, on cue, each answer a real network's API gives to a publish call:
a 5xx before the request was taken (`Transient`), a 429 with a reset time (`RateLimited`), a 4xx refusal
of the content (`Rejected`), a 401 for revoked credentials (`AuthExpired`), a read timeout after the
request went out (`OutcomeUnknown`), and an adapter bug (a plain `RuntimeError`). Asked whether an
uncertain attempt made a post (`find_published`), it answers as a network's lookup by idempotency key or
search of the account's recent posts does: the post is there (`found`), it is not (`absent`, the default),
the lookup endpoint fails with a 5xx (`transient`), its answer cannot settle it (`cannot_tell`: several
posts match), or the adapter has a bug (`crash`). Its metrics reads
can likewise fail with a 5xx or crash. The answer comes from the channel's settings, the only per-channel
input an adapter sees, so a test drives a delivery through a sequence of answers by changing those settings
between attempts:

    {"publish": "rate_limited", "message": "429 Too Many Requests", "reset_at": "2030-01-01T00:00:00+00:00"}
    {"publish": "outcome_unknown", "find": "transient", "find_message": "502 Bad Gateway"}
    {"engagement": "transient"}
    {"publish": "published", "published_url": "javascript:alert(1)"}

What a network is, rather than how it answers, lives in its `info`, so the variants below are networks of
their own: one that offers no way to look a post up, and two with posting quotas Crier keeps to.

Each is loaded through a real `crier.networks` entry point, exactly as a plugin distribution's adapter is.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from importlib.metadata import EntryPoint
from typing import Any

from sqlalchemy import Engine, update

from shared.bootstrap import Services, bootstrap
from shared.channels.models import Channel
from shared.config import Settings
from shared.limits.ports import Rate, RateLimiter
from shared.networks.ports import (
    Account,
    AuthExpired,
    CannotTell,
    Draft,
    Engagement,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.taskqueue import TaskQueue
from shared.workspaces.models import Workspace
from tests.factories import make_channel

SANDBOX_ENTRY = EntryPoint(
    name="sandbox",
    value="shared.networks.sandbox.adapter:SandboxNetwork.from_settings",
    group=ENTRY_POINT_GROUP,
)
SCRIPTED_ENTRY = EntryPoint(
    name="scripted", value="tests.integration.fake_networks:ScriptedNetwork", group=ENTRY_POINT_GROUP
)
COUNTED_ENTRY = EntryPoint(
    name="counted", value="tests.integration.fake_networks:build_counted", group=ENTRY_POINT_GROUP
)
UNVERIFIABLE_ENTRY = EntryPoint(
    name="scripted_unverifiable",
    value="tests.integration.fake_networks:UnverifiableNetwork",
    group=ENTRY_POINT_GROUP,
)
ACCOUNT_QUOTA_ENTRY = EntryPoint(
    name="scripted_account_quota",
    value="tests.integration.fake_networks:AccountQuotaNetwork",
    group=ENTRY_POINT_GROUP,
)
APP_QUOTA_ENTRY = EntryPoint(
    name="scripted_app_quota",
    value="tests.integration.fake_networks:AppQuotaNetwork",
    group=ENTRY_POINT_GROUP,
)
TOKEN_ENTRY = EntryPoint(
    name="scripted_with_token", value="tests.integration.fake_networks:TokenNetwork", group=ENTRY_POINT_GROUP
)

SCRIPTED_METRICS = {"likes": 7, "reposts": 3, "replies": 2, "quotes": 1, "views": 250}


class ScriptedNetwork:
    """The `scripted` network: publishes, or fails the way its channel's settings say."""

    info = NetworkInfo(
        name="scripted",
        display_name="Scripted (tests)",
        text_limit=1000,
        metrics=tuple(SCRIPTED_METRICS),
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return []

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        return []

    def validate(self, draft: Draft) -> list[str]:
        return []

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        answer = account.settings.get("publish", "published")
        message = account.settings.get("message", f"scripted: {answer}")
        if account.settings.get("renews_credentials") and account.save_credentials is not None:
            # As a network whose session is refreshed while posting (Bluesky's access tokens last hours).
            account.save_credentials(
                {**account.credentials, "token": account.credentials["token"] + "-renewed"}
            )
        if answer == "published":
            return self._published(account, idempotency_key)
        if answer == "transient":
            raise Transient(message)
        if answer == "rate_limited":
            reset_at = account.settings.get("reset_at")
            raise RateLimited(message, datetime.fromisoformat(reset_at) if reset_at else None)
        if answer == "rejected":
            raise Rejected(message)
        if answer == "auth_expired":
            raise AuthExpired(message)
        if answer == "outcome_unknown":
            raise OutcomeUnknown(message)
        if answer == "crash":
            raise RuntimeError(message)
        raise AssertionError(f"the test asked the scripted network for an unknown answer {answer!r}")

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
        last_attempted_at: datetime | None = None,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost | None:
        answer = account.settings.get("find", "absent")
        message = account.settings.get("find_message", f"scripted: find {answer}")
        if answer == "found":
            # Where publish would have put it: the uncertain attempt did make the post.
            return self._published(account, idempotency_key)
        if answer == "absent":
            return None
        if answer == "transient":
            raise Transient(message)
        if answer == "cannot_tell":
            raise CannotTell(message)
        if answer == "crash":
            raise RuntimeError(message)
        raise AssertionError(f"the test asked the scripted network for an unknown find answer {answer!r}")

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        answer = account.settings.get("engagement", "counts")
        if answer == "transient":
            raise Transient("scripted: 502 Bad Gateway from the metrics endpoint")
        if answer == "crash":
            raise RuntimeError("scripted: the adapter has a bug")
        return {
            external_id: Engagement(**SCRIPTED_METRICS, raw=SCRIPTED_METRICS) for external_id in external_ids
        }

    @staticmethod
    def _published(account: Account, idempotency_key: str) -> PublishedPost:
        # `published_id` and `published_url` stand for what a network's answer said, however odd.
        external_id = account.settings.get("published_id", f"scripted-{idempotency_key}")
        url = account.settings.get(
            "published_url", f"https://scripted.invalid/{account.handle}/{external_id}"
        )
        return PublishedPost(external_id=external_id, url=url)


class UnverifiableNetwork(ScriptedNetwork):
    """`scripted_unverifiable`: a network with no way to tell whether a post exists.

    Like an incoming webhook (Discord, Slack) or an API without idempotency keys or a list of the account's
    own posts: after an uncertain attempt only a person can look, so Crier must never ask it.
    """

    info = replace(
        ScriptedNetwork.info,
        name="scripted_unverifiable",
        display_name="Scripted, unverifiable (tests)",
        can_find_published=False,
    )

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
        last_attempted_at: datetime | None = None,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost | None:
        raise AssertionError("a network that cannot find posts was asked to find one")


# Two posts at once, then one per 100 s: a test sees a quota run out, and nothing refills while it runs.
QUOTA = Rate(burst=2, per_second=0.01)


class AccountQuotaNetwork(ScriptedNetwork):
    """`scripted_account_quota`: each account's posts are capped, as Mastodon caps statuses per account.

    Its app-wide quota is looser than any one test uses, so only the account's quota ever binds; it is
    there so that a test can show one network's app-wide bucket is not another's.
    """

    info = replace(
        ScriptedNetwork.info,
        name="scripted_account_quota",
        display_name="Scripted, with an account quota (tests)",
        account_rate=QUOTA,
        network_rate=Rate(burst=100, per_second=0.01),
    )


class AppQuotaNetwork(ScriptedNetwork):
    """`scripted_app_quota`: posts are capped across every account of one app, as X caps an app's posts."""

    info = replace(
        ScriptedNetwork.info,
        name="scripted_app_quota",
        display_name="Scripted, with an app quota (tests)",
        network_rate=QUOTA,
    )


class TokenNetwork(ScriptedNetwork):
    """`scripted_with_token`: posting needs a token, as Mastodon needs an access token."""

    info = replace(
        ScriptedNetwork.info,
        name="scripted_with_token",
        display_name="Scripted, with a token (tests)",
        credential_keys=("token",),
    )


class ScriptedRandom(random.Random):
    """The sandbox's dice, loaded: each request draws twice (fail before storing? lose the answer after?)."""

    def __init__(self, draws: Sequence[float]) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def random(self) -> float:
        return self.draws.pop(0) if self.draws else 0.99


BUILT: list[ScriptedNetwork] = []
"""Every adapter `build_counted` has made, so a test can see when and how often the registry loads one."""


def build_counted(settings: Settings) -> ScriptedNetwork:
    network = ScriptedNetwork(settings)
    BUILT.append(network)
    return network


def bootstrap_with_scripted_network(
    settings: Settings, tasks: TaskQueue, limits: RateLimiter | None = None, engine: Engine | None = None
) -> Services:
    """The services a worker with the sandbox and the scripted networks installed would build; on `engine`
    when given (the test's services'), so that no second pool of connections is opened."""
    entries = [
        SANDBOX_ENTRY,
        SCRIPTED_ENTRY,
        UNVERIFIABLE_ENTRY,
        ACCOUNT_QUOTA_ENTRY,
        APP_QUOTA_ENTRY,
        TOKEN_ENTRY,
    ]
    return bootstrap(
        settings,
        tasks=tasks,
        networks=NetworkRegistry(settings, entries=entries),
        limits=limits,
        engine=engine,
    )


def scripted_channel(
    services: Services,
    workspace: Workspace,
    name: str = "Scripted",
    *,
    network: str = "scripted",
    **answers: Any,
) -> Channel:
    """A channel on the scripted network or a variant; `answers` say how it answers (see ScriptedNetwork)."""
    return make_channel(services, workspace, name, network=network, **answers)


def script(services: Services, channel: Channel, **answers: Any) -> None:
    """Change how the scripted network will answer this channel's next calls."""
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == channel.id).values(settings=answers))


def sandbox_of(services: Services) -> SandboxNetwork:
    """The sandbox adapter these services publish through, to look into its store."""
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    return network
