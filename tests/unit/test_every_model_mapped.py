"""A process may query any model, whichever features it imported: its session factory maps them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROCESSES = ["services.scheduler.main", "services.worker.app", "services.api.app", "services.cli.main"]


@pytest.mark.parametrize("entry_module", PROCESSES)
def test_a_process_that_imported_only_its_own_modules_can_map_every_model(entry_module: str) -> None:
    # A fresh interpreter: this test session imported every model long ago, which would hide a gap.
    script = (
        f"import {entry_module}\n"
        "from sqlalchemy.orm import configure_mappers\n"
        "from shared.db import create_db_engine, create_session_factory\n"
        "create_session_factory(create_db_engine('sqlite://'))\n"
        "configure_mappers()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
