"""GET /metrics: Prometheus's text format, for the operator's scraper.

It lives outside /v1 and takes no member's token: Prometheus is no member of a workspace. It is not in the
OpenAPI document either, which describes the API a program calls on a workspace's behalf. What it tells
(counts, never content) is still the operator's business: restrict the path at the reverse proxy, or set
CRIER_METRICS_TOKEN and give Prometheus the same token (`authorization: {credentials: ...}`).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.wrappers import Response

from services.api.context import get_services
from shared.errors import Unauthenticated
from shared.monitoring.scraping import render_metrics

monitoring = Blueprint("monitoring", __name__)


@monitoring.get("/metrics")
def metrics() -> Response:
    services = get_services()
    expected = services.settings.metrics_token
    if expected:
        given = request.authorization
        token = given.token if given is not None and given.type == "bearer" else None
        # Compared in constant time, so that the answer's timing does not spell the token out.
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            raise Unauthenticated("Send the metrics token in the Authorization header: `Bearer <token>`.")
    return Response(render_metrics(services), content_type=CONTENT_TYPE_LATEST)
