"""bench.publishing's sweep at a tiny size, so that the scaling benchmark keeps running as the code changes.

The figures are bench/README.md's; this checks that a stack per worker count starts, publishes every
delivery, and that the report names what PostgreSQL was doing. No timing is asserted.
"""

from __future__ import annotations

import argparse
import re

import pytest

from bench.publishing import sweep, worker_counts

pytestmark = pytest.mark.e2e


def test_the_sweep_publishes_every_delivery_at_each_worker_count_and_samples_the_database() -> None:
    args = argparse.Namespace(deliveries=60, worker_counts=[1, 2], threads=4, latency_ms=0)
    lines: list[str] = []

    sweep(args, lines.append)

    report = "\n".join(lines)
    assert lines[0].startswith("sweep deliveries=60 "), report
    assert [line.split()[0] for line in lines[1:]] == ["workers=1", "workers=2"], report
    for line in lines[1:]:
        fields = dict(re.findall(r"(\w+)=(\[[^\]]*\]|\S+)", line))
        assert fields["published"] == "60", line
        assert float(fields["publishes_per_s"].replace(",", "")) > 0, line
        assert float(fields["crier_db_cores"]) >= 0, line
        # Every sample of an active backend is on CPU or waiting for something named.
        assert re.fullmatch(r"\[(idle|(\w+(:\w+)? \d+%(, )?)+)\]", fields["crier_db_doing"]), line
        assert float(fields["worker_cores"]) > 0, line


def test_worker_counts_are_read_from_a_comma_separated_list_and_bad_ones_refused() -> None:
    assert worker_counts("1,2,4,8") == [1, 2, 4, 8]
    with pytest.raises(argparse.ArgumentTypeError, match="whole numbers"):
        worker_counts("1,two")
    with pytest.raises(argparse.ArgumentTypeError, match="1 or more"):
        worker_counts("0,2")
