"""The embedded broker's candidates side by side: messages moved by concurrent processes, counted and timed.

Each candidate is a Celery broker configuration for `crier up` on one machine:

- `kombu-filesystem`: what Crier ran until now, kombu's file-system transport (it lets a consumer read a
  message file its producer has created but not yet written, kombu issue 1551);
- `crier-filesystem`: Crier's embedded broker, the same folders with messages renamed into place
  (`shared/embedded_broker.py`); this is `celery_config()` of the default settings;
- `sqlalchemy-sqlite`: kombu's SQLAlchemy transport on a SQLite file of its own under the data directory.

Producer processes send tasks with Celery's `send_task`, as the API and the scheduler do; consumer processes
take them from the queue with a kombu consumer on the same Celery configuration, as the worker does. Every
message carries its producer, its number and a digest of its text, so the consumers can tell what arrived
twice, what never arrived and what arrived damaged. Throughput is messages received intact per second, from
the moment every process is ready to the last message taken; the ratio is against `kombu-filesystem` in the
same run.

    python -m bench.broker            # 3 producers, 3 consumers: 20,000 messages of 1 kB, 4,000 of 150 kB
    python -m bench.broker --short    # a tenth of that, for a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import secrets
import sqlite3
import statistics
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.transport import sqlalchemy
from sqlalchemy import Engine, event

from shared.broker import celery_config, prepare_broker
from shared.config import Settings
from shared.db import SQLITE_BUSY_TIMEOUT_SECONDS
from shared.task_names import PUBLISH_DELIVERIES, PUBLISH_QUEUE

KOMBU_FILESYSTEM = "kombu-filesystem"
CRIER_FILESYSTEM = "crier-filesystem"
SQLALCHEMY_SQLITE = "sqlalchemy-sqlite"
CANDIDATES = (KOMBU_FILESYSTEM, CRIER_FILESYSTEM, SQLALCHEMY_SQLITE)
# How long the parent waits for every producer and consumer to be connected before the clock starts.
BARRIER_SECONDS = 600
BASELINE = KOMBU_FILESYSTEM


class SqliteChannel(sqlalchemy.Channel):
    """kombu's SQLAlchemy channel on SQLite set up as Crier's own database is: WAL, synchronous=NORMAL."""

    def _engine_from_config(self) -> Engine:
        engine: Engine = super()._engine_from_config()
        event.listen(engine, "connect", _set_up_sqlite)
        return engine


def _set_up_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # kombu's defaults (a rollback journal, synchronous=FULL) moved 43 messages a second in this benchmark.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqliteTransport(sqlalchemy.Transport):
    """kombu's SQLAlchemy transport, polling as often as Crier's file-system broker does.

    Every transport option goes to `create_engine`, so the polling interval cannot be one.
    """

    Channel = SqliteChannel
    polling_interval = 0.1


def candidate_settings(data_dir: Path) -> Settings:
    """The embedded default's settings, whatever this process's environment says."""
    return Settings(_env_file=None, data_dir=data_dir, broker_url="filesystem://")


def candidate_config(candidate: str, data_dir: Path) -> dict[str, Any]:
    """The Celery configuration of `candidate`, keeping its messages under `data_dir`."""
    settings = candidate_settings(data_dir)
    config = celery_config(settings)
    if candidate == CRIER_FILESYSTEM:
        return config
    if candidate == KOMBU_FILESYSTEM:
        return config | {"broker_transport": "kombu.transport.filesystem:Transport"}
    if candidate == SQLALCHEMY_SQLITE:
        return config | {
            "broker_url": f"sqlite:///{data_dir / 'broker.sqlite'}",
            "broker_transport": f"{__name__}:SqliteTransport",
            # Wait for another process's write as Crier's database does, instead of failing at once.
            "broker_transport_options": {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}},
        }
    raise ValueError(f"Unknown candidate {candidate!r}; the candidates are {', '.join(CANDIDATES)}")


def prepare_candidate(candidate: str, data_dir: Path) -> None:
    """Create what the candidate expects to exist before its processes connect."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if candidate in (KOMBU_FILESYSTEM, CRIER_FILESYSTEM):
        prepare_broker(candidate_settings(data_dir))
    elif candidate == SQLALCHEMY_SQLITE:
        # kombu creates its tables and queue rows on first use, guarded by a lock of one process only:
        # processes starting together on a new file fail with "UNIQUE constraint failed: kombu_queue.name".
        app = _celery_app(candidate, data_dir)
        with app.connection_for_write() as connection:
            app.amqp.queues[PUBLISH_QUEUE](connection.default_channel).declare()


def _celery_app(candidate: str, data_dir: Path) -> Celery:
    app = Celery("bench-broker", set_as_current=False)
    app.conf.update(candidate_config(candidate, data_dir))
    return app


@dataclass(frozen=True)
class Traffic:
    producers: int = 3
    consumers: int = 3
    messages: int = 20_000
    text_bytes: int = 1_000
    # After the last producer is done, a consumer stops when it has taken nothing for this long.
    quiet_seconds: float = 2.0


