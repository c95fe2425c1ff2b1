"""`crier up`'s supervisor, with real child processes that fail, get killed, or refuse to stop."""

from __future__ import annotations

import io
import itertools
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from honcho.printer import Printer

from services.cli.supervisor import Backoff, RestartPolicy, Supervisor, describe_exit
from tests.driving import wait_for
from tests.process_table import read_process, wait_until_gone

QUICK = RestartPolicy(first_pause=0.2, longest_pause=0.8, healthy_after=30, stop_grace=1.0)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def steady(word: str) -> list[str]:
    """A process that says `word` and its pid, then runs until it is signalled."""
    return python(f"import os, time; print({word!r}, os.getpid(), flush=True); time.sleep(120)")


def failing_at_start(starts_file: Path) -> list[str]:
    """A process that notes when it started (on the machine's monotonic clock), then exits with code 3."""
    return python(
        f"import time; open({str(starts_file)!r}, 'a').write(f'{{time.monotonic()}}\\n'); raise SystemExit(3)"
    )


@dataclass
class Running:
    """A supervisor running in a thread, its output, and the restarts it reported."""

    supervisor: Supervisor
    output: io.StringIO
    restarted: list[str] = field(default_factory=list)
    returncode: int | None = None

    def text(self) -> str:
        return self.output.getvalue()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30) -> list[re.Match[str]]:
        """Wait until the output holds `count` lines matching `pattern`; those lines' matches."""
        return wait_for(
            lambda: list(re.finditer(pattern, self.text(), flags=re.MULTILINE)),
            lambda matches: len(matches) >= count,
            timeout=timeout,
            what=f"{count} lines matching {pattern!r}",
            context=self.text,
        )


@contextmanager
def supervising(
    commands: Mapping[str, Sequence[str]], policy: RestartPolicy = QUICK, stop_with: int = signal.SIGTERM
) -> Iterator[Running]:
    output = io.StringIO()
    restarted: list[str] = []
    supervisor = Supervisor(commands, Printer(output), policy=policy, on_restart=restarted.append)
    running = Running(supervisor, output, restarted)

    def run() -> None:
        running.returncode = supervisor.run()

    thread = threading.Thread(target=run, name="supervisor")
    thread.start()
    try:
        yield running
    finally:
        supervisor.request_stop(stop_with)
        thread.join(timeout=60)
        assert not thread.is_alive(), f"the supervisor did not stop:\n{running.text()}"


def started_pid(running: Running, name: str, again: bool = False) -> int:
    pattern = rf"system\s+\| {name} started{' again' if again else ''} \(pid (\d+)\)"
    return int(running.wait_for(pattern)[-1][1])


def test_the_pause_doubles_with_each_quick_exit_up_to_the_cap():
    backoff = Backoff(RestartPolicy(first_pause=1, longest_pause=60, healthy_after=30))

    pauses = [backoff.pause_after(ran_for=0.5) for _ in range(9)]

    assert pauses == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_healthy_run_brings_the_pause_back_to_the_first_one():
    backoff = Backoff(RestartPolicy(first_pause=1, longest_pause=60, healthy_after=30))
    for _ in range(5):
        backoff.pause_after(ran_for=2)

    after_a_healthy_run = backoff.pause_after(ran_for=30)
    then_a_quick_exit = backoff.pause_after(ran_for=29.9)

    assert (after_a_healthy_run, then_a_quick_exit) == (1, 2)


def test_a_process_failing_for_days_keeps_the_longest_pause():
    backoff = Backoff(RestartPolicy(first_pause=1, longest_pause=60, healthy_after=30))

    pauses = {backoff.pause_after(ran_for=0) for _ in range(100_000)}

    assert max(pauses) == 60


@pytest.mark.parametrize(
    ("returncode", "told"),
    [
        (0, "exited with code 0"),
        (3, "exited with code 3"),
        (-9, "was killed by SIGKILL"),
        (-15, "was killed by SIGTERM"),
    ],
)
def test_an_exit_is_told_by_its_code_or_its_signal(returncode: int, told: str):
    assert describe_exit(returncode) == told


