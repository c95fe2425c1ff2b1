"""The embedded broker: kombu's file-system transport, with messages that appear whole and are taken once.

kombu's own `_put` creates the message file under its final name and only then writes it, so a consumer
polling the folder can take the file while it is still empty or half written and die on the JSON
(kombu issue 1551). Here a message is written under a name no consumer lists, then renamed into place;
a consumer claims a file by renaming it, which exactly one consumer can do. The folder layout and the
file names are kombu's, so a data folder written by kombu's transport is read by this one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections import deque
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

# Suffixes the queue's listing never matches (it takes names ending in `.<queue>.msg`).
WRITING_SUFFIX = ".writing"
CLAIMED_SUFFIX = ".claimed"
UNREADABLE_FOLDER = "unreadable"


class Channel(filesystem.Channel):
    """A file-system channel whose message files are complete before they can be seen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per queue, the names of the last listing not tried yet. Listing the folder for every message made
        # each take cost as much as the backlog is long: 20,000 queued messages went at 150 a second.
        self._listed: dict[str, deque[str]] = {}

    # kombu's file-system channel names the message `payload`, its virtual base `message`.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message beside the queue under a hidden name, then rename it into the queue."""
        # Wall-clock nanoseconds, zero-padded, so names sort in sending order across processes and reboots
        # (kombu's monotonic milliseconds restart at boot and change width as they grow).
        name = f"{time.time_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        writing = final + WRITING_SUFFIX
        try:
            # No fsync, as with kombu's transport, Redis's defaults and Crier's SQLite (synchronous=NORMAL):
            # a power cut may lose the last messages (or leave one empty, set aside by `_take`), and the
            # scheduler's sweep sends their claims again. One fsync per message took bench/broker.py from
            # 1,600-2,900 messages a second to 1,000.
            with open(writing, "xb") as file:
                file.write(dumps(payload).encode())
            os.rename(writing, final)
        except OSError as error:
            with contextlib.suppress(FileNotFoundError):
                os.remove(writing)
            raise ChannelError(f"Cannot add message {name!r} to {self.data_folder_out!r}") from error

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        """Take the oldest message of `queue` that no other consumer took first."""
        listed = self._listed.setdefault(queue, deque())
        listed_afresh = False
        while True:
            if not listed:
                if listed_afresh:
                    raise Empty()
                listed.extend(
                    sorted(name for name in os.listdir(self.data_folder_in) if _is_message_of(name, queue))
                )
                listed_afresh = True
                continue
            payload = self._take(listed.popleft())
            if payload is not None:
                return payload

    def _take(self, name: str) -> dict[str, Any] | None:
        """The message in file `name`, or None if another consumer took it first or it is unreadable."""
        listed = os.path.join(self.data_folder_in, name)
        claimed = listed + CLAIMED_SUFFIX
        try:
            # rename() is atomic: of several consumers listing the same file, exactly one moves it.
            os.rename(listed, claimed)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ChannelError(f"Cannot take message {listed!r}") from error
        try:
            with open(claimed, "rb") as file:
                content = file.read()
        except OSError as error:
            raise ChannelError(f"Cannot read message {claimed!r}") from error
        try:
            payload: dict[str, Any] = loads(content.decode())
        except ValueError:
            self._set_aside(claimed, name)
            return None
        self._done_with(claimed, name)
        return payload

    def _done_with(self, claimed: str, name: str) -> None:
        if self.store_processed:
            os.replace(claimed, os.path.join(self.processed_folder, name))
        else:
            os.remove(claimed)

    def _set_aside(self, claimed: str, name: str) -> None:
        # A file this transport wrote is always whole; one that is not came from elsewhere (a writer that
        # does not rename, a disk that lost data). Dying on it would stop every queue, so it is kept for a
        # person to read and the consumer goes on; the scheduler re-sends claims whose message never came.
        folder = Path(self.data_folder_in).parent / UNREADABLE_FOLDER
        folder.mkdir(exist_ok=True)
        os.replace(claimed, folder / name)
        log.error("Set aside an unreadable broker message: %s", folder / name)


def _is_message_of(name: str, queue: str) -> bool:
    # kombu's test: whatever follows the first dot is `<queue>.msg` (names start with digits and an id).
    return name.partition(".")[2] == f"{queue}.msg"


class Transport(filesystem.Transport):
    """kombu's file-system transport with Crier's channel; `broker_transport` names this class."""

    Channel = Channel
    # The parent's state would be shared with a kombu `filesystem://` connection in the same process.
    global_state = virtual.BrokerState()

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # Folders, not a server: without this, kombu warns on every connection that no host name was given
        # and it assumes localhost, a warning each process of `crier up` printed at start.
        return {}
