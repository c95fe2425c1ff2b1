"""Every /v1 route needs a live bearer token; the health checks and the docs do not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.db import utcnow
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_add_member, issue_token

V1_ROUTES = [
    ("GET", "/v1/channels"),
    ("POST", "/v1/channels"),
    ("POST", "/v1/posts"),
    ("GET", "/v1/posts/00000000-0000-0000-0000-000000000001"),
    ("GET", "/v1/deliveries"),
    ("GET", "/v1/posts/00000000-0000-0000-0000-000000000001/metrics"),
    ("POST", "/v1/posts/00000000-0000-0000-0000-000000000001/metrics/refresh"),
    ("GET", "/v1/networks"),
]


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
def test_a_request_without_a_token_is_refused_with_a_problem_document(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method, json={})

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Send an API token in the Authorization header: `Bearer crier_...`.",
        "instance": path,
    }


def test_an_unknown_token_is_refused(client: FlaskClient) -> None:
    response = client.get("/v1/channels", headers={"Authorization": "Bearer crier_not-a-real-token"})

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "The bearer token is not known.",
        "instance": "/v1/channels",
    }


def test_a_token_sent_with_another_scheme_is_refused(client: FlaskClient) -> None:
    response = client.get("/v1/channels", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused(client: FlaskClient, services: Services, workspace: Workspace) -> None:
    with services.sessions.begin() as session:
        member = get_or_add_member(session, workspace, "ana@example.org", role=Role.EDITOR)
        token, _ = issue_token(session, member, "old", expires_at=utcnow() - timedelta(seconds=1))

    response = client.get("/v1/channels", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json["detail"] == "The bearer token has expired."


def test_a_live_token_is_accepted(workspace_client: FlaskClient) -> None:
    assert workspace_client.get("/v1/channels").status_code == 200


def test_an_unknown_v1_route_answers_401_to_a_caller_without_a_token(client: FlaskClient) -> None:
    assert client.get("/v1/nowhere").status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
def test_health_checks_and_docs_need_no_token(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200
