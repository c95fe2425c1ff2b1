"""The API under load: wrk against the stack `crier up` runs, on each backend, with /healthz as the ceiling.

    python -m bench.api                              # both backends, 100,000 posts, 20 s per figure
    python -m bench.api --backend sqlite --posts 2000 --duration 5
    python -m bench.api --gunicorn-workers 4 --threads 4 --idempotency-keys

Per backend, a fresh stack: on `sqlite` the embedded default `make run` starts (a SQLite file and the
file-system broker in a temporary data directory); on `postgres` a throwaway database through
CRIER_TEST_POSTGRES_URL and a throwaway redis-server as the broker and the limiter's store. The API server
is gunicorn with the command line `crier up` and docker compose use (gthread, 2 workers of 8 threads, unless
overridden), beside a scheduler and a Celery worker started as `crier up` starts them.

Before the server starts, the workspace is seeded in bulk with the rows the import writes (`store_import`,
held to create_post's rows by tests/bulk/test_same_as_create_post.py): `--posts` posts, each scheduled a
day ahead to the workspace's 3 sandbox channels (the sandbox keeps its posts in a table on this machine and
calls nothing outside it), and on PostgreSQL vacuumed and analyzed (`settle`), as autovacuum would have
left a running installation's tables. Then wrk (`--latency`, `--connections` connections) runs each figure
for `--duration` seconds after a short warm-up of its own:

- `GET /healthz`: no token, no database; the ceiling of this server on this machine;
- `GET /v1/posts?limit=50`: the newest page of the workspace's posts;
- `GET /v1/posts/{id}`: a post chosen at random among the seeded ones, per request;
- `POST /v1/posts`: a new post per request, unique text (a counter per wrk thread), scheduled a day ahead
  to the 3 channels; with `--idempotency-keys`, an Idempotency-Key header per request, each new.

Each figure: requests per second, p50 and p99 from wrk's latency distribution, the answers that were not
2xx (wrk's count, and the status codes the access log shows for the figure's requests), socket errors
(timeouts after `--timeout`, 10 s), and the ratio of its rate to /healthz's. The limits on requests per
token and per address are raised out of the way (still counted, in the same store) so that the figures
are the server's, not a 429's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import httpx
from sqlalchemy import Engine, func, select

from bench.fleet import (
    SOURCE_ROOT,
    Fleet,
    RedisServer,
    crier_environment,
    free_port,
    spawn,
    stop_groups,
)
from services.cli.processes import process_commands
from shared.bulk.checking import ImportPlan, PlannedPost
from shared.bulk.services import store_import
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import create_db_engine, utcnow
from shared.migrations import upgrade
from shared.models import create_session_factory
from shared.posts.models import Post
from shared.posts.requests import PostRequest, TargetRequest
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.services import get_or_add_member, get_or_create_workspace, issue_token
from tests.conftest import create_postgres_database, drop_postgres_database

Backend = Literal["sqlite", "postgres"]

CHANNELS = 3
SEED_BATCH = 10_000  # posts per transaction while seeding
# GET /v1/posts/{id} picks among this many of the seeded ids (a Lua table wrk holds per thread).
ID_SAMPLE = 10_000
SCHEDULED_AHEAD = timedelta(days=1)
STARTUP_TIMEOUT = 90.0
# Far above what 16 connections can ask: the limiter still counts every request, it never refuses one.
UNLIMITED = "100000000/minute"
WRK_THREADS = 2  # this project's machine has 2 cores; wrk shares them with the stack

HEALTHZ = "GET /healthz"
LIST = "GET /v1/posts?limit=50"
BY_ID = "GET /v1/posts/{id}"
CREATE = "POST /v1/posts"
FIGURES = (HEALTHZ, LIST, BY_ID, CREATE)

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_ACCESS_LINE = re.compile(r'"([A-Z]+) ([^" ]*)[^"]*" (\d{3}) ')


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk counts answers with a status of 400 or more ("Non-2xx or 3xx responses")
    socket_errors: dict[str, int]  # connect, read, write, timeout


def milliseconds(figure: str) -> float:
    """wrk's '1.23ms', '456.00us' or '1.02s' in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", figure.strip())
    if found is None:
        raise ValueError(f"not a wrk duration: {figure!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The figures of `wrk --latency`'s report; a ValueError naming what is missing if it is not one."""

    def needed(pattern: str, what: str) -> re.Match[str]:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            raise ValueError(f"wrk's output has no {what}:\n{output}")
        return found

    distribution = needed(
        r"Latency Distribution\s*\n((?:\s+\d+(?:\.\d+)?%\s+\S+\s*\n)+)", "latency distribution"
    )
    percentiles = dict(re.findall(r"(\d+(?:\.\d+)?)%\s+(\S+)", distribution.group(1)))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(needed(r"^\s*(\d+) requests in", "request count").group(1)),
        requests_per_s=float(needed(r"^Requests/sec:\s+([\d.]+)", "Requests/sec").group(1)),
        p50_ms=milliseconds(percentiles["50"]),
        p99_ms=milliseconds(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(
            zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)
        )
        if errors
        else {},
    )


