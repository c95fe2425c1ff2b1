"""The short soak: `crier up` on the embedded default under a minute of steady work keeps every promise.

The half-hour run's figures are in bench/README.md; this one runs in CI, so that a change that makes the
embedded default crash, restart, lose, double or log an error under ordinary use is caught the day it lands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import SoakOptions, read_log, run_soak

pytestmark = pytest.mark.e2e


def test_a_minute_of_posts_metrics_and_webhooks_on_the_embedded_default(tmp_path: Path) -> None:
    options = SoakOptions.short()

    result = run_soak(options, tmp_path)

    report = result.report()
    assert result.unfinished is None, report
    assert result.refused_posts == [], report
    # A post a second and a half, each to one to three channels.
    assert result.posts >= 0.9 * options.minutes * options.posts_per_minute, report
    assert result.verdict.states["published"] >= result.posts, report
    assert (result.verdict.duplicates, result.verdict.lost, result.verdict.mismatches) == (0, 0, 0), report
    assert result.webhook_missing == 0, report
    assert result.metric_samples > 0, report
    assert result.restarts == {"api": 0, "scheduler": 0, "worker": 0}, report
    assert result.log_errors == [], report
    # Growth over a minute says little (the half-hour run holds the target); that each process was measured
    # is what this run can prove.
    assert set(result.rss) == {"api", "scheduler", "worker"}, report


def test_the_soak_reads_errors_and_warnings_from_each_process_s_lines() -> None:
    log = "\n".join(
        [
            "08:15:37 system    | api started (pid 7529)",
            '08:15:39 worker    | {"level": "ERROR", "logger": "celery", "message": "Task failed"}',
            '08:15:39 worker    | {"level": "WARNING", "logger": "shared.x", "message": "slow"}',
            '08:15:40 worker    | {"level": "WARNING", "logger": "shared.x", "message": "slow"}',
            '08:15:41 scheduler | {"level": "INFO", "logger": "crier.scheduler", "message": "claimed 3"}',
            "08:15:42 api       | [2026-12-06 08:15:42 +0000] [7529] [ERROR] Worker (pid:7535) was killed",
            "08:15:43 worker    | Traceback (most recent call last):",
        ]
    )

    errors, warnings = read_log(log)

    assert [line[:18] for line in errors] == [
        "08:15:39 worker   ",
        "08:15:42 api      ",
        "08:15:43 worker   ",
    ]
    assert warnings == {"shared.x: slow": 2}
