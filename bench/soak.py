"""Soak: `crier up` on the embedded default for N minutes under a steady stream of work. Does it last?

    python -m bench.soak                # 30 minutes
    python -m bench.soak --minutes 120
    python -m bench.soak --short        # a minute of load, for CI (tests/e2e/test_soak.py)

It starts `crier up` exactly as a new user does (SQLite, the file broker, no server of any kind) and, while
it runs: a post every few seconds, due a few seconds later, to one to three sandbox channels (one of them
flaky: it fails, and stores a post then times out, without honouring idempotency keys, so publishing goes
through retries and reconciliation); a thread now and then; every delivery's metrics collected on a short
schedule; an outbound webhook told of every outcome, answered by a receiver in this process. Every few
seconds it reads the resident memory of each of `crier up`'s processes.

At the end, once nothing is left to do, it prints what was published, duplicated or lost (each stored part
compared with what Crier recorded, as the chaos run does), the webhook messages received, process restarts,
the errors in the logs, and each process's RSS growth after warm-up. It exits 1 when a target is missed:
a crash or restart, anything lost or doubled, an error in a log, or RSS growing 10 % or more after warm-up.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, Select, column, func, select, table, text

from bench.chaos.verdict import FINAL_STATES, Verdict, read_deliveries, sandbox_parts, verify
from bench.fleet import free_port, spawn, stop_groups
from shared.config import Settings
from shared.db import create_db_engine
from shared.networks.sandbox.adapter import SandboxNetwork
from tests.process_table import descendants, resident_bytes, supervised_children

CRIER = str(Path(sys.executable).parent / "crier")
STARTUP_TIMEOUT = 60.0
STOP_GRACE_SECONDS = 30.0
# Growth is measured from the end of warm-up (imports done, caches and pools filled) to the end.
WARM_UP_SHARE = 1 / 3
# Each end of the growth is the median of this many samples, so that one busy moment does not decide it.
SAMPLES_PER_END = 6
RSS_GROWTH_TARGET = 0.10
# How far ahead each post is scheduled: the scheduler's claim, not the API's create, publishes it.
LEAD_SECONDS = (2.0, 20.0)
THREAD_SHARE = 0.1
# After the last due time: retries (5 s, 10 s, 20 s …), reconciliation, webhook messages, metrics.
DRAIN_TIMEOUT = timedelta(minutes=4)
WEBHOOK_EVENTS = ["delivery.published", "delivery.failed", "delivery.needs_review"]
# The flaky channel fails this share of requests, and stores then times out on this share.
FLAKY = {"latency_ms": 100, "failure_rate": 0.1, "stored_then_timeout_rate": 0.05}
# Published deliveries' metrics: collected 20 s after publishing, then at 1, 3 and 10 minutes.
METRICS_SCHEDULE = "20s,1m,3m,10m"


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 30.0
    posts_per_minute: float = 20.0
    # A share of webhook requests the receiver answers 503 to, so that messages are retried.
    receiver_failure_rate: float = 0.02
    sample_every_seconds: float = 5.0
    seed: int = 0

    @classmethod
    def short(cls) -> SoakOptions:
        # The receiver's 503s wait 30 s for their retry: without them, the run ends soon after its load.
        return cls(minutes=1.0, posts_per_minute=40.0, receiver_failure_rate=0.0, sample_every_seconds=2.0)


@dataclass
class WebhookReceiver:
    """The workspace's webhook endpoint: an HTTP server that keeps every message it accepted."""

    failure_rate: float
    rng: random.Random
    accepted: list[dict[str, object]] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> int:
        with self.lock:
            if self.rng.random() < self.failure_rate:
                self.refused += 1
                return HTTPStatus.SERVICE_UNAVAILABLE
            self.accepted.append(json.loads(body))
            return HTTPStatus.NO_CONTENT

    @contextmanager
    def serving(self) -> Iterator[str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(receiver.take(body))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # a line per request would bury the report

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, name="webhook receiver", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/crier"
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class MemoryWatch:
    """Each process's resident memory over time, gunicorn's workers counted with the API."""

    samples: defaultdict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))

    def sample(self, crier_up_pid: int, at: float) -> None:
        for name, child in supervised_children(crier_up_pid).items():
            family = [child.pid, *(entry.pid for entry in descendants(child.pid))]
            self.samples[name].append((at, sum(resident_bytes(pid) for pid in family)))

    def growth(self, warm_until: float) -> dict[str, tuple[int, int, float]]:
        """Per process: RSS at the end of warm-up, RSS at the end, and the growth between as a share."""
        grown = {}
        for name, samples in self.samples.items():
            after = [rss for at, rss in samples if at >= warm_until]
            if len(after) < 2 * SAMPLES_PER_END:
                continue
            start = int(statistics.median(after[:SAMPLES_PER_END]))
            end = int(statistics.median(after[-SAMPLES_PER_END:]))
            grown[name] = (start, end, (end - start) / start)
        return grown


