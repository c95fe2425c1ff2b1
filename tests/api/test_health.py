"""GET /healthz and GET /readyz."""

from __future__ import annotations

import dataclasses

from flask.testing import FlaskClient
from sqlalchemy import create_engine

from services.api.app import create_app
from shared.bootstrap import Services
from shared.taskqueue import MemoryTaskQueue

NOTHING_LISTENS_HERE = "127.0.0.1:9"


def client_for(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def test_the_process_reports_itself_up(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_the_api_is_ready_when_the_database_and_the_broker_answer(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_the_api_is_not_ready_when_the_broker_does_not_answer(
    client: FlaskClient, task_queue: MemoryTaskQueue
) -> None:
    task_queue.reachable = False

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Not ready: broker did not answer.",
        "instance": "/readyz",
        "checks": {"database": "ok", "broker": "failed"},
    }


def test_the_api_is_not_ready_when_the_database_does_not_answer(services: Services) -> None:
    unreachable = create_engine(f"postgresql+psycopg://postgres@{NOTHING_LISTENS_HERE}/crier")
    try:
        response = client_for(dataclasses.replace(services, engine=unreachable)).get("/readyz")
    finally:
        unreachable.dispose()

    assert response.status_code == 503
    assert response.json["detail"] == "Not ready: database did not answer."
    assert response.json["checks"] == {"database": "failed", "broker": "ok"}


def test_redis_is_checked_when_it_is_configured(services: Services, redis_url: str) -> None:
    settings = services.settings.model_copy(update={"redis_url": redis_url})

    response = client_for(dataclasses.replace(services, settings=settings)).get("/readyz")

    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}


def test_the_api_is_not_ready_when_the_configured_redis_does_not_answer(services: Services) -> None:
    settings = services.settings.model_copy(update={"redis_url": f"redis://{NOTHING_LISTENS_HERE}/0"})

    response = client_for(dataclasses.replace(services, settings=settings)).get("/readyz")

    assert response.status_code == 503
    assert response.json["detail"] == "Not ready: redis did not answer."
    assert response.json["checks"] == {"database": "ok", "broker": "ok", "redis": "failed"}
