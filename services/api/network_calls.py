"""Network calls made while an API request waits: bounded in time, and in number per workspace.

Connecting, verifying and authorizing a channel, and a preview that reads a server's limits, call a server
a workspace admin chose, and a request thread waits meanwhile. Without bounds, one tenant pointing channels
at a server that answers slowly could hold every thread of the API, and /healthz with them. So the calls
of one request end together within CRIER_API_NETWORK_DEADLINE_SECONDS, and each workspace may have at most
CRIER_API_NETWORK_CALLS_PER_WORKSPACE requests calling out at once in a process: one more answers 429 at
once rather than waiting for a thread. A request takes its place only when it makes its first call, so a
request that calls no network is never refused. Requests without a workspace (the network sending a person
back to /oauth/callback) share one more set of places.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass

from flask import Flask, current_app, g

from shared.config import Settings
from shared.errors import Busy
from shared.networks.outbound import calls_within

EXTENSION_KEY = "crier.network_calls"


class WorkspacePlaces:
    """How many requests of each workspace are calling out now, in this process."""

    def __init__(self, per_workspace: int) -> None:
        self._per_workspace = per_workspace
        self._taken: Counter[uuid.UUID | None] = Counter()
        self._lock = threading.Lock()

    def take(self, workspace_id: uuid.UUID | None) -> bool:
        with self._lock:
            if self._taken[workspace_id] >= self._per_workspace:
                return False
            self._taken[workspace_id] += 1
            return True

    def give_back(self, workspace_id: uuid.UUID | None) -> None:
        with self._lock:
            self._taken[workspace_id] -= 1
            if self._taken[workspace_id] <= 0:
                del self._taken[workspace_id]


@dataclass(frozen=True)
class NetworkCallBounds:
    """What the hooks below apply to each request: the shared deadline, and the places per workspace."""

    seconds: float
    places: WorkspacePlaces


def install(app: Flask, settings: Settings) -> None:
    """Bound the network calls of every request of `app` (after authentication has named the workspace)."""
    app.extensions[EXTENSION_KEY] = NetworkCallBounds(
        settings.api_network_deadline_seconds, WorkspacePlaces(settings.api_network_calls_per_workspace)
    )
    app.before_request(_bound_network_calls)
    app.teardown_request(_release_network_calls)


def _bound_network_calls() -> None:
    bounds: NetworkCallBounds = current_app.extensions[EXTENSION_KEY]
    places, seconds = bounds.places, bounds.seconds
    workspace_id: uuid.UUID | None = g.get("workspace_id")
    stack = ExitStack()

    def take_a_place() -> None:
        if not places.take(workspace_id):
            raise Busy(
                "This workspace already has as many requests waiting on networks as it may at once; "
                "try again shortly.",
                retry_after_seconds=math.ceil(seconds),
            )
        stack.callback(places.give_back, workspace_id)

    stack.enter_context(calls_within(seconds, before_first=take_a_place))
    g.network_calls = stack


def _release_network_calls(_: BaseException | None) -> None:
    stack: ExitStack | None = g.pop("network_calls", None)
    if stack is not None:
        stack.close()
