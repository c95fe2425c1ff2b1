"""The app over the bootstrapped services, and clients with and without a token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.api.app import create_app
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_member_token, make_workspace


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client that sends no token."""
    return app.test_client()


@pytest.fixture
def workspace_and_token(services: Services) -> tuple[Workspace, str]:
    return make_workspace(services)


@pytest.fixture
def workspace(workspace_and_token: tuple[Workspace, str]) -> Workspace:
    return workspace_and_token[0]


@pytest.fixture
def workspace_client(app: Flask, workspace_and_token: tuple[Workspace, str]) -> FlaskClient:
    """A client that acts for `workspace` with its bearer token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {workspace_and_token[1]}"
    return client


@pytest.fixture
def channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(services, workspace)


ClientAs = Callable[..., FlaskClient]


@pytest.fixture
def client_as(app: Flask, services: Services, workspace: Workspace) -> ClientAs:
    """A client acting for a member of `workspace` with a role, through a token of a scope."""

    def make(role: Role, scope: Scope = Scope.ADMIN) -> FlaskClient:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = (
            f"Bearer {make_member_token(services, workspace, role, scope)}"
        )
        return client

    return make