@dataclass(frozen=True)
class Figure:
    backend: Backend
    name: str
    result: WrkResult
    statuses: Counter[str]  # status code → answers, from the API's access log over the run

    def line(self, ceiling: float) -> str:
        r = self.result
        statuses = ",".join(f"{code}:{count}" for code, count in sorted(self.statuses.items())) or "none"
        errors = sum(r.socket_errors.values())
        return (
            f"{self.backend:8} {self.name:24} requests_per_s={r.requests_per_s:,.0f} "
            f"p50_ms={r.p50_ms:.1f} p99_ms={r.p99_ms:.1f} non_2xx={r.non_2xx} socket_errors={errors} "
            f"timeouts={r.socket_errors.get('timeout', 0)} statuses={statuses} "
            f"ratio_to_healthz={r.requests_per_s / ceiling:.3f}"
        )


@dataclass(frozen=True)
class Seeded:
    token: str
    channel_ids: list[str]
    post_ids: list[str]


def seed_workspace(engine: Engine, posts: int, scheduled_at: datetime) -> Seeded:
    """A workspace with an owner's admin token, 3 sandbox channels and `posts` posts on all three."""
    sessions = create_session_factory(engine)
    with sessions.begin() as session:
        workspace = get_or_create_workspace(session, "API bench")
        member = get_or_add_member(session, workspace, "bench@localhost", role=Role.OWNER)
        token, _ = issue_token(session, member, "bench", scope=Scope.ADMIN)
        channels = [
            Channel(
                workspace_id=workspace.id,
                network="sandbox",
                name=f"Sandbox {number}",
                handle=f"sandbox_{number}",
                settings={},
            )
            for number in range(1, CHANNELS + 1)
        ]
        session.add_all(channels)
        session.flush()
        actor = Actor.of(workspace.id, member.id, Role.OWNER, Scope.ADMIN, member.email)
        channel_ids = [channel.id for channel in channels]
    post_ids: list[str] = []
    for start in range(0, posts, SEED_BATCH):
        with sessions.begin() as session:
            loaded = list(session.scalars(select(Channel).where(Channel.id.in_(channel_ids))))
            planned = [
                PlannedPost(
                    row=index,
                    request=PostRequest(
                        text=f"Seeded post {index}: what the workspace had said before the run.",
                        targets=[TargetRequest(channel.id) for channel in loaded],
                        scheduled_at=scheduled_at,
                    ),
                    channels=loaded,
                )
                for index in range(start, min(start + SEED_BATCH, posts))
            ]
            post_ids += store_import(session, ImportPlan(actor, utcnow(), planned)).post_ids
    return Seeded(token, [str(channel_id) for channel_id in channel_ids], post_ids)


def settle(engine: Engine) -> None:
    """On PostgreSQL, vacuum and analyze the seeded tables now: otherwise autovacuum's first pass over the
    100,000 new posts' rows runs during the first figures, on the same two cores (a page of 50 measured 15/s
    beside it on PostgreSQL against 61/s on SQLite), and the figures are of a database no running
    installation has. SQLite keeps no statistics unless asked; it is measured as `make run` leaves it."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def count_posts(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Post)).scalar_one())


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a Lua string literal too


def create_script(seeded: Seeded, scheduled_at: datetime, idempotency_keys: bool) -> str:
    """wrk's script for POST /v1/posts: a body with text of its own per request, from a counter per thread."""
    run = uuid.uuid4().hex[:8]
    channels = ", ".join(f'\\"{channel_id}\\"' for channel_id in seeded.channel_ids)
    when = scheduled_at.isoformat()
    key_line = 'headers["Idempotency-Key"] = key' if idempotency_keys else ""
    return f"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local counter = 0
function request()
  counter = counter + 1
  local key = "{run}-" .. thread_number .. "-" .. counter
  local headers = {{}}
  headers["Authorization"] = {lua_string("Bearer " + seeded.token)}
  headers["Content-Type"] = "application/json"
  {key_line}
  local body = "{{\\"text\\": \\"Bench post " .. key .. ", one of many written in a burst.\\", " ..
    "\\"channel_ids\\": [{channels}], \\"scheduled_at\\": \\"{when}\\"}}"
  return wrk.format("POST", "/v1/posts", headers, body)
