"""A network adapter for tests that answers the way real networks fail, chosen per channel.

`ScriptedNetwork` reproduces, on cue, each answer a real network's API gives to a publish call:
a 5xx before the request was taken (`Transient`), a 429 with a reset time (`RateLimited`), a 4xx refusal
of the content (`Rejected`), a 401 for revoked credentials (`AuthExpired`), a read timeout after the
request went out (`OutcomeUnknown`), and an adapter bug (a plain `RuntimeError`). Its metrics reads can
likewise fail with a 5xx or crash. The answer comes from the channel's settings, the only per-channel input
an adapter sees, so a test drives a delivery through a sequence of answers by changing those settings
between attempts:

    {"publish": "rate_limited", "message": "429 Too Many Requests", "reset_at": "2030-01-01T00:00:00+00:00"}
    {"engagement": "transient"}

It is loaded through a real `crier.networks` entry point, exactly as a plugin distribution's adapter is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib.metadata import EntryPoint
from typing import Any

from shared.bootstrap import Services, bootstrap
from shared.channels.models import Channel
from shared.config import Settings
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    NetworkInfo,
    OutcomeUnknown,
    PostGone,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry
from shared.taskqueue import TaskQueue
from shared.workspaces.models import Workspace
from tests.factories import make_channel

SANDBOX_ENTRY = EntryPoint(
    name="sandbox", value="shared.networks.sandbox:SandboxNetwork.from_settings", group=ENTRY_POINT_GROUP
)
SCRIPTED_ENTRY = EntryPoint(
    name="scripted", value="tests.integration.fake_networks:ScriptedNetwork", group=ENTRY_POINT_GROUP
)
COUNTED_ENTRY = EntryPoint(
    name="counted", value="tests.integration.fake_networks:build_counted", group=ENTRY_POINT_GROUP
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

    def validate(self, draft: Draft) -> list[str]:
        return []

    def publish(self, account: Account, draft: Draft, idempotency_key: str) -> PublishedPost:
        answer = account.settings.get("publish", "published")
        message = account.settings.get("message", f"scripted: {answer}")
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

    def find_published(self, account: Account, idempotency_key: str) -> PublishedPost | None:
        return None

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
        external_id = f"scripted-{idempotency_key}"
        return PublishedPost(
            external_id=external_id, url=f"https://scripted.invalid/{account.handle}/{external_id}"
        )


BUILT: list[ScriptedNetwork] = []
"""Every adapter `build_counted` has made, so a test can see when and how often the registry loads one."""


def build_counted(settings: Settings) -> ScriptedNetwork:
    network = ScriptedNetwork(settings)
    BUILT.append(network)
    return network


def bootstrap_with_scripted_network(settings: Settings, tasks: TaskQueue) -> Services:
    """The services a worker with the sandbox and the scripted network installed would build."""
    return bootstrap(
        settings, tasks=tasks, networks=NetworkRegistry(settings, entries=[SANDBOX_ENTRY, SCRIPTED_ENTRY])
    )


def scripted_channel(
    services: Services, workspace: Workspace, name: str = "Scripted", **answers: Any
) -> Channel:
    """A channel on the scripted network; `answers` say how it answers (see ScriptedNetwork)."""
    return make_channel(services, workspace, name, network="scripted", **answers)