@dataclass
class Stream:
    """Writes posts through the API at a steady rate."""

    api: httpx.Client
    channel_ids: list[str]
    rng: random.Random
    posts: int = 0
    refused: list[str] = field(default_factory=list)
    last_due: datetime | None = None

    def post_one(self) -> None:
        due = datetime.now(UTC) + timedelta(seconds=self.rng.uniform(*LEAD_SECONDS))
        channels = self.rng.sample(self.channel_ids, self.rng.randint(1, len(self.channel_ids)))
        body: dict[str, object] = {
            "text": f"Soak post {self.posts + 1} at {due:%H:%M:%S}.",
            "channel_ids": channels,
            "scheduled_at": due.isoformat(),
        }
        if self.rng.random() < THREAD_SHARE:
            body["thread"] = [f"Reply {n} to soak post {self.posts + 1}." for n in (1, 2)]
        answer = self.api.post("/v1/posts", json=body)
        if answer.status_code != 201:
            self.refused.append(f"{answer.status_code}: {answer.text[:300]}")
            return
        self.posts += 1
        self.last_due = max(self.last_due or due, due)


@dataclass
class SoakResult:
    minutes: float
    posts: int
    refused_posts: list[str]
    verdict: Verdict
    metric_samples: int
    webhook_missing: int
    webhook_repeats: int
    webhook_refused: int
    restarts: dict[str, float]
    # Why the run did not end as planned: `crier up` stopped, or work was left after the drain.
    unfinished: str | None
    log_errors: list[str]
    log_warnings: Counter[str]
    rss: dict[str, tuple[int, int, float]]

    @property
    def passed(self) -> bool:
        return (
            self.unfinished is None
            and not self.refused_posts
            and self.verdict.passed
            and self.webhook_missing == 0
            and not any(self.restarts.values())
            and not self.log_errors
            and all(growth < RSS_GROWTH_TARGET for _, _, growth in self.rss.values())
        )

    def report(self) -> str:
        v = self.verdict
        states = ", ".join(f"{state} {count}" for state, count in sorted(v.states.items()))
        lines = [
            f"soak: {self.minutes:g} minutes, {self.posts} posts, {v.deliveries} deliveries ({states})",
            f"published parts {v.parts}, duplicates {v.duplicates}, lost {v.lost}, mismatches {v.mismatches}",
            f"metric samples collected {self.metric_samples}",
            f"webhook messages: missing {self.webhook_missing}, received twice {self.webhook_repeats}, "
            f"refused by the receiver (then retried) {self.webhook_refused}",
            f"process restarts {dict(self.restarts)}; unfinished: {self.unfinished or 'no'}",
            f"errors in logs {len(self.log_errors)}, warnings {sum(self.log_warnings.values())}",
        ]
        lines += [f"  error: {line}" for line in self.log_errors[:20]]
        lines += [f"  warning x{count}: {message}" for message, count in self.log_warnings.most_common(5)]
        lines += [f"  refused post: {answer}" for answer in self.refused_posts[:5]]
        lines += v.report
        for name, (start, end, growth) in sorted(self.rss.items()):
            lines.append(
                f"RSS {name:9} after warm-up {start / 2**20:6.1f} MiB, at the end {end / 2**20:6.1f} MiB, "
                f"growth {growth:+.1%}"
            )
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)


