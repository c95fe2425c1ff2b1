"""schemathesis over the OpenAPI document: whatever a client sends, no 5xx, and every answer matches the
document (its status, its content type, its body's schema).

Each operation gets generated requests, valid and invalid, against a workspace that has a channel, a
scheduled post, a draft and a webhook, on both backends. A 5xx here is a bug in the API, not in the test.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.bootstrap import Services
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def owner_headers(
    services: Services, workspace: Workspace, workspace_and_token: tuple[Workspace, str]
) -> Any:
    channel = make_channel(services, workspace)
    make_post(services, workspace, [channel])
    return {"Authorization": f"Bearer {workspace_and_token[1]}"}


# The suite runs the same examples each time, so a red run can be run again; set CRIER_FUZZ_EXAMPLES to
# explore further (new random examples each run).
DEEPER = os.environ.get("CRIER_FUZZ_EXAMPLES")
SETTINGS = settings(
    max_examples=int(DEEPER or 40),
    derandomize=not DEEPER,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_no_request_gets_a_5xx_and_every_response_matches_the_document(
    app: Flask, owner_headers: Any
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failed: dict[str, str] = {}
    for found in schema.get_all_operations():
        operation = found.ok()

        @SETTINGS
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            case.call_and_validate(headers=owner_headers, checks=CHECKS)

        try:
            call()
        except Exception as failure:
            failed[operation.label] = str(failure)[:2000]
    assert not failed, "\n\n".join(f"{label}:\n{detail}" for label, detail in failed.items())
