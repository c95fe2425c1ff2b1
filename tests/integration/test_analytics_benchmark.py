"""bench/analytics.py at a tiny size, so the benchmark keeps working as the code under it changes."""

from __future__ import annotations

import re

from bench.analytics import run


def test_the_analytics_benchmark_loads_checks_and_times_every_figure_on_a_small_database() -> None:
    lines = list(run(samples=3_000, workspaces=2, channels_each=3, runs=2, baseline_runs=1, seed=7))

    assert lines[0].startswith("seeded deliveries=429 channels=6")
    load = dict(re.findall(r"(\w+)=([\d.,]+)", lines[1]))
    assert load["samples"] == "3,000"
    assert float(load["samples_per_s"].replace(",", "")) > 0
    # It got this far only because the rollups it built add up to the latest values, channel by channel.
    assert [line.split()[0] for line in lines[2:]] == [
        "series_90_days_by_day",
        "summary_30_days",
        "summary_90_days",
    ]
    assert all("p95_ms=" in line and "ratio=" in line for line in lines[2:])
