"""Publishing on time and at volume, through the real processes, against baselines measured in the same run.

    .venv/bin/python -m bench.publishing burst --deliveries 10000
    .venv/bin/python -m bench.publishing steady --per-second 2 --seconds 60
    .venv/bin/python -m bench.publishing throughput --deliveries 5000 --latency-ms 200

A fresh PostgreSQL database, a throwaway redis-server as the broker, one scheduler and `--workers` Celery
workers started with the command lines `crier up` uses, and the sandbox network storing its posts in the
same database. Lag is measured from a delivery's scheduled time to the moment the sandbox stored its post
(the adapter call), both read from the database.

- burst: every delivery due in the same second. Figures: lag percentiles, and the time until the last one
  was out. Baseline: the same number of sandbox calls made directly, at that second, by a thread pool as
  wide as the workers' calls can be (no database, no broker, no Crier) — what the network alone allows.
- steady: a light load, `--per-second` deliveries due each second for `--seconds`. Figures: lag
  percentiles. Baseline: the scheduler's tick, the floor of how early a due delivery can be seen.
- throughput: deliveries all due at once on a sandbox with `--latency-ms`; publishes per second from the
  first stored post to the last. Baseline: the direct calls again.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from bench.fleet import Fleet, RedisServer, crier_environment, free_port
from bench.seeding import seed_deliveries
from shared.config import Settings
from shared.db import create_db_engine
from shared.deliveries.models import Delivery, DeliveryState
from shared.migrations import upgrade
from shared.models import create_session_factory
from shared.networks.ports import Account, Draft
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.store import SandboxStore
from tests.conftest import create_postgres_database, drop_postgres_database

STARTUP_SECONDS = 8.0


def lag_percentiles(engine: Engine) -> dict[str, float]:
    """Seconds from each delivery's time to its post in the sandbox store: p50, p95, p99, max, and count."""
    query = text(
        """
        SELECT count(*) AS n,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY lag) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) AS p95,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
               max(lag) AS max
        FROM (SELECT extract(epoch FROM s.created_at - d.scheduled_at) AS lag
              FROM deliveries d JOIN sandbox_posts s ON s.idempotency_key = d.id::text) AS lags
        """
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().one()
    return {key: float(value or 0) for key, value in row.items()}


def store_span(engine: Engine) -> tuple[int, float]:
    """How many posts the sandbox stored, and the seconds from the first to the last."""
    query = text("SELECT count(*), extract(epoch FROM max(created_at) - min(created_at)) FROM sandbox_posts")
    with engine.connect() as connection:
        count, span = connection.execute(query).one()
    return int(count), float(span or 0)


def wait_until_final(engine: Engine, count: int, timeout: float) -> float:
    """Wait until `count` deliveries are final; the seconds waited."""
    started = time.monotonic()
    query = select(func.count()).where(Delivery.state.in_(DeliveryState.final()))
    while time.monotonic() - started < timeout:
        with engine.connect() as connection:
            if connection.execute(query).scalar_one() >= count:
                return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"not every delivery was final after {timeout:.0f} s")


def direct_calls(
    settings: Settings, count: int, width: int, latency_ms: float, at: datetime
) -> tuple[float, float]:
    """The baseline: `count` sandbox calls by `width` threads from `at`; (p99 lag, calls per second)."""
    network = SandboxNetwork(SandboxStore(create_db_engine(settings.resolved_sandbox_store_url)))
    account = Account(channel_id="baseline", handle="baseline", settings={"latency_ms": latency_ms})
    lags: list[float] = []

    def call(_: int) -> None:
        network.publish(account, Draft(text="baseline"), f"baseline-{uuid.uuid4()}")
        lags.append((datetime.now(UTC) - at).total_seconds())

    time.sleep(max((at - datetime.now(UTC)).total_seconds(), 0))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(call, range(count)))
    seconds = time.perf_counter() - started
    lags.sort()
    network.store.engine.dispose()
    return lags[int(len(lags) * 0.99) - 1], count / seconds