end
"""


def by_id_script(seeded: Seeded, rng: random.Random) -> str:
    """wrk's script for GET /v1/posts/{id}: per request, an id drawn among a sample of the seeded."""
    sample = rng.sample(seeded.post_ids, min(ID_SAMPLE, len(seeded.post_ids)))
    ids = ",\n".join(lua_string(post_id) for post_id in sample)
    return f"""
local ids = {{
{ids}
}}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  math.randomseed(thread_number * 7919)
end
function request()
  local headers = {{}}
  headers["Authorization"] = {lua_string("Bearer " + seeded.token)}
  return wrk.format("GET", "/v1/posts/" .. ids[math.random(#ids)], headers)
end
"""


def wrk_command(
    url: str, connections: int, seconds: float, script: Path | None, token: str | None, timeout: float
) -> list[str]:
    argv = [wrk_program(), "--latency", "-t", str(min(WRK_THREADS, connections)), "-c", str(connections)]
    argv += ["-d", f"{max(round(seconds), 1)}s", "--timeout", f"{max(round(timeout), 1)}s"]
    if script is not None:
        argv += ["-s", str(script)]
    if token is not None:
        argv += ["-H", f"Authorization: Bearer {token}"]
    return [*argv, url]


def wrk_program() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk); the API benchmark drives it")
    return found


def access_statuses(log: str, figure: str) -> Counter[str]:
    """Status code → count over gunicorn's access-log lines in `log` of the figure's requests.

    Only the figure's own: a request of the figure before, given up by wrk, may still be answered after.
    """
    method, path = figure.split()
    prefix = path.split("{", 1)[0]

    def asked(requested: str) -> bool:
        return requested.startswith(prefix) if "{" in path else requested == path

    return Counter(
        found.group(3)
        for found in _ACCESS_LINE.finditer(log)
        if found.group(1) == method and asked(found.group(2))
    )


def server_command(settings: Settings, workers: int | None, threads: int | None) -> list[str]:
    """`crier up`'s API command line, with gunicorn's workers and threads replaced when asked."""
    argv = shlex.split(process_commands(settings)["api"])
    for flag, value in (("--workers", workers), ("--threads", threads)):
        if value is not None:
            argv[argv.index(flag) + 1] = str(value)
    return argv


