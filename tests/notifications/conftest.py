"""Webhook endpoints on a server that allows private addresses, so a receiver on 127.0.0.1 can be used."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from shared.bootstrap import Services
from shared.config import Settings
from shared.notifications.services import EndpointSecret, create_endpoint
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_workspace

AddEndpoint = Callable[..., EndpointSecret]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The operator's switch, as for a receiver on this machine; a short timeout keeps the hang test quick.
    return settings.model_copy(update={"webhook_allow_private_urls": True, "webhook_timeout_seconds": 0.5})


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
                allow_private_addresses=services.settings.webhook_allow_private_urls,
            )

    return add
