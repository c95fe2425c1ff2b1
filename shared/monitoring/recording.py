"""What a process counts as things happen, kept in its own file in the host's Prometheus folder.

`bootstrap` points the process at the folder once. The use cases call the `count_*` and `observe_*`
functions after their transaction commits, where there is one, so that a rolled-back change is never
counted.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from prometheus_client import Counter, Histogram, values

log = logging.getLogger(__name__)

# prometheus_client reads the folder from this variable whenever a process opens its file, so it is set
# from the settings here; a prefork pool's children inherit it.
FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Seconds late. Healthy publishing is well under a second late; retries, rate limits and a channel waiting
# to be reconnected make minutes; past CRIER_MAX_LATENESS_SECONDS (30 min by default) a delivery is missed.
LAG_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

# Containers that share the folder each number their processes from 1, so the process id alone would let
# two of them write one file. Underscores are left out: prometheus_client splits file names on them.
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())


def _process_identifier() -> str:
    return f"{_HOST}-{os.getpid()}"


class _Instruments:
    """The metric families. A labelled family writes nothing until it is first used."""

    def __init__(self) -> None:
        # registry=None: /metrics reads the files, not these objects, and a test process makes them anew.
        self.publish_attempts = Counter(
            "crier_publish_attempts",
            "Publish attempts that got an answer from their network, by network and outcome.",
            ["network", "outcome"],
            registry=None,
        )
        self.scheduling_lag = Histogram(
            "crier_scheduling_lag_seconds",
            "How long after its scheduled time each delivery was published, by network.",
            ["network"],
            buckets=LAG_BUCKETS,
            registry=None,
        )
        self.token_refresh_failures = Counter(
            "crier_token_refresh_failures",
            "Network calls refused because the channel's credentials had expired and could not be "
            "renewed: the channel needs reconnecting.",
            ["network"],
            registry=None,
        )
        self.collection_errors = Counter(
            "crier_metric_collection_errors",
            "Engagement metric collections that failed for one channel, by network.",
            ["network"],
            registry=None,
        )
        self.inbox_items = Counter(
            "crier_inbox_items_received",
            "Items the engagement inbox stored (replies, mentions, quotes, messages, saved searches' posts), "
            "by network and kind.",
            ["network", "kind"],
            registry=None,
        )
        self.inbox_read_errors = Counter(
            "crier_inbox_read_errors",
            "Reads of an inbox or saved search that failed, by network (rate limits are not counted).",
            ["network"],
            registry=None,
        )
        self.missed_deliveries = Counter(
            "crier_deliveries_missed",
            "Deliveries marked missed: they could not go out within CRIER_MAX_LATENESS_SECONDS.",
            registry=None,
        )
        self.expired_attempts = Counter(
            "crier_publish_attempts_expired",
            "Publish attempts that did not report back before their lease ran out; now unknown.",
            registry=None,
        )
        self.process_restarts = Counter(
            "crier_process_restarts",
            "Times `crier up` started one of its processes again after it exited, by process name.",
            ["process"],
            registry=None,
        )


_lock = threading.Lock()
_folder: Path | None = None
_instruments: _Instruments | None = None


def use_folder(folder: Path) -> None:
    """Keep this process's counts in `folder`, beside those of the host's other Crier processes.

    Nothing is written until the process first counts something, so a short-lived process (a healthcheck,
    a CLI command) leaves no file. Should the folder be unusable, counts stay in memory, unexported: a
    misconfigured folder must not stop posts from going out.
    """
    global _folder, _instruments
    with _lock:
        if folder == _folder:
            return
        # The files of a folder used before (a test process bootstraps once per test).
        values.close_all_multiprocess_files()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(f"{folder} is not writable")
        except OSError:
            log.warning("Prometheus counts stay in this process: cannot write to %s", folder, exc_info=True)
            values.ValueClass = values.MutexValue
        else:
            os.environ[FOLDER_VARIABLE] = str(folder)
            values.ValueClass = values.MultiProcessValue(_process_identifier)
        _folder = folder
        _instruments = None


def _current() -> _Instruments:
    global _instruments
    with _lock:
        if _instruments is None:
            # Made on first use, after use_folder: the unlabelled counters open the process's file.
            _instruments = _Instruments()
        return _instruments


@contextmanager
def _recording(what: str) -> Iterator[None]:
    # Counting must never stop the work it counts: a full disk costs numbers, never posts.
    try:
        yield
    except Exception:
        log.warning("could not count %s for Prometheus", what, exc_info=True)


def count_publish_attempt(network: str, outcome: StrEnum) -> None:
    """Count an attempt's outcome: an AttemptOutcome, taken as any StrEnum so that counting, which every
    feature may use, imports no feature."""
    with _recording("a publish attempt"):
        attempts = _current().publish_attempts
        # Every outcome's series (each member of the outcome's enum) starts at zero with a network's first
        # attempt, so that rate() and increase() see the first failure of each kind rather than starting
        # the series with it.
        for each in type(outcome):
            attempts.labels(network, each.value)
        attempts.labels(network, outcome.value).inc()


def observe_scheduling_lag(network: str, seconds: float) -> None:
    with _recording("a scheduling lag"):
        _current().scheduling_lag.labels(network).observe(max(seconds, 0.0))


def count_token_refresh_failure(network: str) -> None:
    with _recording("a token refresh failure"):
        _current().token_refresh_failures.labels(network).inc()


def count_collection_error(network: str) -> None:
    with _recording("a metric collection error"):
        _current().collection_errors.labels(network).inc()


def count_inbox_items(network: str, kind: StrEnum, count: int) -> None:
    """Count items stored; `kind` is an InboxKind, taken as any StrEnum as count_publish_attempt does."""
    if count:
        with _recording("inbox items"):
            _current().inbox_items.labels(network, kind.value).inc(count)


def count_inbox_read_error(network: str) -> None:
    with _recording("an inbox read error"):
        _current().inbox_read_errors.labels(network).inc()


def count_missed_deliveries(count: int) -> None:
    if count:
        with _recording("missed deliveries"):
            _current().missed_deliveries.inc(count)


def count_expired_attempts(count: int) -> None:
    if count:
        with _recording("expired attempts"):
            _current().expired_attempts.inc(count)


def expect_process_restarts(processes: Iterable[str]) -> None:
    """Start each process's restart series at zero, so that rate() and increase() see its first restart."""
    with _recording("process restarts"):
        for process in processes:
            _current().process_restarts.labels(process)


def count_process_restart(process: str) -> None:
    with _recording("a process restart"):
        _current().process_restarts.labels(process).inc()
