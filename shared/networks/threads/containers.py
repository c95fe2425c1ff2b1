"""Threads media containers: made, waited for, published — and recorded before publishing.

A post on Threads is made in two steps (posts, "Single thread posts"): `POST /{threads-user-id}/threads`
makes a container (TEXT, IMAGE with `image_url`, VIDEO with `video_url`, or a CAROUSEL of item containers),
and `POST /{threads-user-id}/threads_publish?creation_id=…` makes it a post. Only the second makes a post, so
only its failures may have made one. A container is published once: Meta refuses to publish it again, and
`GET /{container-id}?fields=status` says PUBLISHED once it was (troubleshooting, "Publishing does not return a
media ID"). So each part's container id is recorded, in this process, before it is published: an attempt
after an uncertain publish asks that container's status instead of making a second post, and a check knows
for certain whether the part was published.

Meta recommends waiting "on average 30 seconds before publishing a Threads media container to give our
server enough time to fully process the upload", and points at the container's status for when it is ready.
Crier asks the status instead of sleeping blindly: FINISHED means "ready to be published"; IN_PROGRESS is
asked again after a pause that doubles (2 s, 4 s, 8 s… at most 15 s), for at most 90 s for the whole part,
a carousel's items included (a publish attempt's lease is 120 s); then the attempt gives up as Transient,
and the next one publishes the same container when it is ready (a carousel's items are made again).
Meta's own advice for a container that will not finish is to ask "once per minute, for no more than 5
minutes": the attempts' backoff spreads the asking that way.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.networks.ports import (
    Draft,
    MediaItem,
    NetworkError,
    OutcomeUnknown,
    PublishedPart,
    Rejected,
    Transient,
)
from shared.networks.threads.channel import NO_PUBLIC_ADDRESS, VIDEO_TYPES, Channel
from shared.networks.threads.graph import Graph
from shared.networks.toolkit.answers import answer_object, as_utc, identifier, reading, required_text
from shared.networks.toolkit.parts import part_label

# The container statuses (troubleshooting): EXPIRED (not published within 24 hours), ERROR, FINISHED (ready),
# IN_PROGRESS, PUBLISHED.
FINISHED, IN_PROGRESS, PUBLISHED, ERROR, EXPIRED = "FINISHED", "IN_PROGRESS", "PUBLISHED", "ERROR", "EXPIRED"
# An ERROR whose cause may pass: the file could not be fetched then (Crier's address was down, or slow), or
# Meta does not say. A new container on the next attempt may work; every other error message names
# something wrong with the file itself (INVALID_DURATION, FAILED_PROCESSING_VIDEO…), which no retry fixes.
ERRORS_THAT_MAY_PASS = frozenset({"FAILED_DOWNLOADING_VIDEO", "UNKNOWN", ""})
# How many recorded containers a process keeps: the oldest are forgotten first.
RECORDED_LIMIT = 10_000


@dataclass(frozen=True)
class Waiting:
    """How long a container is waited for: the first pause, the longest, and the whole wait."""

    first_pause: float = 2.0
    longest_pause: float = 15.0
    total: float = 90.0


@dataclass(frozen=True)
class Record:
    """A container this process made for a part, and when (by the adapter's clock)."""

    container_id: str
    recorded_at: datetime


class Recorded:
    """The containers this process made, by the key of the part each is for (toolkit.parts.part_key)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._containers: OrderedDict[str, Record] = OrderedDict()

    def record(self, key: str, container_id: str) -> None:
        with self._lock:
            self._containers[key] = Record(container_id, self._clock())
            self._containers.move_to_end(key)
            while len(self._containers) > RECORDED_LIMIT:
                self._containers.popitem(last=False)

    def of(self, key: str) -> Record | None:
        with self._lock:
            return self._containers.get(key)

    def forget(self, key: str) -> None:
        with self._lock:
            self._containers.pop(key, None)


@dataclass(frozen=True)
class Status:
    """A container's status, as `GET /{container-id}?fields=status,error_message` answers it."""

    status: str
    error_message: str = ""


class Containers:
    """Making, waiting for and publishing one part's container."""

    def __init__(
        self,
        graph: Graph,
        recorded: Recorded,
        waiting: Waiting,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._graph = graph
        self._recorded = recorded
        self._waiting = waiting
        self._sleep = sleep

    def publish_part(
        self, channel: Channel, draft: Draft, index: int, parts: Sequence[PublishedPart], key: str
    ) -> PublishedPart:
        """Part `index` of the draft (0: the post; n: its nth reply, to the last of `parts`), made once."""
        label = part_label(index)
        # One wait for the whole part: a carousel's items and the carousel share it.
        budget = _Budget(self._waiting.total)
        container = self._reusable(channel, key, label)
        if container is None:
            container = self._make(channel, draft, index, parts, budget)
            # Recorded before it is published: see the module.
            self._recorded.record(key, container)
        self._wait_until_ready(channel, container, key, label, budget)
        media_id = self._publish(channel, container)
        self._recorded.forget(key)
        return self.part(channel, media_id)

    def status(self, channel: Channel, container_id: str) -> Status:
        answer = self._graph.read(container_id, channel.access_token, {"fields": "id,status,error_message"})
        with reading(self._graph.what, write=False):
            return Status(required_text(answer["status"]), str(answer.get("error_message") or ""))

    def part(self, channel: Channel, media_id: str) -> PublishedPart:
        """The published post `media_id` as a part: its permalink and time, or its id alone when they cannot
        be read now (the post is out all the same)."""
        try:
            media = self._graph.read(media_id, channel.access_token, {"fields": "id,permalink,timestamp"})
            return part_of(media)
        except (NetworkError, KeyError, TypeError, ValueError):
            return PublishedPart(external_id=media_id, url="")

    # -- The steps ----------------------------------------------------------------------------------

    def _reusable(self, channel: Channel, key: str, label: str) -> str | None:
        """The container an earlier attempt of this process made for this part, if it may be published."""
        record = self._recorded.of(key)
        if record is None:
            return None
        container = record.container_id
        try:
            status = self.status(channel, container)
        except Rejected:
            status = Status(EXPIRED)  # Meta no longer knows it: make another
        if status.status == PUBLISHED:
            raise OutcomeUnknown(
                f"Threads: {label} was published by an earlier attempt whose answer was lost (container "
                f"{container}); Crier checks before anything is sent again"
            )
        if status.status in (FINISHED, IN_PROGRESS):
            return container
        self._recorded.forget(key)
        return None

    def _make(
        self, channel: Channel, draft: Draft, index: int, parts: Sequence[PublishedPart], budget: _Budget
    ) -> str:
        fields: dict[str, Any] = {"reply_control": channel.reply_control}
        if index == 0 and draft.reply_to is not None:
            fields["reply_to_id"] = draft.reply_to.external_id  # an answer from the inbox
        if index > 0:
            fields |= {"media_type": "TEXT", "text": draft.thread[index - 1]}
            fields["reply_to_id"] = parts[-1].external_id
        elif not draft.media:
            fields |= {"media_type": "TEXT", "text": draft.text}
        elif len(draft.media) == 1:
            fields |= {**media_fields(draft.media[0]), "text": draft.text or None}
        else:
            children = [self._carousel_item(channel, item, budget) for item in draft.media]
            fields |= {"media_type": "CAROUSEL", "children": ",".join(children), "text": draft.text or None}
        return self._create(channel, fields)

    def _carousel_item(self, channel: Channel, item: MediaItem, budget: _Budget) -> str:
        container = self._create(channel, {**media_fields(item), "is_carousel_item": "true"})
        self._wait_until_ready(channel, container, None, "a carousel item", budget)
        return container

    def _create(self, channel: Channel, fields: Mapping[str, Any]) -> str:
        # A container that was made although its answer was lost is harmless (it expires unpublished in 24
        # hours), so this is not a write that could double a post.
        answer = self._graph.post(
            f"{channel.user_id}/threads",
            channel.access_token,
            {name: value for name, value in fields.items() if value is not None},
        )
        with reading(self._graph.what, write=False):
            return identifier(answer["id"])

    def _wait_until_ready(
        self, channel: Channel, container: str, key: str | None, label: str, budget: _Budget
    ) -> None:
        pause = self._waiting.first_pause
        while True:
            status = self.status(channel, container)
            if status.status == FINISHED:
                return
            if status.status == PUBLISHED:
                raise OutcomeUnknown(
                    f"Threads: {label}'s container {container} is already published; Crier checks"
                )
            if status.status != IN_PROGRESS:
                if key is not None:
                    self._recorded.forget(key)
                raise _refused(status, label)
            if pause > budget.left:
                raise Transient(
                    f"Threads was still processing {label} after {self._waiting.total:.0f} s; the next "
                    "attempt publishes it once it is ready"
                )
            self._sleep(pause)
            budget.left -= pause
            pause = min(pause * 2, self._waiting.longest_pause)

    def _publish(self, channel: Channel, container: str) -> str:
        response = self._graph.send(
            "POST",
            f"{channel.user_id}/threads_publish",
            channel.access_token,
            write=True,
            params={"creation_id": container},
        )
        self._graph.calls.check(response, what=self._graph.what, write=True, secrets=[channel.access_token])
        answer = answer_object(response, what=self._graph.what, write=True)
        with reading(self._graph.what, write=True):
            return identifier(answer["id"])


class _Budget:
    """What is left of a part's wait for its containers, in seconds."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds


def media_fields(item: MediaItem) -> dict[str, Any]:
    """An image's or a video's container fields: Threads fetches the file from its public address."""
    if not item.public_url:
        raise Rejected(NO_PUBLIC_ADDRESS)
    if item.content_type in VIDEO_TYPES:
        return {"media_type": "VIDEO", "video_url": item.public_url, "alt_text": item.alt_text}
    return {"media_type": "IMAGE", "image_url": item.public_url, "alt_text": item.alt_text}


def part_of(media: Mapping[str, Any]) -> PublishedPart:
    """A Threads media object as one part of a delivery, dated by Meta's `timestamp`."""
    timestamp = media.get("timestamp")
    return PublishedPart(
        external_id=identifier(media["id"]),
        url=str(media.get("permalink") or ""),
        created_at=meta_time(timestamp) if isinstance(timestamp, str) else None,
    )


def meta_time(value: str) -> datetime:
    """A time as Meta writes it, `2023-10-17T05:42:03+0000`."""
    return as_utc(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z"))


def _refused(status: Status, label: str) -> NetworkError:
    said = f"Threads could not make {label} ready to publish: {status.status}"
    if status.error_message:
        said += f" ({status.error_message})"
    if status.status == EXPIRED or status.error_message in ERRORS_THAT_MAY_PASS:
        return Transient(said + "; the next attempt makes it anew")
    return Rejected(said)