def read_log(log: str) -> tuple[list[str], Counter[str]]:
    """The error lines of `crier up`'s output, and its warnings counted by message.

    Crier's processes write JSON lines (CRIER_LOG_FORMAT=json); gunicorn's master writes its own format
    before logging is set up, and a crash writes a traceback.
    """
    errors: list[str] = []
    warnings: Counter[str] = Counter()
    for line in log.splitlines():
        _, _, said = line.partition(" | ")
        if said.startswith("{"):
            try:
                record = json.loads(said)
            except json.JSONDecodeError:
                record = {}
            level = record.get("level")
            if level in ("ERROR", "CRITICAL"):
                errors.append(line)
            elif level == "WARNING":
                warnings[f"{record.get('logger')}: {str(record.get('message'))[:160]}"] += 1
        elif "Traceback" in said or "[ERROR]" in said or "[CRITICAL]" in said:
            errors.append(line)
    return errors, warnings


def restarts_on_metrics(base_url: str) -> dict[str, float]:
    answer = httpx.get(f"{base_url}/metrics", timeout=10).text
    return {
        sample.labels["process"]: sample.value
        for family in text_string_to_metric_families(answer)
        for sample in family.samples
        if sample.name == "crier_process_restarts_total"
    }


def count_rows(engine: Engine, query: Select[int]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def webhook_outcomes(receiver: WebhookReceiver, engine: Engine) -> tuple[int, int]:
    """How many final deliveries no accepted message told of, and how many messages arrived twice."""
    told = Counter(str(message["id"]) for message in receiver.accepted)
    about = {str(message["data"]["delivery_id"]) for message in receiver.accepted}  # type: ignore[index]
    with engine.connect() as connection:
        announced = {
            str(uuid.UUID(str(row.id)))  # SQLite keeps 32 hex digits, messages have dashes
            for row in connection.execute(
                text("SELECT id FROM deliveries WHERE state IN ('published', 'failed', 'needs_review')")
            )
        }
    return len(announced - about), sum(count - 1 for count in told.values())


class Soak:
    """One run: the stack, the receiver and the stream, and what is measured of them."""

    def __init__(self, options: SoakOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.rng = random.Random(options.seed)
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {
            "PATH": "/usr/bin:/bin",
            "CRIER_DATA_DIR": str(workdir / "var"),
            "CRIER_API_BIND": f"127.0.0.1:{port}",
            "CRIER_PUBLIC_URL": self.base_url,
            # The webhook receiver listens on this machine, as an operator's own server would.
            "CRIER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
            "CRIER_LOG_FORMAT": "json",
            "CRIER_LOG_LEVEL": "INFO",
            "CRIER_METRICS_SCHEDULE": METRICS_SCHEDULE,
            "CRIER_METRICS_INTERVAL_SECONDS": "5",
            "CRIER_WEBHOOK_INTERVAL_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = workdir / "crier-up.log"
        self.settings = Settings.model_validate(
            {
                key[len("CRIER_") :].lower(): value
                for key, value in self.env.items()
                if key.startswith("CRIER_")
            }
        )
        self.memory = MemoryWatch()
        self.process: subprocess.Popen[bytes] | None = None

    def crier(self, *args: str) -> str:
        done = subprocess.run(
            [CRIER, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"crier {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def exited(self) -> int | None:
        """`crier up`'s exit code once it has stopped; None while it runs."""
        assert self.process is not None
        return self.process.poll()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.exited() is not None:
                raise RuntimeError(f"`crier up` exited early:\n{self.log_path.read_text()[-5000:]}")
            try:
                api_ready = httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                api_ready = False
            if api_ready and " ready." in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"Crier was not ready within {STARTUP_TIMEOUT:g} s")

    def run(self) -> SoakResult:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = spawn([CRIER, "up"], self.log_path, self.env, self.workdir)
        receiver = WebhookReceiver(self.options.receiver_failure_rate, random.Random(self.options.seed + 1))
        try:
            self.wait_until_ready()
            with receiver.serving() as receiver_url:
                api = httpx.Client(
                    base_url=self.base_url,
                    headers={
                        "Authorization": f"Bearer {self.crier('token', 'create', '--workspace', 'Soak')}"
                    },
                    timeout=30,
                )
                stream = Stream(api, self.connect(api, receiver_url), self.rng)
                started = time.monotonic()
                unfinished = self.load(stream, started, self.process.pid) or self.drain(stream)
                restarts = restarts_on_metrics(self.base_url) if self.exited() is None else {}
            engine = create_db_engine(self.settings.resolved_database_url)
            verdict = verify(
                read_deliveries(engine), sandbox_parts(SandboxNetwork.from_settings(self.settings).store)
            )
            missing, repeats = webhook_outcomes(receiver, engine)
            metric_samples = count_rows(engine, select(func.count()).select_from(table("metric_samples")))
        finally:
            stop_groups([self.process], STOP_GRACE_SECONDS)
        errors, warnings = read_log(self.log_path.read_text(errors="replace"))
        warm_until = started + self.options.minutes * 60 * WARM_UP_SHARE
        return SoakResult(
            minutes=self.options.minutes,
            posts=stream.posts,
            refused_posts=stream.refused,
            verdict=verdict,
            metric_samples=metric_samples,
            webhook_missing=missing,
            webhook_repeats=repeats,
            webhook_refused=receiver.refused,
            restarts=restarts,
            unfinished=unfinished,
            log_errors=errors,
            log_warnings=warnings,
            rss=self.memory.growth(warm_until),
        )

    def connect(self, api: httpx.Client, receiver_url: str) -> list[str]:
        channels = []
        for name, settings in (
            ("Steady", {"latency_ms": 20}),
            ("Slow", {"latency_ms": 400}),
            ("Flaky", {**FLAKY, "honours_idempotency_key": False}),
        ):
            answer = api.post(
                "/v1/channels",
                json={"network": "sandbox", "name": name, "handle": name.lower(), "settings": settings},
            )
            answer.raise_for_status()
            channels.append(answer.json()["id"])
        api.post("/v1/webhooks", json={"url": receiver_url, "events": WEBHOOK_EVENTS}).raise_for_status()
        return channels

    def load(self, stream: Stream, started: float, crier_up_pid: int) -> str | None:
        """Posts at the steady rate until the time is up; what went wrong if `crier up` stopped."""
        every = 60.0 / self.options.posts_per_minute
        ends = started + self.options.minutes * 60
        next_post = next_sample = started
        while (now := time.monotonic()) < ends:
            if self.exited() is not None:
                return f"`crier up` exited with {self.exited()} after {(now - started) / 60:.1f} minutes"
            if now >= next_post:
                stream.post_one()
                next_post += every
            if now >= next_sample:
                self.memory.sample(crier_up_pid, now)
                next_sample += self.options.sample_every_seconds
            time.sleep(max(min(next_post, next_sample) - time.monotonic(), 0))
        return None

    def drain(self, stream: Stream) -> str | None:
        """Waits until every delivery is final and every webhook message sent; what is left if not."""
        engine = create_db_engine(self.settings.resolved_database_url)
        deadline = datetime.now(UTC) + DRAIN_TIMEOUT
        while datetime.now(UTC) < deadline:
            if self.exited() is not None:
                return f"`crier up` exited with {self.exited()} while the last posts went out"
            waiting = count_rows(
                engine,
                select(func.count())
                .select_from(table("deliveries"))
                .where(column("state").not_in(FINAL_STATES)),
            )
            unsent = count_rows(
                engine,
                select(func.count())
                .select_from(table("webhook_messages"))
                .where(column("state") == "pending"),
            )
            if (
                waiting == 0
                and unsent == 0
                and (stream.last_due is None or stream.last_due < datetime.now(UTC))
            ):
                return None
            time.sleep(1)
        return f"still busy {DRAIN_TIMEOUT} after the load: deliveries or webhook messages left"


def run_soak(options: SoakOptions, workdir: Path) -> SoakResult:
    return Soak(options, workdir).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=SoakOptions.minutes)
    parser.add_argument("--posts-per-minute", type=float, default=SoakOptions.posts_per_minute)
    parser.add_argument("--short", action="store_true", help="a minute of load, as CI runs it")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the log")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    options = (
        SoakOptions.short()
        if args.short
        else SoakOptions(minutes=args.minutes, posts_per_minute=args.posts_per_minute, seed=args.seed)
    )
    workdir = Path(tempfile.mkdtemp(prefix="crier-soak-"))
    try:
        result = run_soak(options, workdir)
        print(result.report())
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
