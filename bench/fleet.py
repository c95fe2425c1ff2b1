"""Crier's processes for the benchmarks: schedulers and Celery workers started with the command lines
`crier up` uses, each in a process group of its own, and a throwaway redis-server that may be killed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import redis

from services.cli.processes import process_commands
from shared.config import Settings

Kind = Literal["scheduler", "worker"]

STOP_GRACE_SECONDS = 10.0
TICK_SECONDS = 0.2


def crier_environment(settings: Settings, base: dict[str, str]) -> dict[str, str]:
    """`base` without any CRIER_* variable of the caller's, plus every field of `settings` that is set."""
    env = {key: value for key, value in base.items() if not key.startswith("CRIER_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        env[f"CRIER_{name.upper()}"] = str(value)
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


def spawn(argv: Sequence[str], log_path: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start a process in a process group of its own, its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_this_process(),  # no threads run in this process
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
