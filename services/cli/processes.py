"""The commands that run Crier's three processes, shared by `crier up` and documented in the README."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from shared.config import Settings


def _bin(name: str) -> str:
    # The scripts installed beside this interpreter, so `crier up` works without activating the venv.
    candidate = Path(sys.executable).parent / name
    return shlex.quote(str(candidate)) if candidate.exists() else name


def process_commands(settings: Settings, workers: int = 1) -> dict[str, str]:
    """Process name → command line, in shell words (`crier up` and bench/fleet.py split them)."""
    commands = {
        "api": (
            f"{_bin('gunicorn')} --bind {shlex.quote(settings.api_bind)} --worker-class gthread "
            "--workers 2 --threads 8 --access-logfile - 'services.api.app:create_app()'"
        ),
        "scheduler": _bin("crier-scheduler"),
    }
    for number in range(1, workers + 1):
        name = "worker" if workers == 1 else f"worker{number}"
        commands[name] = (
            f"{_bin('celery')} --app services.worker.app:celery_app worker --pool threads "
            f"--concurrency {settings.worker_concurrency} --loglevel {settings.log_level} "
            f"--hostname {name}@%h --without-gossip --without-mingle"
        )
    return commands
