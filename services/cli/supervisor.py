"""`crier up`'s supervisor: it keeps the API, the scheduler and the workers running until it is told to stop.

A process that exits, whatever its exit code or the signal that ended it, is started again after a pause
that doubles with each quick exit in a row, up to a cap, and falls back to the first pause once the process
has run healthily for a while. The other processes keep running meanwhile. Only Ctrl-C or SIGTERM to
`crier up` stops them all: SIGTERM to each, then SIGKILL to those still there after a grace period.

honcho is kept for what users read: its Printer writes each line behind its process's name, coloured on a
terminal, as `crier up` always has. Its Manager is not: by design it stops every process as soon as one
exits, and its Process runs each command through a shell in a relay process, hiding the child that the
supervisor must wait for and signal. supervisord and circus do restart processes, but they give up (FATAL)
after a few quick failures in a row and pause a fixed or linearly growing time, and each needs a daemon
with its own configuration file. What `crier up` needs, never giving up, exponential pauses with a cap and
a reset, and a Prometheus count of each restart, is the loop below.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from honcho.colour import get_colours
from honcho.printer import Message, Printer

SYSTEM_NAME = "system"
# How long the supervisor waits for output before it looks at its processes again.
TICK_SECONDS = 0.1
# How long a process that exited may take to hand over the last of its output before its exit is told.
LAST_OUTPUT_SECONDS = 1.0


@dataclass(frozen=True)
class RestartPolicy:
    """How long a process that exited waits before it is started again, and how long it takes to stop."""

    first_pause: float = 1.0
    longest_pause: float = 60.0
    # A process that ran this long before it exited was healthy: its next pause is the first one again.
    healthy_after: float = 30.0
    # Celery finishes the tasks it is running and gunicorn its requests on SIGTERM; past this, SIGKILL.
    stop_grace: float = 10.0


@dataclass
class Backoff:
    """One process's pauses: doubled at each exit too soon after its start, reset by a healthy run."""

    policy: RestartPolicy
    quick_exits: int = 0

    def pause_after(self, ran_for: float) -> float:
        """Count an exit after `ran_for` seconds and return how long to wait before starting again."""
        self.quick_exits = 1 if ran_for >= self.policy.healthy_after else self.quick_exits + 1
        # The exponent is bounded so that a process failing for days does not overflow a float.
        doubled = self.policy.first_pause * 2 ** min(self.quick_exits - 1, 32)
        return min(doubled, self.policy.longest_pause)


