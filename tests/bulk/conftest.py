"""A workspace and its owner acting, for the bulk tests."""

from __future__ import annotations

import pytest

from shared.bootstrap import Services
from shared.workspaces.access import Actor, Role
from shared.workspaces.models import Workspace
from tests.bulk.factories import actor_as
from tests.factories import make_workspace


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


@pytest.fixture
def owner(services: Services, workspace: Workspace) -> Actor:
    return actor_as(services, workspace, Role.OWNER)
