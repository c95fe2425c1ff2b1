"""The short chaos run: killing processes, the database and the broker neither loses nor doubles a post."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
# The short run takes 50-80 s on a 2-core machine. It may wait longer for a retry's backoff or an uncertain
# Mastodon attempt before it calls a delivery lost; past this, the run itself is stuck.
RUN_TIMEOUT = 260
FINAL_LINE = re.compile(
    r"^deliveries=\d+ parts=(?P<parts>\d+) published=(?P<published>\d+) failed=\d+ needs_review=\d+ "
    r"duplicates=(?P<duplicates>\d+) lost=(?P<lost>\d+) missed=\d+ kill_cycles=(?P<kill_cycles>\d+) "
    r"redis_restarts=(?P<redis_restarts>\d+) postgres_restarts=(?P<postgres_restarts>\d+) seconds=\d+$"
)


def run_chaos(*args: str) -> tuple[int, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.chaos", *args],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the run stop its processes and drop its database before it exits.
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pytest.fail(f"the chaos run took more than {RUN_TIMEOUT} s:\n{output}", pytrace=False)
    return process.returncode, output


@pytest.mark.timeout(RUN_TIMEOUT + 90)
def test_killing_schedulers_workers_the_database_and_the_broker_neither_duplicates_nor_loses_a_part():
    status, output = run_chaos("--short")

    final_line = output.rstrip().splitlines()[-1] if output.strip() else ""
    summary = FINAL_LINE.match(final_line)
    assert summary, f"no summary line at the end of the output:\n{output}"
    assert int(summary["duplicates"]) == 0, output
    assert int(summary["lost"]) == 0, output
    assert int(summary["kill_cycles"]) >= 5, output
    assert int(summary["redis_restarts"]) == 1, output
    assert int(summary["postgres_restarts"]) == 1, output
    # Thread replies were among the parts checked, and both networks stored some.
    assert int(summary["parts"]) > int(summary["published"]), output
    assert re.search(r"^stored: [1-9]\d* sandbox posts and [1-9]\d* Mastodon statuses", output, re.M), output
    assert status == 0, output
