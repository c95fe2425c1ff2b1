"""The chaos run itself: start everything, seed, kill while posts fall due, wait, stop, then judge."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from sqlalchemy import Engine, text

from bench.chaos.plan import Plan, parse_plan
from bench.chaos.seeding import (
    SANDBOX_CHANNELS,
    PostWriter,
    connect_channels,
    mastodon_deliveries,
    plan_posts,
)
from bench.chaos.verdict import (
    FINAL_STATES,
    Verdict,
    describe_states,
    mastodon_parts,
    read_deliveries,
    sandbox_parts,
    verify,
)
from bench.fleet import TICK_SECONDS, Fleet, Kind, PostgresServer, RedisServer, free_port
from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import create_db_engine, utcnow
from shared.migrations import upgrade
from shared.networks.sandbox.store import SandboxStore
from tests.networks.mastodon.fake import FakeMastodon

STARTUP_TIMEOUT = 60.0
FIRST_DUE_AFTER = timedelta(seconds=5)
REDIS_DOWN_SECONDS = 2.0
POSTGRES_DOWN_SECONDS = 3.0
# Where in the due times each server dies: apart, so that each outage is recovered from on its own.
POSTGRES_DIES_AT = 0.4
REDIS_DIES_AT = 0.7
PROGRESS_EVERY_SECONDS = 5.0
PUBLISH_LEASE_SECONDS = 8.0
# After a waiting delivery's due time: a claim, an attempt, and if that is cut short the publish lease
# and a reconciliation (every 2 s).
DUE_GRACE_SECONDS = 20.0
# Of the statuses the fake Mastodon stores, this share is answered with a proxy's 502 or 504, or a hang-up.
LOSE_ANSWER_RATE = 0.05


def count_states(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state"))
        return Counter({state: count for state, count in rows})


def not_final(states: Counter[str]) -> int:
    return sum(count for state, count in states.items() if state not in FINAL_STATES)


def latest_waits(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """When the last delivery that waits for its time (first or next attempt) will be due, and when the
    latest attempt still under way or uncertain began."""
    with engine.connect() as connection:
        due = connection.execute(
            text("SELECT max(due_at) FROM deliveries WHERE state IN ('scheduled', 'retry_wait')")
        ).scalar()
        began = connection.execute(
            text(
                "SELECT max(a.started_at) FROM deliveries d JOIN publish_attempts a "
                "ON a.delivery_id = d.id AND a.number = d.attempt WHERE d.state IN ('publishing', 'unknown')"
            )
        ).scalar()
    return due, began


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
    postgres: PostgresServer
    rng: random.Random
    kill_cycles: int = 0
    redis_restarts: int = 0
    postgres_restarts: int = 0
    crashes: int = 0

    def unleash(self, first_due: datetime, last_due: datetime, writer: PostWriter) -> None:
        """Kill and replace a random scheduler or worker every few seconds, until the last due time.

        Once PostgreSQL is killed, every backend with it, and started again: what was committed survives,
        what was under way is cut off mid-transaction. Not before `writer` has written every post: the
        seed is not under test. Later the broker is killed and restarted empty: every message it held is
        gone, and only the scheduler's lease sweep can bring those deliveries back.
        """
        end = monotonic_at(last_due)
        kill_postgres_at = monotonic_at(first_due + (last_due - first_due) * POSTGRES_DIES_AT)
        kill_redis_at = monotonic_at(first_due + (last_due - first_due) * REDIS_DIES_AT)
        next_kill = time.monotonic() + self._jittered_interval()
        next_progress = time.monotonic()
        written = False
        while time.monotonic() < end or not self.postgres_restarts:
            self._replace_crashed()
            if not written and writer.check():
                written = True
                self.clock.say(f"every post is written, in {writer.seconds:.0f} s")
            if time.monotonic() >= next_kill:
                victim, replacement = self.fleet.kill_and_replace(self.rng)
                self.kill_cycles += 1
                self.clock.say(
                    f"kill -9 {victim.name} (pid {victim.process.pid}); started {replacement.name}"
                )
                next_kill = time.monotonic() + self._jittered_interval()
            if written and not self.postgres_restarts and time.monotonic() >= kill_postgres_at:
                self.restart_postgres()
            if not self.redis_restarts and time.monotonic() >= kill_redis_at:
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

    def restart_postgres(self) -> None:
        self.postgres.kill()
        self.clock.say(
            f"kill -9 postgres and all its backends; starting it again in {POSTGRES_DOWN_SECONDS:.0f} s"
        )
        time.sleep(POSTGRES_DOWN_SECONDS)
        began = time.monotonic()
        self.postgres.start()
        self.postgres_restarts += 1
        self.clock.say(
            f"postgres is back on port {self.postgres.port}, "
            f"crash recovery done in {time.monotonic() - began:.1f} s"
        )

    def drain(self, timeout: float) -> bool:
        """Wait, without chaos, until every delivery is final. False when it gave up first.

        It gives up once `timeout` seconds have passed without a delivery becoming final, but not while a
        delivery still waits for a time ahead: a retry's backoff (up to a minute after a fourth failure)
        until DUE_GRACE after its due time, or an attempt under way or uncertain until the publish lease
        and the Mastodon settle time have run out, and DUE_GRACE more. That is the design working, not a
        loss; attempts per delivery are bounded, so the waits are too.
        """
        uncertain_wait = PUBLISH_LEASE_SECONDS + self.plan.mastodon_settle + DUE_GRACE_SECONDS
        next_progress = time.monotonic()
        last_change = time.monotonic()
        waiting = None
        while True:
            self._replace_crashed()
            states = count_states(self.engine)
            if not not_final(states):
                return True
            if waiting is None or not_final(states) < waiting:
                last_change = time.monotonic()
            waiting = not_final(states)
            latest_due, latest_attempt = latest_waits(self.engine)
            deadline = last_change + timeout
            if latest_due is not None:
                deadline = max(deadline, monotonic_at(latest_due) + DUE_GRACE_SECONDS)
            if latest_attempt is not None:
                deadline = max(deadline, monotonic_at(latest_attempt) + uncertain_wait)
            if time.monotonic() >= deadline:
                return False
            if time.monotonic() >= next_progress:
                due = f", latest due in {(latest_due - utcnow()).total_seconds():.0f} s" if latest_due else ""
                self.clock.say(f"waiting for {waiting} deliveries: {describe_states(states)}{due}")
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


def children_environment(
    workdir: Path, database_url: str, sandbox_url: str, redis_server: RedisServer, plan: Plan
) -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("CRIER_")} | {
        "CRIER_DATA_DIR": str(workdir / "var"),
        "CRIER_DATABASE_URL": database_url,
        "CRIER_SANDBOX_STORE_URL": sandbox_url,
        "CRIER_BROKER_URL": redis_server.url(0),
        "CRIER_REDIS_URL": redis_server.url(1),
        # The workers open the Mastodon tokens this process seals.
        "CRIER_SECRET_KEY": secrets.token_urlsafe(32),
        # Short leases, so what a crash strands is recovered within the run.
        "CRIER_ENQUEUE_LEASE_SECONDS": "5",
        "CRIER_PUBLISH_LEASE_SECONDS": str(PUBLISH_LEASE_SECONDS),
        "CRIER_RECONCILE_INTERVAL_SECONDS": "2",
        "CRIER_MASTODON_SETTLE_SECONDS": str(plan.mastodon_settle),
        # The fake Mastodon listens on this machine, as an operator's own server on their network would.
        "CRIER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        "CRIER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def start_mastodon(plan: Plan) -> FakeMastodon:
    """The Mastodon server the workers post to: in this process, over HTTP, careless and forgetful."""
    # Each request it serves would be a line on this run's output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = FakeMastodon()
    server.honours_idempotency = False
    server.lose_answer_rate = LOSE_ANSWER_RATE
    server.random.seed(plan.seed)
    return server.start()


def run(plan: Plan) -> int:
    clock = Clock()
    rng = random.Random(plan.seed)
    workdir = Path(tempfile.mkdtemp(prefix="crier-chaos-"))
    engines: list[Engine] = []
    redis_server = RedisServer(free_port(), workdir)
    postgres: PostgresServer | None = None
    mastodon: FakeMastodon | None = None
    fleet: Fleet | None = None
    chaos: Chaos | None = None
    verdict: Verdict | None = None
    try:
        clock.say(
            f"chaos: {plan.deliveries} deliveries over {plan.spread_seconds:.0f} s, a kill every "
            f"~{plan.kill_every:g} s, seed {plan.seed}; logs in {workdir}"
        )
        postgres = PostgresServer(free_port(), workdir / "postgres.log")
        postgres.init()
        postgres.start()
        database_url = postgres.create_database("crier")
        sandbox_url = postgres.create_database("sandbox")
        redis_server.start()
        mastodon = start_mastodon(plan)
        env = children_environment(workdir, database_url, sandbox_url, redis_server, plan)
        # The children's settings, as this process sees them (they build theirs from `env`).
        settings = Settings.model_validate(
            {key[len("CRIER_") :].lower(): value for key, value in env.items() if key.startswith("CRIER_")}
        )
        services: Services = bootstrap(settings)
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
            f"postgres (initdb in {postgres.folder}) on port {postgres.port}, redis-server on port "
            f"{redis_server.port}, fake Mastodon at {mastodon.base_url}; 2 schedulers and 2 workers ready"
        )

        posts = plan_posts(plan, rng)
        channels = connect_channels(services, rng, mastodon, posts)
        first_due = utcnow() + FIRST_DUE_AFTER
        last_due = first_due + timedelta(seconds=posts[-1].offset)
        writer = PostWriter(services, posts, channels, first_due, random.Random(rng.getrandbits(64)))
        writer.start()
        clock.say(
            f"writing {len(posts)} posts, {sum(1 for post in posts if post.replies)} of them with a thread, "
            f"for {plan.deliveries} deliveries: {mastodon_deliveries(posts)} on {len(channels.mastodon)} "
            f"Mastodon accounts, the rest on {SANDBOX_CHANNELS} sandbox channels; due from "
            f"{FIRST_DUE_AFTER.total_seconds():.0f} to {(last_due - utcnow()).total_seconds():.0f} s from now"
        )
        chaos = Chaos(plan, clock, services.engine, fleet, redis_server, postgres, rng)
        chaos.unleash(first_due, last_due, writer)
        clock.say(f"the last post is due; no more kills ({chaos.kill_cycles} so far)")
        drain_began = time.monotonic()
        if not chaos.drain(plan.drain_timeout):
            clock.say(f"gave up waiting after {time.monotonic() - drain_began:.0f} s")
        # Stop the processes before reading, so the deliveries and the stores are read at rest.
        with uninterruptible():
            fleet.stop()
        stored = sandbox_parts(store) + mastodon_parts(mastodon)
        verdict = verify(read_deliveries(services.engine), stored)
        for line in verdict.report:
            print(line, flush=True)
        on_mastodon = sum(1 for part in stored if part.network == "mastodon")
        lost = mastodon.answers_lost
        print(
            f"stored: {len(stored) - on_mastodon} sandbox posts and {on_mastodon} Mastodon statuses, "
            f"{sum(lost.values())} of those answered with a loss ("
            + (", ".join(f"{kind} x{lost[kind]}" for kind in sorted(lost, key=str)) or "none")
            + ")"
        )
        if chaos.crashes:
            print(f"note: {chaos.crashes} processes exited by themselves and were replaced (see above)")
    finally:
        with uninterruptible():
            if fleet is not None:
                fleet.stop()
            redis_server.stop()
            if mastodon is not None:
                mastodon.stop()
            for engine in engines:
                engine.dispose()
            if postgres is not None and plan.keep:
                postgres.stop()
                as_user = " (as the postgres user)" if postgres.user is not None else ""
                print(
                    f"kept the PostgreSQL cluster; start it{as_user} with: {postgres.programs / 'postgres'} "
                    f"-D {postgres.data_dir} -p {postgres.port} -k {postgres.folder}",
                    flush=True,
                )
            elif postgres is not None:
                postgres.remove()
            if plan.keep or verdict is None or not verdict.passed:
                print(f"logs kept in {workdir}", flush=True)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    states = verdict.states
    print(f"states: {describe_states(states)}")
    # The summary is the last line, after the clean-up's notes: the e2e test and people read it there.
    print(
        f"deliveries={verdict.deliveries} parts={verdict.parts} published={states['published']} "
        f"failed={states['failed']} needs_review={states['needs_review']} duplicates={verdict.duplicates} "
        f"lost={verdict.lost} missed={states['missed']} kill_cycles={chaos.kill_cycles} "
        f"redis_restarts={chaos.redis_restarts} postgres_restarts={chaos.postgres_restarts} "
        f"seconds={clock.elapsed():.0f}",
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
