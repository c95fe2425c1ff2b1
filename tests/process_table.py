"""The machine's processes as Linux's /proc shows them: who started whom, and which are still alive."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.driving import wait_for

PROC = Path("/proc")
# The program each of `crier up`'s processes runs, as its command line names it.
SUPERVISED_PROGRAMS = {"gunicorn": "api", "crier-scheduler": "scheduler", "celery": "worker"}


@dataclass(frozen=True)
class ProcessEntry:
    """One process: its ids, its state letter (Z for a zombie), when it started and its command line."""

    pid: int
    parent: int
    group: int
    session: int
    state: str
    # Clock ticks after boot: with the pid, it tells a process apart from a later one given the same pid.
    started: int
    argv: tuple[str, ...]

    @property
    def alive(self) -> bool:
        return self.state != "Z"


def read_process(pid: int) -> ProcessEntry | None:
    """The process with this pid, or None when there is none."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in parentheses may itself hold spaces and parentheses: the fields follow the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return ProcessEntry(
        pid=pid,
        parent=int(fields[1]),
        group=int(fields[2]),
        session=int(fields[3]),
        state=fields[0],
        started=int(fields[19]),
        argv=tuple(word.decode(errors="replace") for word in argv if word),
    )


def read_processes() -> list[ProcessEntry]:
    """Every process on the machine (those that exit while they are read are left out)."""
    entries = (read_process(int(path.name)) for path in PROC.iterdir() if path.name.isdigit())
    return [entry for entry in entries if entry is not None]


def descendants(pid: int) -> list[ProcessEntry]:
    """The processes `pid` started, theirs, and so on."""
    table = read_processes()
    found: list[ProcessEntry] = []
    parents = {pid}
    while True:
        children = [entry for entry in table if entry.parent in parents and entry not in found]
        if not children:
            return found
        found.extend(children)
        parents = {entry.pid for entry in children}


def still_alive(entries: Iterable[ProcessEntry]) -> list[ProcessEntry]:
    """Those of `entries` that still run: same pid, same start time, not a zombie."""
    alive = []
    for entry in entries:
        now = read_process(entry.pid)
        if now is not None and now.started == entry.started and now.alive:
            alive.append(now)
    return alive


def wait_until_gone(entries: Iterable[ProcessEntry], timeout: float) -> None:
    """Wait for every one of `entries` to end (a SIGKILL is delivered asynchronously); fail the test
    naming those still alive after `timeout` seconds."""
    entries = list(entries)
    wait_for(
        lambda: still_alive(entries),
        lambda alive: not alive,
        timeout=timeout,
        every=0.1,
        what="every process ended",
    )


def in_sessions(sessions: set[int]) -> list[ProcessEntry]:
    """Every living process of these sessions, wherever it was moved in the process tree."""
    return [entry for entry in read_processes() if entry.session in sessions and entry.alive]


def supervised_children(pid: int) -> dict[str, ProcessEntry]:
    """The processes `crier up` (running as `pid`) started itself, not gunicorn's workers, by their name in
    its output: api, scheduler, worker."""
    children = {}
    for entry in descendants(pid):
        if entry.parent != pid or not entry.alive:
            continue
        for word in entry.argv[:2]:
            if Path(word).name in SUPERVISED_PROGRAMS:
                children[SUPERVISED_PROGRAMS[Path(word).name]] = entry
    return children


def resident_bytes(pid: int) -> int:
    """How much memory the process holds in RAM now (VmRSS), or 0 when it is gone."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # the kernel writes it in kB
    return 0
