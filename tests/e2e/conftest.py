"""A whole Crier started the way users start it (`crier up`), on each backend, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from shared.config import Settings
from tests.conftest import create_postgres_database, drop_postgres_database, redis_database_of_this_worker
from tests.driving import wait_for

CRIER = str(Path(sys.executable).parent / "crier")
# A Redis database of its own, emptied first, so the stack's queues hold only this test's messages.
E2E_BROKER_DB = redis_database_of_this_worker(12)
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningStack:
    """`crier up` running in its own process group, and how to reach it."""

    backend: str
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def settings(self) -> Settings:
        return Settings(
            **{k[len("CRIER_") :].lower(): v for k, v in self.env.items() if k.startswith("CRIER_")}
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def crier(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CRIER, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def create_token(self) -> str:
        result = self.crier("token", "create", "--workspace", "End to end")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def group_is_gone(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return True
        return False


def _wait_until_ready(stack: RunningStack) -> None:
    ready: set[str] = set()

    def check() -> set[str]:
        if stack.process.poll() is not None:
            raise AssertionError(f"`crier up` exited early:\n{stack.log()}")
        if "api" not in ready:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{stack.base_url}/readyz", timeout=2).status_code == 200:
                    ready.add("api")
        # Celery prints this line once its consumers are attached to the queues.
        if " ready." in stack.log():
            ready.add("worker")
        return ready

    wait_for(
        check,
        lambda ready: ready == {"api", "worker"},
        timeout=STARTUP_TIMEOUT,
        every=0.2,
        what="the API and the worker ready",
        context=stack.log,
    )


@pytest.fixture(scope="module", params=["embedded", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp(request.param.replace("+", "-"))
    with running_stack(request, request.param, workdir) as running:
        yield running


@contextlib.contextmanager
def running_stack(
    request: pytest.FixtureRequest, backend: str, workdir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[RunningStack]:
    """`crier up` on `backend` ("embedded" or "postgresql+redis"), its settings in the environment plus
    `extra_env` (where the networks' fakes listen), until the block ends."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRIER_")} | {
        "CRIER_DATA_DIR": str(workdir / "var"),
        "CRIER_API_BIND": f"127.0.0.1:{port}",
        "CRIER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # The fakes of the networks listen on this machine, as an operator's own servers on their network.
        "CRIER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        "CRIER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    database_url = None
    if backend == "postgresql+redis":
        from tests.conftest import REDIS_URL

        database_url = create_postgres_database()
        broker_url = REDIS_URL.rsplit("/", 1)[0] + f"/{E2E_BROKER_DB}"
        redis.Redis.from_url(broker_url).flushdb()
        env |= {
            "CRIER_DATABASE_URL": database_url,
            "CRIER_SANDBOX_STORE_URL": database_url,
            "CRIER_BROKER_URL": broker_url,
            "CRIER_REDIS_URL": REDIS_URL,
        }
    env |= extra_env or {}
    log_path = workdir / "crier-up.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [CRIER, "up"],
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningStack(backend, f"http://127.0.0.1:{port}", env, process, log_path)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        running.stop()
        if request.session.testsfailed:
            sys.stderr.write(f"\n--- crier up ({backend}) log ---\n{running.log()[-20000:]}\n")
        if database_url:
            drop_postgres_database(database_url)