def describe_exit(returncode: int) -> str:
    """'exited with code 1', or 'was killed by SIGKILL' (subprocess gives a signal as its negative number)."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


@dataclass
class Supervised:
    """One of the processes: its command, the running child if there is one, and when to start it again."""

    name: str
    argv: Sequence[str]
    colour: str
    backoff: Backoff
    child: subprocess.Popen[bytes] | None = None
    relay: threading.Thread | None = None
    starts_tried: int = 0
    started_at: float = 0.0
    # When to start it next (monotonic clock); None while it runs.
    start_at: float | None = 0.0
    restarts: int = 0


@dataclass
class Supervisor:
    """Runs named commands, restarts each one that exits, and stops them all when asked."""

    commands: Mapping[str, Sequence[str]]
    printer: Printer
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    # Told the process's name at each restart, after it started: `crier up` counts it for Prometheus.
    on_restart: Callable[[str], None] = lambda name: None

    def __post_init__(self) -> None:
        colours = get_colours()
        self.processes = {
            name: Supervised(name, argv, next(colours), Backoff(self.policy))
            for name, argv in self.commands.items()
        }
        self.printer.width = max(len(name) for name in [SYSTEM_NAME, *self.processes])
        self._lines: queue.Queue[Message] = queue.Queue()
        # Plain flags, not threading.Event: a signal handler runs in the main thread and must not wait for a
        # lock that the interrupted code may hold.
        self._stop_requested = False
        self._kill_requested = False
        self._stop_signal: int | None = None
        self._output_open = True

    def request_stop(self, signum: int | None = None) -> None:
        """Stop every process; asked a second time while they stop, kill them at once. Signal-handler safe."""
        if self._stop_requested:
            self._kill_requested = True
            return
        self._stop_signal = signum
        self._stop_requested = True

    def restarts(self) -> dict[str, int]:
        """How many times each process has been started again."""
        return {name: process.restarts for name, process in self.processes.items()}

    def run(self) -> int:
        """Supervise until request_stop; return 128 + the signal that asked it (130 for Ctrl-C), else 0."""
        try:
            while not self._stop_requested:
                self._start_those_due()
                self._print_output(wait=self._time_to_next_start())
                self._handle_exits(restart=True)
        finally:
            # Whatever stopped the loop, no process is left running without its supervisor.
            self._stop_everything()
        return 128 + self._stop_signal if self._stop_signal else 0

    def run_until_signalled(self) -> int:
        """run(), with Ctrl-C (SIGINT) and SIGTERM asking it to stop; from the main thread only."""
        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        for signum in previous:
            signal.signal(signum, lambda received, _frame: self.request_stop(received))
        try:
            return self.run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _say(self, text: str) -> None:
        self._write(Message("line", text, _now(), SYSTEM_NAME, None))

    def _write(self, message: Message) -> None:
        if not self._output_open:
            return
        try:
            self.printer.write(message)
        except OSError:
            # `crier up | head` closed: the processes keep running, unheard, until Ctrl-C or SIGTERM.
            self._output_open = False

    def _start_those_due(self) -> None:
        now = time.monotonic()
        for process in self.processes.values():
            if process.start_at is not None and process.start_at <= now:
                self._start(process)

    def _start(self, process: Supervised) -> None:
        again = process.starts_tried > 0
        process.starts_tried += 1
        process.started_at = time.monotonic()
        try:
            # A session of its own: the terminal's Ctrl-C reaches the supervisor alone, which then stops the
            # processes itself, and a signal to the process group reaches the child's own children too
            # (gunicorn's workers).
            child = subprocess.Popen(
                list(process.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            pause = process.backoff.pause_after(0.0)
            process.start_at = time.monotonic() + pause
            self._say(f"{process.name} could not be started ({error}); trying again in {pause:g} s")
            return
        process.child = child
        process.start_at = None
        process.relay = threading.Thread(
            target=self._relay_output,
            args=(process.name, process.colour, child.stdout),
            name=f"output of {process.name}",
            daemon=True,
        )
        process.relay.start()
        if again:
            process.restarts += 1
            self._say(f"{process.name} started again (pid {child.pid}), restart {process.restarts}")
            self.on_restart(process.name)
        else:
            self._say(f"{process.name} started (pid {child.pid})")

    def _relay_output(self, name: str, colour: str, stream: IO[bytes] | None) -> None:
        # One thread per child reads its lines; only the supervisor's loop prints, so lines never interleave.
        if stream is None:
            return
        with stream:
            for line in iter(stream.readline, b""):
                self._lines.put(Message("line", line, _now(), name, colour))

    def _print_output(self, wait: float) -> None:
        try:
            message = self._lines.get(timeout=wait) if wait > 0 else self._lines.get_nowait()
        except queue.Empty:
            return
        self._write(message)
        while True:
            try:
                self._write(self._lines.get_nowait())
            except queue.Empty:
                return

    def _time_to_next_start(self) -> float:
        waiting = [process.start_at for process in self.processes.values() if process.start_at is not None]
        if not waiting:
            return TICK_SECONDS
        return max(0.0, min(TICK_SECONDS, min(waiting) - time.monotonic()))

    def _handle_exits(self, *, restart: bool) -> None:
        for process in self.processes.values():
            child = process.child
            if child is None or child.poll() is None:
                continue
            ran_for = time.monotonic() - process.started_at
            self._bury(process, child)
            told = f"{process.name} (pid {child.pid}) {describe_exit(child.returncode)} after {ran_for:.1f} s"
            if restart:
                pause = process.backoff.pause_after(ran_for)
                process.start_at = time.monotonic() + pause
                self._say(f"{told}; starting it again in {pause:g} s")
            else:
                self._say(told)

    def _bury(self, process: Supervised, child: subprocess.Popen[bytes]) -> None:
        """Kill what the dead child left in its process group, and print the last of its output."""
        # Its own children outlive it (a gunicorn worker still holding the port): nothing supervises them
        # now. The group lives on while any member does, so its id cannot have been given to another one.
        _signal_group(child.pid, signal.SIGKILL)
        if process.relay is not None:
            process.relay.join(LAST_OUTPUT_SECONDS)
        self._print_output(wait=0)
        process.child = None
        process.relay = None

    def _running(self) -> list[Supervised]:
        return [process for process in self.processes.values() if process.child is not None]

    def _stop_everything(self) -> None:
        asked = f"{signal.Signals(self._stop_signal).name} received" if self._stop_signal else "Asked to stop"
        self._say(f"{asked}: stopping every process (a second Ctrl-C kills them at once)")
        for process in self._running():
            assert process.child is not None
            self._say(f"sending SIGTERM to {process.name} (pid {process.child.pid})")
            _signal_group(process.child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.policy.stop_grace
        while self._running() and time.monotonic() < deadline and not self._kill_requested:
            self._print_output(wait=TICK_SECONDS)
            self._handle_exits(restart=False)
        for process in self._running():
            assert process.child is not None
            self._say(f"{process.name} (pid {process.child.pid}) is still running: sending SIGKILL")
            _signal_group(process.child.pid, signal.SIGKILL)
            process.child.wait()
        self._handle_exits(restart=False)


def _signal_group(pid: int, signum: int) -> None:
    # An empty group has nothing left to signal.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _now() -> datetime:
    # The local wall-clock time, as honcho's Printer shows it.
    return datetime.now().astimezone()
