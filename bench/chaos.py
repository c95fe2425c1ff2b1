"""The chaos run: crash schedulers and workers, and restart the broker, while posts fall due; then prove that
no delivery was published twice and none was lost.

    .venv/bin/python -m bench.chaos [--deliveries 3000] [--spread-seconds 60] [--kill-every 3] [--short]
                                    [--drain-timeout S] [--seed N] [--keep]

It makes a fresh PostgreSQL database (through CRIER_TEST_POSTGRES_URL, like the tests) and starts its own
redis-server as the broker, so it can kill that too. It seeds posts through the core on sandbox channels that
are slow, fail, lose replies and do NOT honour idempotency keys, so a second publish of one delivery really
stores a second post. Two schedulers and two Celery workers run with the real command lines; every few
seconds one of them is killed with SIGKILL (its whole process group) and replaced, and once the broker is
killed and started again empty. When the last post has fallen due the killing stops, and the run waits for
every delivery to reach a final state. Then it compares the deliveries with what the sandbox stored.

The last line reads `deliveries=N published=… failed=… needs_review=… duplicates=0 lost=0 missed=…
kill_cycles=… redis_restarts=… seconds=…`. The exit status is 0 only with no duplicate, nothing lost and
no sandbox post that Crier does not account for.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from bench.fleet import TICK_SECONDS, Fleet, Kind, RedisServer, free_port
from shared.bootstrap import Services, bootstrap
from shared.channels.services import connect_channel
from shared.config import Settings
from shared.db import create_db_engine, utcnow
from shared.migrations import upgrade
from shared.networks.sandbox import SandboxStore, sandbox_posts
from shared.posts.services import PostRequest, TargetRequest, create_post
from shared.workspaces.access import Actor
from shared.workspaces.services import get_or_create_workspace
from tests.conftest import create_postgres_database, drop_postgres_database

# States are strings here, not DeliveryState members: the run must work while the state machine grows.
FINAL_STATES = ("published", "failed", "needs_review", "cancelled", "missed")
NON_FINAL_STATES = ("scheduled", "retry_wait", "enqueued", "publishing", "unknown")
# A sandbox post is accounted for only by a delivery that says it may be out there.
STATES_THAT_OWN_A_POST = frozenset({"published", "needs_review"})

CHANNELS = 10
FIRST_DUE_AFTER = timedelta(seconds=5)
POSTS_PER_TRANSACTION = 100
STARTUP_TIMEOUT = 60.0
REDIS_DOWN_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 5.0
SHOWN_PER_PROBLEM = 10
# After a waiting delivery's due time: a claim, an attempt, and if that is cut short the publish lease
# (8 s) and a reconciliation (every 2 s).
DUE_GRACE_SECONDS = 20.0
MAX_EXTENSION_SECONDS = 120.0


@dataclass(frozen=True)
class Plan:
    deliveries: int
    spread_seconds: float
    kill_every: float
    drain_timeout: float
    seed: int
    keep: bool


def parse_plan(argv: Sequence[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, help="deliveries to seed (default 3000; --short 300)")
    parser.add_argument(
        "--spread-seconds", type=float, help="due times spread over this long (default 60; --short 20)"
    )
    parser.add_argument(
        "--kill-every", type=float, help="seconds between kills, jittered ±50%% (default 3; --short 2)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        help="after the last due time, wait this long for every delivery to be final, longer only while "
        "a retry's backoff runs, up to 120 s more (default 120; --short 45)",
    )
    parser.add_argument("--short", action="store_true", help="a run of about a minute, for the e2e test")
    parser.add_argument("--seed", type=int, help="random seed for the posts and the kills")
    parser.add_argument("--keep", action="store_true", help="keep the database and the log folder afterwards")
    args = parser.parse_args(argv)
    defaults = (300, 20.0, 2.0, 45.0) if args.short else (3000, 60.0, 3.0, 120.0)
    given = (args.deliveries, args.spread_seconds, args.kill_every, args.drain_timeout)
    deliveries, spread, kill_every, drain = (
        default if value is None else value for value, default in zip(given, defaults, strict=True)
    )
    if deliveries < 1 or spread <= 0 or kill_every <= 0 or drain < 0:
        parser.error(
            "--deliveries, --spread-seconds and --kill-every must be positive, --drain-timeout not negative"
        )
    return Plan(
        deliveries=int(deliveries),
        spread_seconds=float(spread),
        kill_every=float(kill_every),
        drain_timeout=float(drain),
        seed=args.seed if args.seed is not None else random.randrange(2**32),
        keep=args.keep,
    )


def seed(services: Services, plan: Plan, rng: random.Random) -> tuple[datetime, datetime]:
    """Sandbox channels and posts of one to three channels each, due uniformly over the spread.

    Returns the first and last due times. Posts are written oldest first, so even a slow seed stays ahead
    of the scheduler.
    """
    with services.sessions.begin() as session:
        workspace_id = get_or_create_workspace(session, "Chaos").id
        channel_ids = [
            connect_channel(
                session,
                services.networks,
                workspace_id,
                network="sandbox",
                name=f"Chaos {number}",
                handle=f"chaos{number}",
                settings={
                    "latency_ms": rng.randint(20, 100),
                    "failure_rate": 0.05,
                    "stored_then_timeout_rate": 0.03,
                    # A repeated publish must store a second post, so a duplicate shows in the store.
                    "honours_idempotency_key": False,
                },
            ).id
            for number in range(1, CHANNELS + 1)
        ]
    first_due = utcnow() + FIRST_DUE_AFTER
    posts: list[tuple[datetime, list[uuid.UUID]]] = []
    remaining = plan.deliveries
    while remaining:
        width = min(remaining, rng.randint(1, 3))
        due = first_due + timedelta(seconds=rng.uniform(0, plan.spread_seconds))
        posts.append((due, rng.sample(channel_ids, width)))
        remaining -= width
    posts.sort(key=lambda post: post[0])
    for start in range(0, len(posts), POSTS_PER_TRANSACTION):
        with services.sessions.begin() as session:
            for number, (due, channels) in enumerate(posts[start : start + POSTS_PER_TRANSACTION], start):
                request = PostRequest(
                    text=f"Chaos post {number + 1}: published once, whatever happens.",
                    targets=[TargetRequest(channel_id) for channel_id in channels],
                    scheduled_at=due,
                )
                create_post(session, services.networks, Actor.system(workspace_id), request, now=utcnow())
    return first_due, posts[-1][0]


def count_states(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state"))
        return Counter({state: count for state, count in rows})


def latest_waiting_due(engine: Engine) -> datetime | None:
    """When the last delivery that waits for its time (first or next attempt) will be due."""
    query = text("SELECT max(due_at) FROM deliveries WHERE state IN ('scheduled', 'retry_wait')")
    with engine.connect() as connection:
        latest: datetime | None = connection.execute(query).scalar()
        return latest


def not_final(states: Counter[str]) -> int:
    return sum(count for state, count in states.items() if state not in FINAL_STATES)


def describe_states(states: Counter[str]) -> str:
    known = [*FINAL_STATES, *NON_FINAL_STATES]
    ordered = [state for state in known if states[state]] + sorted(set(states) - set(known))
    return " ".join(f"{state}={states[state]}" for state in ordered) or "none"


@dataclass
class Verdict:
    deliveries: int
    states: Counter[str]
    duplicates: int
    lost: int
    mismatches: int
    report: list[str]

    @property
    def passed(self) -> bool:
        return self.duplicates == 0 and self.lost == 0 and self.mismatches == 0


def _shown(items: Sequence[str]) -> str:
    more = f" … and {len(items) - SHOWN_PER_PROBLEM} more" if len(items) > SHOWN_PER_PROBLEM else ""
    return ", ".join(items[:SHOWN_PER_PROBLEM]) + more


def verify(engine: Engine, store: SandboxStore) -> Verdict:
    """Compare every delivery with the sandbox store, whose idempotency key is the delivery's id."""
    counts = store.count_by_key()
    with engine.connect() as connection:
        deliveries = {
            str(row.id): (row.state, row.external_id)
            for row in connection.execute(text("SELECT id, state, external_id FROM deliveries"))
        }
        stored = {
            row.id: row.idempotency_key
            for row in connection.execute(select(sandbox_posts.c.id, sandbox_posts.c.idempotency_key))
        }
    states = Counter(state for state, _ in deliveries.values())
    report: list[str] = []

    duplicated = sorted(key for key, count in counts.items() if count > 1)
    duplicates = sum(counts[key] - 1 for key in duplicated)
    if duplicated:
        report.append(
            f"DUPLICATES: {len(duplicated)} deliveries stored more than once: "
            + _shown(
                [f"{key} x{counts[key]} ({deliveries.get(key, ('no delivery',))[0]})" for key in duplicated]
            )
        )

    stuck = sorted(
        (state, delivery_id) for delivery_id, (state, _) in deliveries.items() if state not in FINAL_STATES
    )
    for state in sorted({state for state, _ in stuck}):
        ids = [delivery_id for s, delivery_id in stuck if s == state]
        report.append(f"LOST: {len(ids)} deliveries still {state}: {_shown(ids)}")
    missing = sorted(
        delivery_id
        for delivery_id, (state, external_id) in deliveries.items()
        if state == "published" and external_id not in stored
    )
    if missing:
        report.append(
            f"LOST: {len(missing)} published deliveries whose post is not in the store: {_shown(missing)}"
        )

    unaccounted = sorted(
        f"post {post_id} for {key} ({deliveries.get(key, ('no such delivery',))[0]})"
        for post_id, key in stored.items()
        if deliveries.get(key, ("",))[0] not in STATES_THAT_OWN_A_POST
    )
    misattributed = sorted(
        f"{delivery_id} names post {external_id}, stored for {stored[external_id]}"
        for delivery_id, (state, external_id) in deliveries.items()
        if state == "published" and external_id in stored and stored[external_id] != delivery_id
    )
    if unaccounted:
        report.append(
            f"MISMATCH: {len(unaccounted)} sandbox posts whose delivery is neither published nor "
            f"needs_review: {_shown(unaccounted)}"
        )
    if misattributed:
        report.append(
            f"MISMATCH: {len(misattributed)} deliveries name another's post: {_shown(misattributed)}"
        )
    return Verdict(
        deliveries=len(deliveries),
        states=states,
        duplicates=duplicates,
        lost=len(stuck) + len(missing),
        mismatches=len(unaccounted) + len(misattributed),
        report=report,
    )


