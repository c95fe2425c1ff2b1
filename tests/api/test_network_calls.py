"""Network calls an API request waits on: they end by one deadline, and each workspace has a few at once.

The server here is one an operator allowed (127.0.0.1) that accepts connections and never answers: the
slowest a server can be. Without bounds each verify would hold a request thread for as long as the
server pleased, and one tenant's channels could take every thread the API has.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shared.bootstrap import Services
from shared.config import Settings
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.api.conftest import ClientAs
from tests.driving import wait_for
from tests.factories import make_mastodon_channel, make_workspace
from tests.networks.on_this_machine import allowing_here
from tests.networks.raw_servers import RawServer, raw_server, silent

DEADLINE = 1.5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return allowing_here(settings).model_copy(
        update={"api_network_deadline_seconds": DEADLINE, "api_network_calls_per_workspace": 1}
    )


@pytest.fixture
def quiet() -> Iterator[RawServer]:
    with raw_server(silent) as server:
        yield server


def client_of(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def verify_on(services: Services, workspace: Workspace, server: RawServer) -> str:
    channel = make_mastodon_channel(services, workspace, f"http://127.0.0.1:{server.port}", "t")
    return f"/v1/channels/{channel.id}/verify"


class InFlight:
    """A request sent on a thread of its own, as another request thread of the API would serve it."""

    def __init__(self, client: FlaskClient, path: str) -> None:
        self.response: TestResponse | None = None
        self._thread = threading.Thread(target=self._send, args=(client, path), daemon=True)
        self._thread.start()

    def _send(self, client: FlaskClient, path: str) -> None:
        self.response = client.post(path)

    def result(self) -> TestResponse:
        self._thread.join(timeout=30)
        assert self.response is not None
        return self.response


def wait_for_connections(server: RawServer, count: int) -> None:
    wait_for(lambda: server.accepted >= count, every=0.01, what=f"{count} connections to the server")


def test_a_verify_against_a_server_that_never_answers_ends_at_the_requests_deadline(
    app: Flask, services: Services, quiet: RawServer
):
    workspace, token = make_workspace(services)
    path = verify_on(services, workspace, quiet)

    started = time.monotonic()
    response = client_of(app, token).post(path)
    took = time.monotonic() - started

    assert response.status_code == 200
    assert response.json["ok"] is False
    assert "no complete answer" in response.json["problem"]
    # The adapter's own read timeout is 30 s: only the request's deadline can end the call this soon.
    assert took < 10


def test_a_workspace_with_its_calls_under_way_is_told_to_come_back_while_others_are_served(
    app: Flask, services: Services, quiet: RawServer
):
    workspace, token = make_workspace(services)
    other, other_token = make_workspace(services, "Another team")
    path, other_path = verify_on(services, workspace, quiet), verify_on(services, other, quiet)

    first = InFlight(client_of(app, token), path)
    wait_for_connections(quiet, 1)
    refused = client_of(app, token).post(path)
    other_workspace = InFlight(client_of(app, other_token), other_path)
    reading = client_of(app, token).get("/v1/channels")

    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert refused.headers["Retry-After"] == "2"
    assert reading.status_code == 200  # a request that calls no network takes no place
    assert first.result().status_code == 200
    assert other_workspace.result().status_code == 200
    # Once the first is over, its place is free again.
    assert client_of(app, token).post(path).status_code == 200


def test_a_request_refused_a_place_makes_no_call(app: Flask, services: Services, quiet: RawServer):
    workspace, token = make_workspace(services)
    path = verify_on(services, workspace, quiet)

    first = InFlight(client_of(app, token), path)
    wait_for_connections(quiet, 1)
    for _ in range(5):
        assert client_of(app, token).post(path).status_code == 429
    first.result()

    assert quiet.accepted == 1


def test_verifying_a_channel_takes_a_role_that_may_change_channels(
    services: Services, workspace: Workspace, client_as: ClientAs, quiet: RawServer
):
    path = verify_on(services, workspace, quiet)

    assert client_as(Role.EDITOR).post(path).status_code == 403
    assert client_as(Role.VIEWER).post(path).status_code == 403
    assert quiet.accepted == 0
