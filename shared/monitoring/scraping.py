"""What GET /metrics answers: the host's process counts added up, and the queue read from the database."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import utcnow
from shared.dependencies import HasSessions, HasSettings
from shared.monitoring.services import count_queued, find_overdue

log = logging.getLogger(__name__)


class Scraping(HasSettings, HasSessions, Protocol):
    """What answering a scrape uses: the settings' folder of counts, and sessions to read the queue."""


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


def render_metrics(services: Scraping) -> bytes:
    """The text exposition format: every process count in the host's folder, then the queue."""
    registry = CollectorRegistry()
    folder = services.settings.prometheus_folder
    if folder.is_dir():
        MultiProcessCollector(registry, path=str(folder))
    registry.register(QueueCollector(services.sessions))
    return generate_latest(registry)