def option(argv: Sequence[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@dataclass
class Stack:
    """The API server, a scheduler and a worker on one backend, and the database they share."""

    backend: Backend
    workdir: Path
    settings: Settings
    engine: Engine
    api: subprocess.Popen[bytes] | None = None
    api_log: Path | None = None
    fleet: Fleet | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.api_bind}"

    def start(self, server: list[str]) -> None:
        env = crier_environment(self.settings, dict(os.environ))
        self.api_log = self.workdir / "api.log"
        self.api = spawn(server, self.api_log, env, self.workdir)
        self.fleet = Fleet(self.settings, env, self.workdir)
        self.fleet.start("scheduler")
        self.fleet.start("worker")
        self.fleet.wait_until_ready(STARTUP_TIMEOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.api.poll() is not None:
                raise RuntimeError(f"the API server exited at start:\n{self.api_log.read_text()[-5000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API was not ready within {STARTUP_TIMEOUT:g} s ({self.api_log})")
            time.sleep(0.2)

    def access_log_size(self) -> int:
        assert self.api_log is not None
        return self.api_log.stat().st_size

    def access_log_since(self, offset: int) -> str:
        assert self.api_log is not None
        with self.api_log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.fleet is not None:
            self.fleet.stop()
        if self.api is not None:
            stop_groups([self.api], grace=10)


@contextlib.contextmanager
def stack_on(backend: Backend, keep: bool = False) -> Iterator[Stack]:
    """A fresh database (and on PostgreSQL a redis-server), migrated; everything removed afterwards but the
    working folder (the processes' logs, the SQLite files) when `keep` is set."""
    workdir = Path(tempfile.mkdtemp(prefix=f"crier-api-bench-{backend}-"))
    port = free_port()
    common = {
        "data_dir": workdir / "var",
        "api_bind": f"127.0.0.1:{port}",
        "public_url": f"http://127.0.0.1:{port}",
        "rate_limit_per_token": UNLIMITED,
        "rate_limit_per_address": UNLIMITED,
    }
    database_url: str | None = None
    redis_server: RedisServer | None = None
    stack: Stack | None = None
    try:
        if backend == "postgres":
            database_url = create_postgres_database()
            redis_server = RedisServer(free_port(), workdir)
            redis_server.start()
            settings = Settings.model_validate(
                {
                    **common,
                    "database_url": database_url,
                    "sandbox_store_url": database_url,
                    "broker_url": redis_server.url(0),
                    "redis_url": redis_server.url(1),
                }
            )
        else:
            settings = Settings.model_validate(common)
        settings.data_dir.mkdir(parents=True)
        engine = create_db_engine(settings.resolved_database_url)
        upgrade(engine)
        stack = Stack(backend, workdir, settings, engine)
        yield stack
    finally:
        if stack is not None:
            stack.stop()
            stack.engine.dispose()
        if redis_server is not None:
            redis_server.stop()
        if database_url is not None:
            drop_postgres_database(database_url)
        if keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Options:
    posts: int = 100_000
    duration: float = 20.0
    connections: int = 16
    gunicorn_workers: int | None = None
    threads: int | None = None
    idempotency_keys: bool = False
    seed: int = 0
    keep: bool = False
    # wrk leaves a request that outlasts its timeout out of the latency distribution: a p99 read from it
    # would hide the slowest answers. Ten seconds keeps them in (wrk's own default is 2 s).
    timeout: float = 10.0

    @property
    def warm_up(self) -> float:
        return max(1.0, min(3.0, self.duration / 5))


def run_backend(backend: Backend, options: Options) -> Iterator[str]:
    """The backend's lines: what ran, then a figure per endpoint, /healthz first."""
    rng = random.Random(options.seed)
    with stack_on(backend, options.keep) as stack:
        scheduled_at = (datetime.now(UTC) + SCHEDULED_AHEAD).replace(microsecond=0)
        started = time.perf_counter()
        seeded = seed_workspace(stack.engine, options.posts, scheduled_at)
        settle(stack.engine)
        seeding = time.perf_counter() - started
        server = server_command(stack.settings, options.gunicorn_workers, options.threads)
        stack.start(server)
        yield (
            f"{backend:8} setup posts_seeded={len(seeded.post_ids)} seed_s={seeding:.1f} "
            f"channels={len(seeded.channel_ids)} server=gunicorn_gthread "
            f"workers={option(server, '--workers')} "
            f"threads={option(server, '--threads')} connections={options.connections} "
            f"duration_s={options.duration:g} idempotency_keys={'yes' if options.idempotency_keys else 'no'}"
            f" source={SOURCE_ROOT} load_average_before={os.getloadavg()[0]:.1f}"
        )
        scripts = {
            BY_ID: stack.workdir / "by_id.lua",
            CREATE: stack.workdir / "create.lua",
        }
        scripts[BY_ID].write_text(by_id_script(seeded, rng))
        scripts[CREATE].write_text(create_script(seeded, scheduled_at, options.idempotency_keys))
        urls = {
            HEALTHZ: f"{stack.base_url}/healthz",
            LIST: f"{stack.base_url}/v1/posts?limit=50",
            BY_ID: stack.base_url,
            CREATE: stack.base_url,
        }
        posts_before = count_posts(stack.engine)
        ceiling = 0.0
        for name in FIGURES:
            token = None if name in (HEALTHZ, *scripts) else seeded.token

            def command(seconds: float, name: str = name, token: str | None = token) -> list[str]:
                return wrk_command(
                    urls[name], options.connections, seconds, scripts.get(name), token, options.timeout
                )

            subprocess.run(command(options.warm_up), capture_output=True, check=True)
            offset = stack.access_log_size()
            done = subprocess.run(command(options.duration), capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"wrk failed on {name}: {done.stderr or done.stdout}")
            time.sleep(0.5)  # the access log's last lines
            figure = Figure(
                backend, name, parse_wrk(done.stdout), access_statuses(stack.access_log_since(offset), name)
            )
            ceiling = ceiling or figure.result.requests_per_s
            yield figure.line(ceiling)
        created = count_posts(stack.engine) - posts_before
        yield f"{backend:8} check posts_created_by_the_run={created} (warm-ups included)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--posts", type=int, default=Options.posts, help="posts seeded in the workspace")
    parser.add_argument("--duration", type=float, default=Options.duration, help="seconds of wrk per figure")
    parser.add_argument("--connections", type=int, default=Options.connections)
    parser.add_argument("--gunicorn-workers", type=int, help="instead of `crier up`'s 2")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker instead of `crier up`'s 8")
    parser.add_argument("--idempotency-keys", action="store_true", help="an Idempotency-Key per POST")
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument(
        "--timeout", type=float, default=Options.timeout, help="wrk's timeout per request, seconds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder: logs, SQLite files")
    args = parser.parse_args(argv)
    if args.posts < 1 or args.connections < 1 or args.duration < 1:
        parser.error("--posts, --connections and --duration must be at least 1")
    options = Options(
        posts=args.posts,
        duration=args.duration,
        connections=args.connections,
        gunicorn_workers=args.gunicorn_workers,
        threads=args.threads,
        idempotency_keys=args.idempotency_keys,
        seed=args.seed,
        keep=args.keep,
        timeout=args.timeout,
    )
    backends: list[Backend] = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        for line in run_backend(backend, options):
            print(line, flush=True)


if __name__ == "__main__":
    main()
