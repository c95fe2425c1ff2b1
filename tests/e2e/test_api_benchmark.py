"""bench/api.py at a tiny size on both backends, so that the API benchmark keeps running as the code changes.

The figures are bench/README.md's; this checks that the stack starts, wrk drives every endpoint, each answer
is the one the endpoint promises (201 for a new post, 200 otherwise, seen in the access log) and the report
parses. No timing is asserted: the machine running the tests is not the one the figures were taken on.
"""

from __future__ import annotations

import re
import shlex

import pytest

from bench.api import (
    FIGURES,
    Backend,
    Options,
    access_statuses,
    milliseconds,
    parse_wrk,
    run_backend,
    server_command,
)
from services.cli.processes import process_commands
from shared.config import Settings

pytestmark = pytest.mark.e2e

# A real report of Debian's wrk 4.1.0, against a server answering 404 to everything.
WRK_REPORT = """\
Running 1s test @ http://127.0.0.1:18765/missing
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.78ms    2.21ms  22.06ms   88.44%
    Req/Sec     1.43k   346.01     1.96k    63.64%
  Latency Distribution
     50%    0.91ms
     75%    2.16ms
     90%    4.26ms
     99%   10.28ms
  1568 requests in 1.10s, 796.25KB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 1568
Requests/sec:   1424.52
Transfer/sec:    723.39KB
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_api_benchmark_drives_every_endpoint_of_a_small_workspace(backend: Backend) -> None:
    options = Options(posts=300, duration=1, connections=4)

    lines = list(run_backend(backend, options))

    report = "\n".join(lines)
    assert "posts_seeded=300 " in lines[0], report
    figures = lines[1:-1]
    assert [line.split(maxsplit=1)[1][:24].strip() for line in figures] == list(FIGURES), report
    for line, name in zip(figures, FIGURES, strict=True):
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        assert float(fields["requests_per_s"].replace(",", "")) > 0, line
        assert 0 < float(fields["p50_ms"]) <= float(fields["p99_ms"]), line
        assert fields["non_2xx"] == "0", line
        expected = "201" if name == "POST /v1/posts" else "200"
        assert re.fullmatch(rf"{expected}:\d+", fields["statuses"]), line
    assert figures[0].endswith("ratio_to_healthz=1.000"), report
    created = int(re.search(r"posts_created_by_the_run=(\d+)", lines[-1]).group(1))  # type: ignore[union-attr]
    assert created > 0, report


def test_wrk_s_report_is_read_into_rate_percentiles_and_errors() -> None:
    result = parse_wrk(WRK_REPORT)

    assert result.requests == 1568
    assert result.requests_per_s == 1424.52
    assert (result.p50_ms, result.p99_ms) == (0.91, 10.28)
    assert result.non_2xx == 1568
    assert result.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 3}


def test_a_report_without_a_latency_distribution_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="latency distribution"):
        parse_wrk(WRK_REPORT.replace("Latency Distribution", "Latency"))


def test_wrk_s_durations_are_read_in_milliseconds() -> None:
    assert [milliseconds(figure) for figure in ("456.00us", "1.50ms", "1.02s", "1.00m")] == [
        0.456,
        1.5,
        1020.0,
        60000.0,
    ]


def test_the_access_log_s_status_codes_are_counted_for_the_figure_s_own_requests() -> None:
    log = (
        '127.0.0.1 - - [06/Dec/2026:17:20:01 +0000] "POST /v1/posts HTTP/1.1" 201 912 "-" "-"\n'
        '127.0.0.1 - - [06/Dec/2026:17:20:01 +0000] "POST /v1/posts HTTP/1.1" 422 300 "-" "-"\n'
        '127.0.0.1 - - [06/Dec/2026:17:20:01 +0000] "GET /v1/posts?limit=50 HTTP/1.1" 201 12 "-" "-"\n'
        '127.0.0.1 - - [06/Dec/2026:17:20:01 +0000] "GET /v1/posts?limit=5 HTTP/1.1" 200 12 "-" "-"\n'
    )

    assert access_statuses(log, "POST /v1/posts") == {"201": 1, "422": 1}
    assert access_statuses(log, "GET /v1/posts?limit=50") == {"201": 1}
    assert access_statuses(log, "GET /v1/posts/{id}") == {}


def test_the_server_is_crier_up_s_with_only_workers_and_threads_replaced() -> None:
    settings = Settings(api_bind="127.0.0.1:8123")
    crier_up = shlex.split(process_commands(settings)["api"])

    replaced = server_command(settings, workers=4, threads=2)

    assert server_command(settings, None, None) == crier_up
    changed = [(ours, theirs) for ours, theirs in zip(replaced, crier_up, strict=True) if ours != theirs]
    assert changed == [("4", "2"), ("2", "8")]