def test_a_process_failing_at_start_is_started_again_with_growing_pauses_while_the_others_run(tmp_path: Path):
    starts_file = tmp_path / "starts"
    commands = {"failing": failing_at_start(starts_file), "steady": steady("steady")}

    with supervising(commands) as running:
        steady_pid = started_pid(running, "steady")
        exits = running.wait_for(
            r"failing \(pid \d+\) exited with code 3 after [\d.]+ s; starting it again in ([\d.]+) s$",
            count=5,
        )
        running.wait_for(r"failing started again \(pid \d+\), restart 5$")
        steady_now = read_process(steady_pid)

    told_pauses = [float(match[1]) for match in exits[:5]]
    assert told_pauses == [0.2, 0.4, 0.8, 0.8, 0.8]
    starts = [float(line) for line in starts_file.read_text().split()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Each start comes at least its pause after the one before (its own start-up time comes on top).
    assert all(gap >= pause for gap, pause in zip(gaps, told_pauses, strict=False)), gaps
    assert running.restarted[:5] == ["failing"] * 5
    assert steady_now is not None
    assert steady_now.alive
    assert "steady started again" not in running.text()
    assert re.search(rf"^\S+ steady\s+\| steady {steady_pid}$", running.text(), flags=re.MULTILINE)


def test_a_killed_process_is_told_with_its_signal_and_started_again(tmp_path: Path):
    with supervising({"api": steady("api"), "worker": steady("worker")}) as running:
        worker_pid = started_pid(running, "worker")
        os.kill(worker_pid, signal.SIGKILL)
        running.wait_for(
            rf"worker \(pid {worker_pid}\) was killed by SIGKILL after [\d.]+ s; starting it again in 0.2 s$"
        )
        new_worker_pid = started_pid(running, "worker", again=True)
        running.wait_for(rf"^\S+ worker\s+\| worker {new_worker_pid}$")

    assert new_worker_pid != worker_pid
    assert running.supervisor.restarts() == {"api": 0, "worker": 1}
    assert running.restarted == ["worker"]


def test_a_command_that_cannot_be_run_is_tried_again_with_growing_pauses(tmp_path: Path):
    missing = str(tmp_path / "no-such-program")

    with supervising({"missing": [missing], "steady": steady("steady")}) as running:
        tries = running.wait_for(r"missing could not be started \(.+\); trying again in ([\d.]+) s$", count=3)

    assert [float(match[1]) for match in tries[:3]] == [0.2, 0.4, 0.8]
    assert "steady started again" not in running.text()


def test_stopping_sends_sigterm_then_sigkill_to_each_process_group_and_leaves_no_process():
    # The stubborn one ignores SIGTERM and has a child of its own that ignores it too.
    stubborn = python(
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print('child', child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    with supervising({"polite": steady("polite"), "stubborn": stubborn}) as running:
        polite_pid = started_pid(running, "polite")
        stubborn_pid = started_pid(running, "stubborn")
        grandchild_pid = int(running.wait_for(r"stubborn\s+\| child (\d+)$")[0][1])
        family = [read_process(pid) for pid in (polite_pid, stubborn_pid, grandchild_pid)]
        stop_asked_at = time.monotonic()
    stopped_after = time.monotonic() - stop_asked_at

    assert running.returncode == 128 + signal.SIGTERM
    text = running.text()
    assert "SIGTERM received: stopping every process" in text
    assert f"sending SIGTERM to polite (pid {polite_pid})" in text
    assert f"sending SIGTERM to stubborn (pid {stubborn_pid})" in text
    assert f"polite (pid {polite_pid}) was killed by SIGTERM" in text
    assert f"stubborn (pid {stubborn_pid}) is still running: sending SIGKILL" in text
    assert stopped_after >= QUICK.stop_grace
    wait_until_gone([entry for entry in family if entry is not None], timeout=5)
    assert None not in family
    assert "started again" not in text


def test_a_second_stop_request_kills_at_once():
    ignores_sigterm = python(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
    )
    patient = RestartPolicy(first_pause=0.2, longest_pause=0.8, healthy_after=30, stop_grace=60)

    with supervising({"stubborn": ignores_sigterm}, policy=patient, stop_with=signal.SIGINT) as running:
        pid = started_pid(running, "stubborn")
        running.supervisor.request_stop(signal.SIGINT)
        running.wait_for("SIGINT received: stopping every process")
        asked_again_at = time.monotonic()
        # The context manager's own request is the second one.
    stopped_after = time.monotonic() - asked_again_at

    assert running.returncode == 128 + signal.SIGINT
    assert f"stubborn (pid {pid}) is still running: sending SIGKILL" in running.text()
    assert stopped_after < patient.stop_grace
