"""Crier's processes, started as `crier up` and docker compose start them, keep secrets out of their
output: a production process refuses a weak CRIER_SECRET_KEY before it does anything, without printing
it, and the API's access log never holds the OAuth `code` and `state` of a callback."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.cli.processes import process_commands
from shared.config import Settings
from tests.driving import wait_for

BIN = Path(sys.executable).parent
WEAK_KEY = "changeme-changeme"
CODE = "Zq7codeThatOpensTheAccount"
STATE = "Kx9stateThatNamesTheAttempt"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment a process of an embedded installation in `tmp_path` starts with, plus `settings`."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("CRIER_")}
    return {
        **inherited,
        "CRIER_DATA_DIR": str(tmp_path / "var"),
        **{f"CRIER_{name.upper()}": value for name, value in settings.items()},
    }


@pytest.mark.parametrize(
    "command",
    [[str(BIN / "crier-scheduler")], [str(BIN / "crier"), "db", "upgrade"]],
    ids=["scheduler", "crier db upgrade"],
)
def test_a_production_process_with_a_weak_secret_key_refuses_to_start_and_does_not_print_it(
    tmp_path: Path, command: list[str]
) -> None:
    env = environment(tmp_path, environment="production", secret_key=WEAK_KEY)

    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert started.returncode != 0
    assert "CRIER_SECRET_KEY is too weak for production" in started.stderr
    assert "secrets.token_urlsafe(32)" in started.stderr, "it says how to make a good one"
    assert WEAK_KEY not in started.stdout + started.stderr
    assert not (tmp_path / "var" / "crier.db").exists(), "it did nothing before refusing"


def test_the_api_process_refuses_a_weak_key_in_production_too(tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path, environment="production", secret_key=WEAK_KEY, api_bind=f"127.0.0.1:{port}")
    command = shlex.split(process_commands(Settings(_env_file=None, api_bind=f"127.0.0.1:{port}"))["api"])

    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert started.returncode != 0
    assert "CRIER_SECRET_KEY is too weak for production" in started.stderr
    assert WEAK_KEY not in started.stdout + started.stderr


@contextmanager
def running_api(tmp_path: Path, log_format: str) -> Iterator[tuple[str, Path]]:
    """The API as `crier up` runs it (gunicorn, its access log on stdout), migrated; its URL and output."""
    port = free_port()
    env = environment(tmp_path, api_bind=f"127.0.0.1:{port}", log_format=log_format)
    subprocess.run(
        [str(BIN / "crier"), "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60
    )
    output = tmp_path / "api.log"
    command = shlex.split(process_commands(Settings(_env_file=None, api_bind=f"127.0.0.1:{port}"))["api"])
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert process.poll() is None, output.read_text()
        try:
            httpx.get(f"{base_url}/healthz", timeout=1)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_for(answering, timeout=30, every=0.2, what="the API answering", context=output.read_text)
        yield base_url, output
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def logged_all_three(log: str) -> bool:
    """Whether the access log holds the test's two callbacks and its other request, however they read."""
    lines = log.splitlines()
    return sum("/oauth/callback" in line for line in lines) == 2 and any("probe" in line for line in lines)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_oauth_callbacks_code_and_state_never_reach_the_access_log(
    tmp_path: Path, log_format: str
) -> None:
    with running_api(tmp_path, log_format) as (base_url, output):
        callback = httpx.get(f"{base_url}/oauth/callback", params={"code": CODE, "state": STATE})
        # An error the network sends back carries the state too.
        declined = httpx.get(f"{base_url}/oauth/callback", params={"error": "access_denied", "state": STATE})
        other = httpx.get(f"{base_url}/healthz", params={"probe": "kept"})
        # Each access line is written after its answer went out.
        wait_for(output.read_text, logged_all_three, what="the three requests' access lines")

    log = output.read_text()
    assert (callback.status_code, declined.status_code, other.status_code) == (404, 400, 200)
    assert CODE not in log
    assert STATE not in log
    callback_lines = [line for line in log.splitlines() if "/oauth/callback" in line]
    assert len(callback_lines) == 2, log
    assert all("[query removed]" in line for line in callback_lines)
    assert "/healthz?probe=kept" in log, "other requests' query strings are still logged"
    if log_format == "json":
        access = [json.loads(line) for line in callback_lines]
        assert {entry["logger"] for entry in access} == {"gunicorn.access"}
