"""Finds network adapters by name among installed entry points, loading each only when first used."""

from __future__ import annotations

import difflib
import threading
from importlib.metadata import EntryPoint, entry_points

from shared.config import Settings
from shared.networks.ports import Network

ENTRY_POINT_GROUP = "crier.networks"


class UnknownNetwork(LookupError):
    """No installed adapter has this name; the message lists those that are installed."""

    def __init__(self, name: str, installed: list[str]) -> None:
        hint = difflib.get_close_matches(name, installed, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        super().__init__(
            f"No network named {name!r} is installed.{did_you_mean} "
            f"Installed: {', '.join(installed) or 'none'}."
        )
        self.name = name
        self.installed = installed


class NetworkRegistry:
    """The installed networks. Thread-safe: worker threads share one registry."""

    def __init__(self, settings: Settings, entries: list[EntryPoint] | None = None) -> None:
        self._settings = settings
        found = entries if entries is not None else list(entry_points(group=ENTRY_POINT_GROUP))
        self._entries = {entry.name: entry for entry in found}
        self._loaded: dict[str, Network] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Network:
        with self._lock:
            if name not in self._loaded:
                entry = self._entries.get(name)
                if entry is None:
                    raise UnknownNetwork(name, self.names())
                self._loaded[name] = entry.load()(self._settings)
            return self._loaded[name]

    def all(self) -> list[Network]:
        return [self.get(name) for name in self.names()]
