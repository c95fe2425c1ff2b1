"""How fast a scheduler turns due deliveries into messages, against baselines measured in the same run.

    .venv/bin/python -m bench.dispatch [--deliveries 100000] [--backend postgresql|sqlite]

Two figures, each with its baseline:
- claim: the UPDATE … RETURNING that moves due rows to enqueued, in batches, against a keyset-paginated
  SELECT of the same rows in the same batches (the floor any claim pays).
- claim and enqueue: whole scheduler ticks (claim, commit, send publish messages to Redis) until nothing
  is due, against what the design avoids: one Celery message per post with an ETA (`send_task(eta=…)`),
  the same number, to the same Redis.
PostgreSQL and Redis are this machine's (CRIER_TEST_POSTGRES_URL, CRIER_TEST_REDIS_URL); the benchmark
makes a database of its own and uses Redis database 10, which it empties first.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import redis
from sqlalchemy import select, tuple_, update

from bench.seeding import seed_deliveries
from services.scheduler.dispatcher import Dispatcher
from shared.bootstrap import Services, bootstrap
from shared.broker import CeleryTaskQueue
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.claiming import claim_due
from shared.deliveries.models import Delivery, DeliveryState
from shared.migrations import upgrade
from shared.task_names import PUBLISH_DELIVERIES
from tests.conftest import REDIS_URL, create_postgres_database, drop_postgres_database

BATCH = 1000
BROKER_DB = 10


def timed(run_batch: Callable[[], int]) -> tuple[float, int]:
    """Run batches until one does nothing; the seconds taken and the rows handled."""
    started = time.perf_counter()
    total = 0
    while (handled := run_batch()) > 0:
        total += handled
    return time.perf_counter() - started, total


def reset(services: Services) -> None:
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery).values(state=DeliveryState.SCHEDULED, attempt=0, lease_expires_at=None)
        )


def measure_claim(services: Services) -> tuple[float, float]:
    last = (utcnow() - timedelta(days=1), uuid.UUID(int=0))

    def read_batch() -> int:
        nonlocal last
        query = (
            select(Delivery.due_at, Delivery.id)
            .where(Delivery.state == DeliveryState.SCHEDULED, tuple_(Delivery.due_at, Delivery.id) > last)
            .order_by(Delivery.due_at, Delivery.id)
            .limit(BATCH)
        )
        with services.sessions.begin() as session:
            rows = session.execute(query).all()
        if rows:
            last = (rows[-1].due_at, rows[-1].id)
        return len(rows)

    def claim_batch() -> int:
        with services.sessions.begin() as session:
            claims = claim_due(
                session, now=utcnow(), lookahead=timedelta(0), batch_size=BATCH, lease=timedelta(minutes=5)
            )
        return len(claims)

    read_seconds, read = timed(read_batch)
    claim_seconds, claimed = timed(claim_batch)
    assert read == claimed, (read, claimed)
    return claimed / claim_seconds, read / read_seconds


def measure_claim_and_enqueue(services: Services, broker: redis.Redis, count: int) -> tuple[float, float]:
    dispatcher = Dispatcher(services, jobs=[])
    sent = 0

    def tick() -> int:
        nonlocal sent
        report = dispatcher.tick()
        sent += report.sent
        return report.claimed

    seconds, claimed = timed(tick)
    assert claimed == sent == count, (claimed, sent, count)
    dispatch_rate = claimed / seconds
    broker.flushdb()

    # The baseline: one message per post, held by Celery until its time.
    sender = CeleryTaskQueue(services.settings).app
    due = utcnow() + timedelta(hours=1)
    started = time.perf_counter()
    for _ in range(count):
        sender.send_task(PUBLISH_DELIVERIES, kwargs={"claims": [[str(uuid.uuid4()), 1]]}, eta=due)
    baseline_rate = count / (time.perf_counter() - started)
    broker.flushdb()
    return dispatch_rate, baseline_rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    url = (
        create_postgres_database() if args.backend == "postgresql" else f"sqlite:///{tempfile.mkdtemp()}/b.db"
    )
    broker_url = REDIS_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()
    settings = Settings(
        database_url=url, broker_url=broker_url, data_dir=tempfile.mkdtemp(), claim_batch_size=BATCH
    )
    services = bootstrap(settings)
    try:
        upgrade(services.engine)
        now = utcnow()
        seed_deliveries(services.sessions, args.deliveries, lambda i: now - timedelta(seconds=i % 60))
        if args.backend == "postgresql":
            # As autovacuum would soon after a bulk load: the planner needs the table's statistics.
            with services.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")

        claim_rate, select_rate = measure_claim(services)
        reset(services)
        dispatch_rate, eta_rate = measure_claim_and_enqueue(services, broker, args.deliveries)
        print(
            f"backend={args.backend} deliveries={args.deliveries} "
            f"claim_per_s={claim_rate:,.0f} baseline_select_per_s={select_rate:,.0f} "
            f"ratio={claim_rate / select_rate:.2f}"
        )
        print(
            f"backend={args.backend} deliveries={args.deliveries} "
            f"claim_and_enqueue_per_s={dispatch_rate:,.0f} baseline_celery_eta_per_s={eta_rate:,.0f} "
            f"ratio={dispatch_rate / eta_rate:.2f}"
        )
    finally:
        services.engine.dispose()
        broker.flushdb()
        if args.backend == "postgresql":
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
