"""A process that imports only some features can still query: every model is mapped with the first session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared.db import create_db_engine
from shared.migrations import upgrade

# What the scheduler imports before its first query, and no more: a channel's relationship to its
# collection health (shared.metrics) must resolve without metrics having been imported by anyone.
ONLY_CHANNELS = """
import sys
from sqlalchemy import select
from shared.channels.models import Channel
from shared.db import create_db_engine
from shared.models import create_session_factory
engine = create_db_engine(sys.argv[1])
with create_session_factory(engine)() as session:
    print(session.scalars(select(Channel)).all())
"""


def test_a_process_importing_only_channels_can_query_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crier.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    result = subprocess.run(
        [sys.executable, "-c", ONLY_CHANNELS, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
