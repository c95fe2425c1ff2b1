"""GET /metrics: Prometheus's text format, for the operator's scraper.

It lives outside /v1 and takes no member's token: Prometheus is no member of a workspace. It is not in the
OpenAPI document either, which describes the API a program calls on a workspace's behalf. What it tells
(counts, never content) is still the operator's business: restrict the path at the reverse proxy, or set
CRIER_METRICS_TOKEN and give Prometheus the same token (`authorization: {credentials: ...}`).

It answers with every process count in the host's folder (shared.monitoring.recording), then the queue,
read from the database at each scrape (shared.deliveries.overview).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from flask import Blueprint, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from services.api.context import get_services
from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.overview import count_queued, find_overdue
from shared.errors import Unauthenticated

log = logging.getLogger(__name__)

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


def render_metrics(services: Services) -> bytes:
    """The text exposition format: every process count in the host's folder, then the queue."""
    registry = CollectorRegistry()
    folder = services.settings.prometheus_folder
    if folder.is_dir():
        MultiProcessCollector(registry, path=str(folder))
    registry.register(QueueCollector(services.sessions))
    return generate_latest(registry)


class QueueCollector(Collector):
    """Gauges of the delivery queue, read from the database when Prometheus scrapes."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        try:
            with self.sessions.begin() as session:
                queued = count_queued(session)
                overdue = find_overdue(session, now=now)
        except SQLAlchemyError:
            # The process counts are still worth serving; /readyz tells that the database is away.
            log.warning("could not read the delivery queue for /metrics", exc_info=True)
            return
        depth = GaugeMetricFamily(
            "crier_queue_depth",
            "Deliveries not yet out, by state: scheduled and retry_wait wait for their time, enqueued and "
            "publishing are in flight, unknown is being checked with the network, needs_review waits for "
            "a person.",
            labels=["state"],
        )
        for state, count in queued.items():
            depth.add_metric([state.value], count)
        yield depth
        yield GaugeMetricFamily(
            "crier_queue_overdue_deliveries",
            "Deliveries due on an active channel that no scheduler has claimed yet.",
            value=overdue.count,
        )
        oldest = (now - overdue.oldest_due_at).total_seconds() if overdue.oldest_due_at else 0.0
        yield GaugeMetricFamily(
            "crier_queue_oldest_overdue_seconds",
            "How long the longest-waiting overdue delivery has been due; 0 when none is.",
            value=max(oldest, 0.0),
        )
