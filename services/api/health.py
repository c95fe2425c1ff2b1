"""Liveness and readiness, for orchestrators and load balancers. Neither needs a token."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import Engine, text

from services.api.context import get_services
from services.api.problems import problem
from shared.bootstrap import Services

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 2.0

blp = Blueprint("health", __name__, description="Is the API up, and can it do its work?")


class LivenessSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class ReadinessSchema(Schema):
    status = fields.String(metadata={"example": "ready"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"example": {"database": "ok", "broker": "ok", "redis": "ok"}},
    )


def ping_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def ping_redis(url: str) -> None:
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def readiness_checks(services: Services) -> dict[str, Callable[[], None]]:
    """What the API needs to do its work, by name; Redis only when it is configured."""
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: ping_database(services.engine),
        "broker": services.tasks.check_reachable,
    }
    redis_url = services.settings.redis_url
    if redis_url:
        checks["redis"] = lambda: ping_redis(redis_url)
    return checks


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.doc(security=[])  # overrides the bearer requirement the spec sets for every operation
    @blp.response(200, LivenessSchema)
    def get(self) -> dict[str, str]:
        """The process is up. Touches nothing else, so a slow database never gets it restarted."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.doc(security=[])  # overrides the bearer requirement the spec sets for every operation
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self) -> dict[str, object] | Response:
        """The database, the broker and (when configured) Redis answer."""
        results: dict[str, str] = {}
        for name, check in readiness_checks(get_services()).items():
            try:
                check()
            except Exception:
                # The body names the check, not the error: connection strings do not belong in it.
                log.warning("readiness check %s failed", name, exc_info=True)
                results[name] = "failed"
            else:
                results[name] = "ok"
        failed = [name for name, result in results.items() if result != "ok"]
        if failed:
            return problem(503, f"Not ready: {', '.join(failed)} did not answer.", checks=results)
        return {"status": "ready", "checks": results}
