"""Sending tasks by name: the port, and a queue that keeps what it is given.

The core sends through whichever queue its process was given; the Celery one (shared/broker.py) is chosen
at the process's edge, so no feature imports Celery. Only the worker imports task code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.config import Settings


class TaskQueue(Protocol):
    def send(self, task_name: str, kwargs: dict[str, Any]) -> None:
        """Queue one task by its name, to run now. Nothing is ever queued for later: the database
        says when things are due, and the scheduler sends them then."""
        ...

    def check_reachable(self) -> None:
        """Raise if the broker cannot be reached now."""
        ...


@dataclass
class SentTask:
    name: str
    kwargs: dict[str, Any]


@dataclass
class MemoryTaskQueue:
    """Keeps each task it is asked to send, in order, and runs none: for tests that check what would be
    queued, and for tools that run the core without a broker (CRIER_TASK_QUEUE=memory)."""

    sent: list[SentTask] = field(default_factory=list)
    # A test sets it to False to see how a process copes with a broker that is down.
    reachable: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> MemoryTaskQueue:
        return cls()

    def send(self, task_name: str, kwargs: dict[str, Any]) -> None:
        self.sent.append(SentTask(task_name, kwargs))

    def check_reachable(self) -> None:
        if not self.reachable:
            raise ConnectionError("the broker is down (MemoryTaskQueue.reachable is False)")