class Clock:
    """Seconds since the run began, for log lines."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def say(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)


def monotonic_at(moment: datetime) -> float:
    """The time.monotonic() reading at which the wall clock will show `moment`."""
    return time.monotonic() + (moment - utcnow()).total_seconds()


@dataclass
class Chaos:
    """The run's moving parts, and what it did to them."""

    plan: Plan
    clock: Clock
    engine: Engine
    fleet: Fleet
    redis_server: RedisServer
    rng: random.Random
    kill_cycles: int = 0
    redis_restarts: int = 0
    crashes: int = 0

    def unleash(self, first_due: datetime, last_due: datetime) -> None:
        """Kill and replace a random scheduler or worker every few seconds, until the last due time.

        Once, halfway through the due times, the broker is killed and restarted empty: every message it
        held is gone, and only the scheduler's lease sweep can bring those deliveries back.
        """
        end = monotonic_at(last_due)
        restart_redis_at = monotonic_at(first_due + (last_due - first_due) / 2)
        next_kill = time.monotonic() + self._jittered_interval()
        next_progress = time.monotonic()
        while time.monotonic() < end:
            self._replace_crashed()
            if time.monotonic() >= next_kill:
                victim, replacement = self.fleet.kill_and_replace(self.rng)
                self.kill_cycles += 1
                self.clock.say(
                    f"kill -9 {victim.name} (pid {victim.process.pid}); started {replacement.name}"
                )
                next_kill = time.monotonic() + self._jittered_interval()
            if not self.redis_restarts and time.monotonic() >= restart_redis_at:
                self.restart_redis()
            if time.monotonic() >= next_progress:
                self.progress()
                next_progress += PROGRESS_EVERY_SECONDS
            time.sleep(TICK_SECONDS)

    def restart_redis(self) -> None:
        self.redis_server.kill()
        self.clock.say(f"kill -9 redis-server; starting it again in {REDIS_DOWN_SECONDS:.0f} s, empty")
        time.sleep(REDIS_DOWN_SECONDS)
        self.redis_server.start()
        self.redis_restarts += 1
        self.clock.say(f"redis-server is back on port {self.redis_server.port}")

    def drain(self, timeout: float) -> bool:
        """Wait, without chaos, until every delivery is final. False when it gave up first.

        It gives up `timeout` seconds from now, or later while a delivery waits for a time still ahead (a
        retry's backoff, up to a minute after a fourth failure): that is the design working, not a loss.
        Then it waits until DUE_GRACE after that time, but never more than MAX_EXTENSION past the timeout.
        """
        started = time.monotonic()
        next_progress = started
        # Kept across polls: a retry that was due and is now being attempted still earns its grace.
        deadline = started + timeout
        while True:
            self._replace_crashed()
            states = count_states(self.engine)
            if not not_final(states):
                return True
            latest_due = latest_waiting_due(self.engine)
            if latest_due is not None:
                deadline = max(deadline, monotonic_at(latest_due) + DUE_GRACE_SECONDS)
            if time.monotonic() >= min(deadline, started + timeout + MAX_EXTENSION_SECONDS):
                return False
            if time.monotonic() >= next_progress:
                due = f", latest due in {(latest_due - utcnow()).total_seconds():.0f} s" if latest_due else ""
                self.clock.say(f"waiting for {not_final(states)} deliveries: {describe_states(states)}{due}")
                next_progress += PROGRESS_EVERY_SECONDS
            time.sleep(1)

    def progress(self) -> None:
        self.clock.say(f"kills={self.kill_cycles} | {describe_states(count_states(self.engine))}")

    def _jittered_interval(self) -> float:
        return self.plan.kill_every * self.rng.uniform(0.5, 1.5)

    def _replace_crashed(self) -> None:
        for dead, replacement in self.fleet.replace_the_dead():
            self.crashes += 1
            self.clock.say(
                f"{dead.name} exited by itself (status {dead.process.returncode}); started "
                f"{replacement.name}. Its last words: {dead.last_words()}"
            )


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """Let clean-up finish even if Ctrl-C is pressed again."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(plan: Plan) -> int:
    clock = Clock()
    rng = random.Random(plan.seed)
    workdir = Path(tempfile.mkdtemp(prefix="crier-chaos-"))
    database_url: str | None = None
    engines: list[Engine] = []
    redis_server = RedisServer(free_port(), workdir)
    fleet: Fleet | None = None
    chaos: Chaos | None = None
    verdict: Verdict | None = None
    try:
        clock.say(
            f"chaos: {plan.deliveries} deliveries over {plan.spread_seconds:.0f} s, a kill every "
            f"~{plan.kill_every:g} s, seed {plan.seed}; logs in {workdir}"
        )
        database_url = create_postgres_database()
        redis_server.start()
        env = {key: value for key, value in os.environ.items() if not key.startswith("CRIER_")} | {
            "CRIER_DATA_DIR": str(workdir / "var"),
            "CRIER_DATABASE_URL": database_url,
            "CRIER_SANDBOX_STORE_URL": database_url,
            "CRIER_BROKER_URL": redis_server.url(0),
            "CRIER_REDIS_URL": redis_server.url(1),
            # Short leases, so what a crash strands is recovered within the run.
            "CRIER_ENQUEUE_LEASE_SECONDS": "5",
            "CRIER_PUBLISH_LEASE_SECONDS": "8",
            "CRIER_RECONCILE_INTERVAL_SECONDS": "2",
            "CRIER_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        # The children's settings, as this process sees them (they build theirs from `env`).
        settings = Settings.model_validate(
            {key[len("CRIER_") :].lower(): value for key, value in env.items() if key.startswith("CRIER_")}
        )
        services = bootstrap(settings)
        engines.append(services.engine)
        upgrade(services.engine)
        store = SandboxStore(create_db_engine(settings.resolved_sandbox_store_url))
        engines.append(store.engine)

        fleet = Fleet(settings, env, workdir)
        kinds: tuple[Kind, ...] = ("scheduler", "scheduler", "worker", "worker")
        for kind in kinds:
            fleet.start(kind)
        fleet.wait_until_ready(STARTUP_TIMEOUT)
        clock.say(
            f"database {make_url(database_url).database}, redis-server on port {redis_server.port}; "
            "2 schedulers and 2 workers ready"
        )

        first_due, last_due = seed(services, plan, rng)
        clock.say(
            f"seeded {plan.deliveries} deliveries on {CHANNELS} sandbox channels, due "
            f"{(first_due - utcnow()).total_seconds():.1f} to {(last_due - utcnow()).total_seconds():.1f} s "
            "from now"
        )
        chaos = Chaos(plan, clock, services.engine, fleet, redis_server, rng)
        chaos.unleash(first_due, last_due)
        clock.say(f"the last post is due; no more kills ({chaos.kill_cycles} so far)")
        drain_began = time.monotonic()
        if not chaos.drain(plan.drain_timeout):
            clock.say(f"gave up waiting after {time.monotonic() - drain_began:.0f} s")
        # Stop the processes before reading, so the deliveries and the store are read at rest.
        with uninterruptible():
            fleet.stop()
        verdict = verify(services.engine, store)
        for line in verdict.report:
            print(line, flush=True)
        if chaos.crashes:
            print(f"note: {chaos.crashes} processes exited by themselves and were replaced (see above)")
    finally:
        with uninterruptible():
            if fleet is not None:
                fleet.stop()
            redis_server.stop()
            for engine in engines:
                engine.dispose()
            if database_url and plan.keep:
                print(f"kept the database: {database_url}", flush=True)
            elif database_url:
                drop_postgres_database(database_url)
            if plan.keep or verdict is None or not verdict.passed:
                print(f"logs kept in {workdir}", flush=True)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    states = verdict.states
    print(f"states: {describe_states(states)}")
    # The summary is the last line, after the clean-up's notes: the e2e test and people read it there.
    print(
        f"deliveries={verdict.deliveries} published={states['published']} failed={states['failed']} "
        f"needs_review={states['needs_review']} duplicates={verdict.duplicates} lost={verdict.lost} "
        f"missed={states['missed']} kill_cycles={chaos.kill_cycles} "
        f"redis_restarts={chaos.redis_restarts} seconds={clock.elapsed():.0f}",
        flush=True,
    )
    return 0 if verdict.passed else 1


def main(argv: Sequence[str] | None = None) -> None:
    plan = parse_plan(argv)
    # Both explicitly: a shell starts a background job with SIGINT ignored, and Python keeps it so.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = run(plan)
    except KeyboardInterrupt:
        print("chaos: interrupted; every process it started is stopped", file=sys.stderr)
        status = 130
    sys.exit(status)


if __name__ == "__main__":
    main()
