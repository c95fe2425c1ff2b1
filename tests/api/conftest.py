"""The app over the bootstrapped services, clients with and without a token, and the app under gunicorn."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.api.app import create_app
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.config import Settings
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from tests.driving import wait_for
from tests.factories import make_channel, make_member_token, make_workspace


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client that sends no token."""
    return app.test_client()


@pytest.fixture
def workspace_and_token(services: Services) -> tuple[Workspace, str]:
    return make_workspace(services)


@pytest.fixture
def workspace(workspace_and_token: tuple[Workspace, str]) -> Workspace:
    return workspace_and_token[0]


@pytest.fixture
def workspace_client(app: Flask, workspace_and_token: tuple[Workspace, str]) -> FlaskClient:
    """A client that acts for `workspace` with its bearer token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {workspace_and_token[1]}"
    return client


@pytest.fixture
def channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(services, workspace)


ClientAs = Callable[..., FlaskClient]


@pytest.fixture
def client_as(app: Flask, services: Services, workspace: Workspace) -> ClientAs:
    """A client acting for a member of `workspace` with a role, through a token of a scope."""

    def make(role: Role, scope: Scope = Scope.ADMIN) -> FlaskClient:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = (
            f"Bearer {make_member_token(services, workspace, role, scope)}"
        )
        return client

    return make


@dataclass
class ServedApi:
    """The API under gunicorn, as `crier up` and the compose file run it, over the test's database."""

    base_url: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def worker_pids(self) -> list[int]:
        """The gunicorn workers' process ids (the master's children)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def resident_kib(pid: int) -> int:
    """A process's resident memory (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"process {pid} has no VmRSS")


ServeApi = Callable[..., ServedApi]


@pytest.fixture
def serve_api(settings: Settings, tmp_path: Path) -> Iterator[ServeApi]:
    """Start the API under gunicorn (`workers` processes, more CRIER_ settings as keywords); stopped after."""
    started: list[ServedApi] = []

    def serve(workers: int = 1, **more_settings: str) -> ServedApi:
        port = _free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("CRIER_")} | {
            "CRIER_DATABASE_URL": settings.resolved_database_url,
            "CRIER_SANDBOX_STORE_URL": settings.resolved_sandbox_store_url,
            "CRIER_BROKER_URL": "memory://",
            "CRIER_DATA_DIR": str(settings.data_dir),
            "CRIER_API_BIND": f"127.0.0.1:{port}",
        }
        env |= {f"CRIER_{name.upper()}": value for name, value in more_settings.items()}
        log_path = tmp_path / f"gunicorn-{port}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    *("--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"),
                    *("--workers", str(workers), "--threads", "4"),
                    "services.api.app:create_app()",
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        served = ServedApi(f"http://127.0.0.1:{port}", "127.0.0.1", port, process, log_path)
        started.append(served)

        def answering() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited early:\n{served.log()}")
            with contextlib.suppress(httpx.HTTPError):
                healthy = httpx.get(f"{served.base_url}/healthz", timeout=2).status_code == 200
                return healthy and len(served.worker_pids()) == workers
            return False

        wait_for(
            answering, timeout=30, every=0.1, what="gunicorn answering with its workers", context=served.log
        )
        return served

    yield serve
    for served in started:
        if served.process.poll() is None:
            os.killpg(served.process.pid, signal.SIGTERM)
            try:
                served.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(served.process.pid, signal.SIGKILL)
                served.process.wait(5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
