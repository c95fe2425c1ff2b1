"""Adapters chosen by name: each port's implementations are entry points, loaded only once chosen.

The settings name the adapter a process uses (CRIER_TASK_QUEUE, CRIER_RATE_LIMITER, CRIER_MEDIA_STORAGE);
the composition root loads it, so the adapter's client library (Celery, Redis) is imported by the processes
that chose it and by no feature. A package of its own can add an adapter with an entry in the group, as a
network adapter does in `crier.networks`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any


@dataclass(frozen=True)
class AdapterGroup:
    """One port's adapters: the entry point group they are in, and the setting that chooses one."""

    entry_point_group: str
    setting: str
    what: str


TASK_QUEUES = AdapterGroup("crier.task_queues", "CRIER_TASK_QUEUE", "task queue")
RATE_LIMITERS = AdapterGroup("crier.rate_limiters", "CRIER_RATE_LIMITER", "rate limiter")
MEDIA_STORAGES = AdapterGroup("crier.media_storages", "CRIER_MEDIA_STORAGE", "media storage")


class UnknownAdapter(LookupError):
    """No installed adapter has this name; the message names the setting and lists what is installed."""

    def __init__(self, group: AdapterGroup, name: str, installed: list[str]) -> None:
        hint = difflib.get_close_matches(name, installed, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        super().__init__(
            f"{group.setting} names {name!r}, and no {group.what} of that name is installed.{did_you_mean} "
            f"Installed: {', '.join(installed) or 'none'}."
        )


def installed(group: AdapterGroup) -> list[str]:
    """The names of the group's installed adapters, sorted."""
    return sorted({entry.name for entry in entry_points(group=group.entry_point_group)})


def adapter_factory(group: AdapterGroup, name: str) -> Callable[..., Any]:
    """The factory the entry point `name` of the group names, imported now."""
    for entry in entry_points(group=group.entry_point_group, name=name):
        loaded: Callable[..., Any] = entry.load()
        return loaded
    raise UnknownAdapter(group, name, installed(group))
