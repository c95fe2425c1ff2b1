"""A workspace with a sandbox channel whose posts went out, and people answering them on the sandbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.store import SandboxStore
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace, read_delivery


@dataclass
class Audience:
    """People on the sandbox network, answering and naming the channel's account."""

    store: SandboxStore
    handle: str

    def reply(self, post_id: str, text: str = "Love this!", *, author: str = "ada") -> str:
        row = self.store.add(author, text, f"someone-else:{uuid.uuid4()}", in_reply_to_id=post_id)
        return str(row["id"])

    def mention(self, text: str = "Have you seen", *, author: str = "grace") -> str:
        row = self.store.add(author, f"{text} @{self.handle}", f"someone-else:{uuid.uuid4()}")
        return str(row["id"])


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


@pytest.fixture
def channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(services, workspace, "Riverside Library")


@pytest.fixture
def sandbox(services: Services) -> SandboxNetwork:
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    return network


@pytest.fixture
def audience(sandbox: SandboxNetwork, channel: Channel) -> Audience:
    return Audience(sandbox.store, channel.handle)


@pytest.fixture
def published(services: Services, workspace: Workspace, channel: Channel) -> Delivery:
    """A post of the channel's, out on the sandbox."""
    post = make_post(services, workspace, [channel], text="Our spring book fair opens on Saturday.")
    publish_what_is_due(services)
    delivery = read_delivery(services, post.deliveries[0].id)
    assert delivery.external_id is not None
    assert delivery.published_at is not None
    assert delivery.published_at <= utcnow()
    return delivery