def with_stack(args: argparse.Namespace, run: Callable[[Settings, Engine], None]) -> None:
    """Run `run` with a database, a broker, a scheduler and workers, and take them all down after."""
    workdir = Path(tempfile.mkdtemp(prefix="crier-bench-"))
    database_url = create_postgres_database()
    redis_server = RedisServer(free_port(), workdir)
    fleet: Fleet | None = None
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        redis_server.start()
        settings = Settings(
            data_dir=workdir / "var",
            database_url=database_url,
            sandbox_store_url=database_url,
            broker_url=redis_server.url(0),
            redis_url=redis_server.url(1),
            worker_concurrency=args.threads,
            log_level="WARNING",
        )
        fleet = Fleet(settings, crier_environment(settings, dict(os.environ)), workdir)
        fleet.start("scheduler")
        for _ in range(args.workers):
            fleet.start("worker")
        run(settings, engine)
    finally:
        if fleet is not None:
            fleet.stop()
        redis_server.stop()
        engine.dispose()
        drop_postgres_database(database_url)


def seed(engine: Engine, count: int, due_at: Callable[[int], datetime], latency_ms: float) -> None:
    seed_deliveries(create_session_factory(engine), count, due_at, sandbox_options={"latency_ms": latency_ms})


def calls_width(args: argparse.Namespace, settings: Settings) -> int:
    """How many sandbox calls the workers can have in flight at once."""
    return args.workers * settings.network_call_threads


def burst(args: argparse.Namespace, settings: Settings, engine: Engine) -> str:
    due = datetime.now(UTC) + timedelta(seconds=STARTUP_SECONDS)
    seed(engine, args.deliveries, lambda _: due, args.latency_ms)
    wait_until_final(engine, args.deliveries, timeout=STARTUP_SECONDS + 600)
    lags = lag_percentiles(engine)
    start = datetime.now(UTC) + timedelta(seconds=1)
    baseline_p99, _ = direct_calls(
        settings, args.deliveries, calls_width(args, settings), args.latency_ms, start
    )
    return (
        f"burst deliveries={args.deliveries} latency_ms={args.latency_ms:g} published={int(lags['n'])} "
        f"p50={lags['p50']:.2f}s p95={lags['p95']:.2f}s p99={lags['p99']:.2f}s "
        f"all_out_after={lags['max']:.2f}s "
        f"baseline_direct_p99={baseline_p99:.2f}s ratio_p99={lags['p99'] / baseline_p99:.2f}"
    )


def steady(args: argparse.Namespace, settings: Settings, engine: Engine) -> str:
    count = int(args.per_second * args.seconds)
    first = datetime.now(UTC) + timedelta(seconds=STARTUP_SECONDS)
    seed(engine, count, lambda i: first + timedelta(seconds=i / args.per_second), args.latency_ms)
    wait_until_final(engine, count, timeout=STARTUP_SECONDS + args.seconds + 120)
    lags = lag_percentiles(engine)
    tick = settings.scheduler_tick_seconds
    return (
        f"steady per_second={args.per_second:g} seconds={args.seconds} latency_ms={args.latency_ms:g} "
        f"published={int(lags['n'])} p50={lags['p50']:.3f}s p95={lags['p95']:.3f}s p99={lags['p99']:.3f}s "
        f"max={lags['max']:.3f}s baseline_tick={tick:.3f}s ratio_p99={lags['p99'] / tick:.2f}"
    )


def throughput(args: argparse.Namespace, settings: Settings, engine: Engine) -> str:
    due = datetime.now(UTC) + timedelta(seconds=STARTUP_SECONDS)
    seed(engine, args.deliveries, lambda _: due, args.latency_ms)
    wait_until_final(engine, args.deliveries, timeout=STARTUP_SECONDS + 600)
    stored, span = store_span(engine)
    start = datetime.now(UTC) + timedelta(seconds=1)
    _, baseline_rate = direct_calls(
        settings, args.deliveries, calls_width(args, settings), args.latency_ms, start
    )
    rate = stored / span
    return (
        f"throughput deliveries={args.deliveries} latency_ms={args.latency_ms:g} published={stored} "
        f"publishes_per_s={rate:,.0f} baseline_direct_per_s={baseline_rate:,.0f} "
        f"ratio={rate / baseline_rate:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--latency-ms", type=float, default=0, help="the sandbox's latency per call")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("burst").add_argument("--deliveries", type=int, default=10_000)
    steady_parser = commands.add_parser("steady")
    steady_parser.add_argument("--per-second", type=float, default=2)
    steady_parser.add_argument("--seconds", type=int, default=60)
    commands.add_parser("throughput").add_argument("--deliveries", type=int, default=5_000)
    args = parser.parse_args()
    scenario = {"burst": burst, "steady": steady, "throughput": throughput}[args.command]
    with_stack(args, lambda settings, engine: print(scenario(args, settings, engine)))


if __name__ == "__main__":
    main()