@dataclass
class Tally:
    """What the consumers saw of the messages the producers sent."""

    sent: int = 0
    send_errors: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupt: int = 0
    # Exceptions a consumer's `drain_events` raised, by class name (a dead Celery worker in real life).
    consumer_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    left_behind: int = 0

    @property
    def intact_per_second(self) -> float:
        intact = self.received - self.duplicated - self.corrupt
        return intact / self.seconds if self.seconds else 0.0

    @property
    def exactly_once(self) -> bool:
        return self.sent > 0 and not (
            self.send_errors or self.lost or self.duplicated or self.corrupt or self.consumer_errors
        )


def move_messages(candidate: str, data_dir: Path, traffic: Traffic) -> Tally:
    """Send `traffic.messages` through `candidate` from producer processes to consumer processes."""
    prepare_candidate(candidate, data_dir)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(traffic.producers + traffic.consumers + 1)
    go, producers_done = context.Event(), context.Event()
    results = context.Queue()
    shares = [traffic.messages // traffic.producers] * traffic.producers
    shares[0] += traffic.messages - sum(shares)
    produce = [(_produce, number, count, traffic.text_bytes, go) for number, count in enumerate(shares)]
    consume = [(_consume, traffic.quiet_seconds, go, producers_done)] * traffic.consumers
    processes = [
        context.Process(target=_report, args=(results, ready, candidate, data_dir, *work))
        for work in produce + consume
    ]
    for process in processes:
        process.start()
    reports: list[dict[str, Any]] = []
    try:
        try:
            # Spawning seven interpreters that each import Celery takes a minute or more on a loaded
            # two-core machine; the wait only guards against a process that never arrives.
            ready.wait(timeout=BARRIER_SECONDS)
        except threading.BrokenBarrierError:
            reports.append({"failed": f"not every process was ready within {BARRIER_SECONDS} s"})
        started = time.monotonic()
        go.set()
        while len(reports) < traffic.producers and not _failures(reports):
            reports.append(results.get(timeout=600))
        producers_done.set()
        while len(reports) < len(processes) and not _failures(reports):
            reports.append(results.get(timeout=600))
    finally:
        go.set()
        producers_done.set()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    if failures := _failures(reports):
        raise RuntimeError(f"A {candidate} process failed:\n{failures[0]}")
    tally = _add_up(reports, started)
    tally.left_behind = _left_behind(candidate, data_dir)
    return tally


def _failures(reports: list[dict[str, Any]]) -> list[str]:
    """What failed, the cause first: a process that fails breaks the barrier, and the others' reports of
    the broken barrier may reach the queue before its own."""
    failed = [report["failed"] for report in reports if "failed" in report]
    return sorted(failed, key=lambda failure: "BrokenBarrierError" in failure)


def _report(results: Any, ready: Any, candidate: str, data_dir: Path, work: Any, *arguments: Any) -> None:
    """Run a producer's or a consumer's work in this process and put what it saw on `results`."""
    try:
        results.put(work(_celery_app(candidate, data_dir), ready, *arguments))
    except BaseException:
        # The others wait for this process at the barrier: let them and the parent go at once.
        ready.abort()
        results.put({"failed": traceback.format_exc()})


def _produce(
    app: Celery, ready: Any, producer: int, count: int, text_bytes: int, go: Event
) -> dict[str, Any]:
    # The connection and the queues are set up before the clock starts, as in a running API.
    app.send_task(PUBLISH_DELIVERIES, kwargs={"warm_up": True})
    ready.wait()
    go.wait()
    sent = errors = 0
    # One random text per producer, made unique per message by its number: making megabytes of randomness
    # per message would measure the producer, not the broker.
    random_text = secrets.token_hex(text_bytes // 2)
    for number in range(count):
        text = f"{producer}.{number}.{random_text}"
        kwargs = {
            "producer": producer,
            "number": number,
            "sent_at": time.monotonic(),
            "text": text,
            "digest": hashlib.sha256(text.encode()).hexdigest(),
        }
        try:
            app.send_task(PUBLISH_DELIVERIES, kwargs=kwargs)
        except Exception:  # a failed send is a figure here, not the end of the run
            errors += 1
        else:
            sent += 1
    return {"sent": sent, "send_errors": errors}


def _consume(
    app: Celery, ready: Any, quiet_seconds: float, go: Event, producers_done: Event
) -> dict[str, Any]:
    received: list[tuple[int, int, float]] = []
    corrupt = 0
    errors: Counter[str] = Counter()
    last_taken = 0.0

    def take(body: Any, message: Any) -> None:
        nonlocal corrupt, last_taken
        last_taken = time.monotonic()
        message.ack()
        kwargs = body[1]
        if kwargs.get("warm_up"):
            return
        if hashlib.sha256(kwargs["text"].encode()).hexdigest() != kwargs["digest"]:
            corrupt += 1
            return
        received.append((kwargs["producer"], kwargs["number"], last_taken - kwargs["sent_at"]))

    def refuse(message: Any, error: Exception) -> None:
        nonlocal corrupt
        corrupt += 1
        message.ack()

    with app.connection_for_read() as connection:
        queue = app.amqp.queues[PUBLISH_QUEUE]
        with connection.Consumer([queue], callbacks=[take], on_decode_error=refuse, accept=["json"]):
            ready.wait()
            go.wait()
            quiet_since: float | None = None
            while True:
                try:
                    connection.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
                except ValueError:
                    # The transport could not decode a message file (JSONDecodeError): a Celery worker dies
                    # of this; here it is counted, and the message it held is lost.
                    corrupt += 1
                except Exception as error:  # what would kill a worker is counted
                    errors[type(error).__name__] += 1
                if producers_done.is_set():
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - max(quiet_since, last_taken) > quiet_seconds:
                        break
    return {"received": received, "corrupt": corrupt, "errors": errors, "last_taken": last_taken}


def _add_up(reports: list[dict[str, Any]], started: float) -> Tally:
    tally = Tally()
    seen: Counter[tuple[int, int]] = Counter()
    last_taken = started
    for report in reports:
        tally.sent += report.get("sent", 0)
        tally.send_errors += report.get("send_errors", 0)
        tally.corrupt += report.get("corrupt", 0)
        tally.consumer_errors.update(report.get("errors", {}))
        for producer, number, latency in report.get("received", []):
            seen[(producer, number)] += 1
            tally.latencies.append(latency)
        if report.get("received"):
            last_taken = max(last_taken, report["last_taken"])
    tally.received = sum(seen.values()) + tally.corrupt
    tally.duplicated = sum(times - 1 for times in seen.values())
    tally.lost = tally.sent - len(seen)
    tally.seconds = last_taken - started
    return tally


def _left_behind(candidate: str, data_dir: Path) -> int:
    """Messages still stored after every consumer stopped: files in the queue folder, or table rows."""
    if candidate == SQLALCHEMY_SQLITE:
        with sqlite3.connect(data_dir / "broker.sqlite") as database:
            (rows,) = database.execute("SELECT count(*) FROM kombu_message").fetchone()
        return int(rows)
    return len(os.listdir(candidate_settings(data_dir).broker_folder / "queue"))


def describe(candidate: str, tally: Tally, baseline: Tally) -> str:
    latencies = sorted(tally.latencies) or [0.0]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    ratio = tally.intact_per_second / baseline.intact_per_second if baseline.intact_per_second else 0.0
    errors = ",".join(f"{name}:{count}" for name, count in sorted(tally.consumer_errors.items())) or "0"
    return (
        f"{candidate:<18} sent={tally.sent:,} received={tally.received:,} lost={tally.lost:,} "
        f"duplicated={tally.duplicated:,} corrupt={tally.corrupt:,} consumer_errors={errors} "
        f"send_errors={tally.send_errors:,} left_behind={tally.left_behind:,} "
        f"msgs_per_s={tally.intact_per_second:,.0f} ratio={ratio:.2f} "
        f"latency_p50_ms={statistics.median(latencies) * 1000:.1f} latency_p99_ms={p99 * 1000:.1f}"
    )


def run(traffics: list[Traffic], candidates: tuple[str, ...] = CANDIDATES) -> Iterator[str]:
    """Move each traffic through each candidate, each in a fresh folder; yield a line per candidate."""
    for traffic in traffics:
        yield (
            f"producers={traffic.producers} consumers={traffic.consumers} messages={traffic.messages:,} "
            f"text_bytes={traffic.text_bytes:,}"
        )
        tallies: dict[str, Tally] = {}
        with tempfile.TemporaryDirectory(prefix="crier-bench-broker-") as scratch:
            for candidate in candidates:
                tallies[candidate] = move_messages(candidate, Path(scratch) / candidate, traffic)
        baseline = tallies.get(BASELINE) or next(iter(tallies.values()))
        for candidate, tally in tallies.items():
            yield describe(candidate, tally, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="a tenth of the messages")
    parser.add_argument("--producers", type=int, default=3)
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--messages", type=int, help="one run of this many messages")
    parser.add_argument("--text-bytes", type=int, help="one run with texts of this size")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    arguments = parser.parse_args()
    # Small messages are what Crier sends (a batch of claims is about a kilobyte); large ones keep kombu's
    # producer writing long enough for its race to show in a few thousand messages.
    sizes = {1_000: 20_000, 150_000: 4_000}
    if arguments.text_bytes or arguments.messages:
        text_bytes = arguments.text_bytes or 1_000
        sizes = {text_bytes: arguments.messages or sizes.get(text_bytes, 4_000)}
    traffics = [
        Traffic(
            arguments.producers,
            arguments.consumers,
            messages // 10 if arguments.short and not arguments.messages else messages,
            text_bytes,
        )
        for text_bytes, messages in sizes.items()
    ]
    for line in run(traffics, tuple(arguments.candidates.split(","))):
        print(line, flush=True)


if __name__ == "__main__":
    main()
