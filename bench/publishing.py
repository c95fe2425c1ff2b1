"""Publishing on time and at volume, through the real processes, against baselines measured in the same run.

    .venv/bin/python -m bench.publishing burst --deliveries 10000
    .venv/bin/python -m bench.publishing steady --per-second 2 --seconds 60
    .venv/bin/python -m bench.publishing throughput --deliveries 5000 --latency-ms 200
    .venv/bin/python -m bench.publishing sweep --worker-counts 1,2,4,8 --deliveries 5000

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
- sweep: the throughput scenario once per worker count, each on a fresh stack (one PostgreSQL database,
  one broker). Beside publishes per second, what each part of the machine did meanwhile, sampled every
  0.2 s: the cores PostgreSQL's backends for this database used, and what its active backends were doing
  (on CPU, or waiting, by pg_stat_activity's wait event); the cores the workers and the scheduler used; the
  machine's busy share. The limit is the part that stops growing with the workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

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


def with_stack(
    args: argparse.Namespace,
    run: Callable[[Settings, Engine, Fleet], None],
    log_level: str = "WARNING",
    sandbox_apart: bool = False,
) -> None:
    """Run `run` with a database, a broker, a scheduler and workers, and take them all down after.

    `sandbox_apart`: the sandbox's store in a database of its own on the same server, not in Crier's.
    """
    workdir = Path(tempfile.mkdtemp(prefix="crier-bench-"))
    database_url = create_postgres_database()
    sandbox_url = create_postgres_database() if sandbox_apart else database_url
    redis_server = RedisServer(free_port(), workdir)
    fleet: Fleet | None = None
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        redis_server.start()
        settings = Settings(
            data_dir=workdir / "var",
            database_url=database_url,
            sandbox_store_url=sandbox_url,
            broker_url=redis_server.url(0),
            redis_url=redis_server.url(1),
            worker_concurrency=args.threads,
            log_level=log_level,
            **(
                {"network_call_threads": args.network_threads}
                if getattr(args, "network_threads", None)
                else {}
            ),
        )
        fleet = Fleet(settings, crier_environment(settings, dict(os.environ)), workdir)
        fleet.start("scheduler")
        for _ in range(args.workers):
            fleet.start("worker")
        run(settings, engine, fleet)
    finally:
        if fleet is not None:
            fleet.stop()
        redis_server.stop()
        engine.dispose()
        drop_postgres_database(database_url)
        if sandbox_apart:
            drop_postgres_database(sandbox_url)


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


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.2


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) a process of this machine has used; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime and stime, fields 14 and 15


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


@dataclass
class DatabaseLoad:
    """One database's client backends as sampled: their CPU time, and what the active ones were doing."""

    name: str
    url: str
    backend_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid → (first, last seen)
    states: Counter[str] = field(default_factory=Counter)  # per active backend per sample: CPU or wait
    samples: int = 0

    def sample(self, connection: psycopg.Connection[tuple[int, str, str | None, str | None]]) -> None:
        self.samples += 1
        query = (
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        for pid, state, wait_type, wait_event in connection.execute(query, [make_url(self.url).database]):
            used = cpu_seconds(pid)
            if used is not None:
                first, _ = self.backend_cpu.get(pid, (used, used))
                self.backend_cpu[pid] = (first, used)
            if state == "active":
                self.states[f"{wait_type}:{wait_event}" if wait_type else "CPU"] += 1

    def report(self, seconds: float) -> str:
        cores = sum(last - first for first, last in self.backend_cpu.values()) / seconds
        active = sum(self.states.values())
        doing = ", ".join(f"{state} {count / active:.0%}" for state, count in self.states.most_common(3))
        return (
            f"{self.name}_db_cores={cores:.2f} {self.name}_db_active={active / max(self.samples, 1):.1f} "
            f"{self.name}_db_doing=[{doing or 'idle'}]"
        )


class MachineLoad:
    """What PostgreSQL's backends for each database, the fleet and the machine did between start() and
    stop(). PostgreSQL must run on this machine (its backends' CPU is read from /proc), as the test
    server does; the sampling connection (to the first database) leaves itself out."""

    def __init__(self, databases: list[DatabaseLoad], fleet: Fleet) -> None:
        self.databases = databases
        self.fleet = fleet
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.sample_until_stopped, name="machine load", daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self.machine_before = machine_busy_ticks()
        self.fleet_before = self.fleet_cpu()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.seconds = time.monotonic() - self.started
        busy, total = machine_busy_ticks()
        self.machine_busy = (busy - self.machine_before[0]) / max(total - self.machine_before[1], 1)
        self.fleet_after = self.fleet_cpu()

    def fleet_cpu(self) -> dict[str, float]:
        return {child.name: cpu_seconds(child.process.pid) or 0.0 for child in self.fleet.children}

    def sample_until_stopped(self) -> None:
        url = make_url(self.databases[0].url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as connection:
            connection.execute("SET application_name = 'bench sampler'")
            while not self.stopping.wait(SAMPLE_SECONDS):
                for database in self.databases:
                    database.sample(connection)

    def fleet_cores(self, kind: str) -> float:
        used = sum(
            self.fleet_after[name] - self.fleet_before.get(name, 0.0)
            for name in self.fleet_after
            if name.startswith(kind)
        )
        return used / self.seconds

    def report(self) -> str:
        databases = " ".join(database.report(self.seconds) for database in self.databases)
        return (
            f"{databases} worker_cores={self.fleet_cores('worker'):.2f} "
            f"scheduler_cores={self.fleet_cores('scheduler'):.2f} machine_busy={self.machine_busy:.0%}"
        )


def sweep(args: argparse.Namespace, say: Callable[[str], None] = print) -> None:
    """The throughput scenario at each worker count, each on a fresh stack, with what the machine did."""
    cores = os.cpu_count() or 1
    say(
        f"sweep deliveries={args.deliveries} latency_ms={args.latency_ms:g} threads={args.threads} "
        f"network_threads={getattr(args, 'network_threads', None) or Settings().network_call_threads} "
        f"cores={cores} load_average_before={os.getloadavg()[0]:.1f}"
    )
    for workers in args.worker_counts:

        def measure(settings: Settings, engine: Engine, fleet: Fleet, workers: int = workers) -> None:
            fleet.wait_until_ready(timeout=120)
            due = datetime.now(UTC) + timedelta(seconds=2)
            seed(engine, args.deliveries, lambda _: due, args.latency_ms)
            load = MachineLoad(
                [
                    DatabaseLoad("crier", settings.resolved_database_url),
                    DatabaseLoad("sandbox", settings.resolved_sandbox_store_url),
                ],
                fleet,
            )
            time.sleep(max((due - datetime.now(UTC)).total_seconds() - 0.5, 0))
            load.start()
            try:
                wait_until_final(engine, args.deliveries, timeout=600)
            finally:
                load.stop()
            sandbox = create_db_engine(settings.resolved_sandbox_store_url)
            stored, span = store_span(sandbox)
            sandbox.dispose()
            with engine.connect() as connection:
                attempts = connection.execute(text("SELECT count(*) FROM publish_attempts")).scalar_one()
            say(
                f"workers={workers} published={stored} publishes_per_s={stored / span:,.0f} "
                f"first_to_last_s={span:.1f} attempts={attempts} {load.report()}"
            )

        # At INFO, each process says when it is ready (its start line, Celery's " ready."): the burst falls
        # due once every worker is, not while some still start. Each publish then logs a line.
        # The sandbox's store apart, so that Crier's database is measured alone: the store takes one lock
        # per stored post (the sandbox's pages stay in order), a network's ceiling rather than Crier's.
        with_stack(
            argparse.Namespace(**{**vars(args), "workers": workers}),
            measure,
            log_level="INFO",
            sandbox_apart=True,
        )


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: worker counts are whole numbers, comma-separated"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: each worker count is 1 or more")
    return counts


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
    sweep_parser = commands.add_parser("sweep")
    sweep_parser.add_argument("--deliveries", type=int, default=5_000)
    sweep_parser.add_argument(
        "--network-threads", type=int, help="network calls each worker makes at once (default 64)"
    )
    sweep_parser.add_argument(
        "--worker-counts", type=worker_counts, default=[1, 2, 4, 8], help="comma-separated, e.g. 1,2,4,8"
    )
    args = parser.parse_args()
    if args.command == "sweep":
        sweep(args, lambda line: print(line, flush=True))
        return
    scenario = {"burst": burst, "steady": steady, "throughput": throughput}[args.command]
    with_stack(args, lambda settings, engine, _: print(scenario(args, settings, engine)))


if __name__ == "__main__":
    main()
