"""Crier's processes for the benchmarks: schedulers and Celery workers started with the command lines
`crier up` uses, each in a process group of its own, and a throwaway redis-server and PostgreSQL cluster
that may be killed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import random
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
import redis

from services.cli.processes import process_commands
from shared.config import Settings

Kind = Literal["scheduler", "worker"]

STOP_GRACE_SECONDS = 10.0
TICK_SECONDS = 0.2
# The tree the benchmarks are part of. Their processes import Crier from here: the venv's editable install
# points at one checkout, and a benchmark run from another (a git worktree) would measure that one's code.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def crier_environment(settings: Settings, base: dict[str, str]) -> dict[str, str]:
    """`base` without any CRIER_* variable of the caller's, plus every field of `settings` that is set, and
    this tree first on PYTHONPATH."""
    env = {key: value for key, value in base.items() if not key.startswith("CRIER_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        env[f"CRIER_{name.upper()}"] = str(value)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_ROOT), base.get("PYTHONPATH")]))
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_this_process() -> Callable[[], None]:
    """A preexec_fn that makes the child get SIGKILL when this process dies, even by SIGKILL.

    The `finally` below stops every child; this covers the one case it cannot: this process killed outright
    (a test runner's timeout). Linux only; elsewhere the child is left to the `finally`.
    """
    parent = os.getpid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def spawn(
    argv: Sequence[str], log_path: Path, env: dict[str, str], cwd: Path, *, user: int | None = None
) -> subprocess.Popen[bytes]:
    """Start a process in a process group of its own, its output appended to `log_path`.

    `user`: run it as this user id, with that user's group (only root may ask).
    """
    account = pwd.getpwuid(user) if user is not None else None
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
            # Run after the user is changed, which would clear the parent-death signal.
            preexec_fn=_die_with_this_process(),
        )


def kill_group(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    # The child leads its own group (start_new_session), so its pid is the group id.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def stop_groups(processes: Sequence[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every group, wait up to `grace` seconds in all, then SIGKILL what is left, and reap."""
    for process in processes:
        kill_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(deadline - time.monotonic(), 0))
    for process in processes:
        # Also after a clean exit: anything the process left behind in its group goes too.
        kill_group(process)
        process.wait()


class RedisServer:
    """A throwaway redis-server on a fixed port, which this run may kill and start again (empty)."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.log_path = workdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed; the chaos run starts one of its own")
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)]
        self.process = spawn(argv, self.log_path, dict(os.environ), self.workdir)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited at start:\n{self.log_path.read_text()}")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None:
            kill_group(self.process)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_groups([self.process], grace=5)
            self.process = None


def postgres_programs() -> Path:
    """The folder of PostgreSQL's server programs (initdb, postgres): on PATH, pg_config's, or Debian's."""
    folders: list[Path] = []
    if (initdb := shutil.which("initdb")) is not None:
        folders.append(Path(initdb).parent)
    if (pg_config := shutil.which("pg_config")) is not None:
        answer = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if answer.returncode == 0:
            folders.append(Path(answer.stdout.strip()))
    # Debian keeps them off PATH, one folder per major version: the newest first.
    versions = [
        folder for folder in Path("/usr/lib/postgresql").glob("*/bin") if folder.parent.name.isdigit()
    ]
    folders += sorted(versions, key=lambda folder: int(folder.parent.name), reverse=True)
    for folder in folders:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise RuntimeError(
        "PostgreSQL's server programs (initdb and postgres) were not found on PATH, in `pg_config --bindir` "
        "or under /usr/lib/postgresql/<version>/bin: the chaos run starts a cluster of its own. Install "
        "them (Debian: apt-get install postgresql) or put their folder on PATH."
    )


