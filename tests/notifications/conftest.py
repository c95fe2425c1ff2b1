"""Webhook endpoints on a server whose operator allows 127.0.0.1, so a receiver on this machine is used."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from shared.bootstrap import Services
from shared.config import Settings
from shared.notifications.endpoints import EndpointSecret, create_endpoint
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_workspace

AddEndpoint = Callable[..., EndpointSecret]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The operator's allowance, as for a receiver on this machine. The deadline is the default's: a shorter
    # one failed POSTs that a loaded machine (the suite runs in parallel) was merely slow to schedule.
    return settings.model_copy(update={"allowed_private_hosts": "127.0.0.1"})


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


@pytest.fixture
def add_endpoint(services: Services, workspace: Workspace) -> AddEndpoint:
    """Makes an endpoint (of `workspace`, unless another is given), as Crier itself, with its secret."""

    def add(
        url: str = "https://hooks.example.org/crier",
        events: Sequence[str] = ("*",),
        *,
        active: bool = True,
        of: Workspace = workspace,
    ) -> EndpointSecret:
        with services.sessions.begin() as session:
            return create_endpoint(
                session,
                Actor.system(of.id),
                services.credentials,
                url=url,
                events=events,
                active=active,
                policy=services.outbound.policy,
            )

    return add