def _postgres_user() -> int | None:
    """Whom to run PostgreSQL as: this user, or when that is root (which PostgreSQL refuses), `postgres`."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres").pw_uid
    except KeyError:
        raise RuntimeError(
            "PostgreSQL refuses to run as root, and there is no `postgres` user to run it as: run the chaos "
            "run as another user"
        ) from None


class PostgresServer:
    """A throwaway PostgreSQL cluster of its own: initdb in a temporary folder, trust authentication, a
    fixed port on 127.0.0.1 and its socket in that folder. It may be killed and started again: crash
    recovery brings back every committed transaction. remove() deletes the cluster."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.programs = postgres_programs()
        self.user = _postgres_user()
        self.folder = Path(tempfile.mkdtemp(prefix="crier-postgres-"))
        if self.user is not None:
            os.chown(self.folder, self.user, pwd.getpwuid(self.user).pw_gid)
        self.data_dir = self.folder / "data"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        argv = [str(self.programs / "initdb"), "--pgdata", str(self.data_dir), "--username", "postgres"]
        argv += ["--auth", "trust", "--encoding", "UTF8", "--no-locale", "--no-sync"]
        initdb = spawn(argv, self.log_path, dict(os.environ), self.folder, user=self.user)
        if initdb.wait() != 0:
            raise RuntimeError(f"initdb failed:\n{self.log_path.read_text()[-3000:]}")

    def start(self) -> None:
        argv = [str(self.programs / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += ["-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400"]
        # A killed server loses nothing without fsync: what it wrote is in the kernel, which lives on.
        argv += ["-c", "fsync=off"]
        self.process = spawn(argv, self.log_path, dict(os.environ), self.folder, user=self.user)
        deadline = time.monotonic() + 60  # crash recovery replays the log first
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited at start:\n{self.log_path.read_text()[-3000:]}")
            try:
                psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def kill(self) -> None:
        """SIGKILL to the server and every backend at once (one process group), as a crash would."""
        if self.process is not None:
            kill_group(self.process)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        # SIGINT is the fast shutdown; SIGTERM would wait for every client to disconnect.
        kill_group(self.process, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_GRACE_SECONDS)
        kill_group(self.process)
        self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Child:
    name: str
    kind: Kind
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def last_words(self) -> str:
        """The log's last critical line (Celery's "Unrecoverable error: …"), or else its last line."""
        lines = [line.strip() for line in self.log().splitlines() if line.strip()]
        critical = [line for line in lines if "CRITICAL" in line or "Unrecoverable" in line]
        return (critical or lines or ["(no output)"])[-1]


@dataclass
class Fleet:
    """The scheduler replicas and Celery workers, started with the same command lines `crier up` uses."""

    settings: Settings
    env: dict[str, str]
    workdir: Path
    children: list[Child] = field(default_factory=list)
    started: Counter[str] = field(default_factory=Counter)

    def start(self, kind: Kind) -> Child:
        self.started[kind] += 1
        number = self.started[kind]
        if kind == "scheduler":
            command = process_commands(self.settings)["scheduler"]
        else:
            # `crier up --workers n` names its workers worker1…workern (hostname worker<k>@%h): ask for
            # enough of them to get this one's line, so every worker, replacements too, has its own name.
            command = process_commands(self.settings, workers=max(number, 2))[f"worker{number}"]
        name = f"{kind}{number}"
        log_path = self.workdir / f"{name}.log"
        child = Child(name, kind, spawn(shlex.split(command), log_path, self.env, self.workdir), log_path)
        self.children.append(child)
        return child

    def wait_until_ready(self, timeout: float) -> None:
        """Wait for each scheduler's start line and each worker's ' ready.' (its consumers are attached)."""
        marks = {"scheduler": "scheduler started", "worker": " ready."}
        deadline = time.monotonic() + timeout
        waiting = list(self.children)
        while waiting:
            for child in list(waiting):
                if child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} exited at start:\n{child.log()[-5000:]}")
                if marks[child.kind] in child.log():
                    waiting.remove(child)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(child.name for child in waiting)
                raise RuntimeError(f"not ready within {timeout:.0f} s: {names} (logs in {self.workdir})")
            time.sleep(TICK_SECONDS)

    def kill_and_replace(self, rng: random.Random) -> tuple[Child, Child]:
        victim = rng.choice(self.children)
        kill_group(victim.process)
        victim.process.wait()
        self.children.remove(victim)
        return victim, self.start(victim.kind)

    def replace_the_dead(self) -> list[tuple[Child, Child]]:
        """Replace children that exited without being killed: a crash of their own, worth reporting."""
        replaced = []
        for child in list(self.children):
            if child.process.poll() is not None:
                self.children.remove(child)
                kill_group(child.process)
                replaced.append((child, self.start(child.kind)))
        return replaced

    def stop(self) -> None:
        stop_groups([child.process for child in self.children], grace=STOP_GRACE_SECONDS)
        self.children.clear()
