"""Publishing on Instagram through media containers, each published at most once.

"Content Publishing" (Instagram API with Facebook Login): POST /<IG_USER_ID>/media makes a container from
an `image_url` or `video_url` that Instagram fetches itself (for a carousel, a container per item with
`is_carousel_item=true`, then a CAROUSEL container naming them in `children`); GET /<IG_CONTAINER_ID>
?fields=status_code says IN_PROGRESS while Instagram processes it, FINISHED when it may be published, ERROR,
EXPIRED (not published within 24 hours) or PUBLISHED; POST /<IG_USER_ID>/media_publish?creation_id=
publishes it and answers the new media's id. "If the media_publish endpoint does not return the published
media ID, you can get the container's publishing status" from the container itself.

That makes an uncertain publish exact: a container is published once at most, so the container a delivery
made is remembered under the delivery's key, from before media_publish is sent, and an answer lost on the
way is settled at once by asking the container: PUBLISHED, and the post is found among the account's
latest media; anything else, and nothing was published (the next attempt publishes the same container).
The memory is this process's, for 24 hours (a container's life): a worker that restarts meanwhile makes a
new container, and find_published falls back on the account's latest media (shared.networks.instagram.
finding). Crier has no place of its own to keep an adapter's note across processes; a delivery's parts are
posts a person reads, and a container is none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.networks.instagram.channel import IMAGE_TYPES
from shared.networks.instagram.finding import MediaFinder
from shared.networks.instagram.graph_calls import WHAT, Graph
from shared.networks.ports import (
    CannotTell,
    Draft,
    MediaItem,
    NetworkError,
    OutcomeUnknown,
    PublishedPart,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.toolkit.answers import identifier, reading

CONTAINER_LIFETIME = timedelta(hours=24)
FINISHED, IN_PROGRESS, PUBLISHED, ERROR, EXPIRED = "FINISHED", "IN_PROGRESS", "PUBLISHED", "ERROR", "EXPIRED"


@dataclass(frozen=True)
class Made:
    """A container made for a delivery, and when: the post it becomes is not older."""

    container_id: str
    made_at: datetime


class Containers:
    """The containers this process made, by delivery key, and the steps from a draft to a published post."""

    def __init__(
        self,
        finder: MediaFinder,
        *,
        poll_interval: float,
        poll_attempts: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._finder = finder
        self._poll_interval = poll_interval
        self._poll_attempts = poll_attempts
        self._clock = clock
        self._lock = threading.Lock()
        self._made: dict[str, Made] = {}

    # -- What was made for a delivery ----------------------------------------------------------------

    def remembered(self, key: str) -> Made | None:
        with self._lock:
            made = self._made.get(key)
            if made is not None and self._clock() - made.made_at > CONTAINER_LIFETIME:
                del self._made[key]
                return None
            return made

    def _remember(self, key: str, made: Made) -> None:
        with self._lock:
            now = self._clock()
            for old in [k for k, m in self._made.items() if now - m.made_at > CONTAINER_LIFETIME]:
                del self._made[old]
            self._made[key] = made

    def _forget(self, key: str) -> None:
        with self._lock:
            self._made.pop(key, None)

    # -- Publishing ----------------------------------------------------------------------------------

    def publish(self, graph: Graph, draft: Draft, key: str) -> PublishedPart:
        """The draft's post: its container (the one made before for this delivery, while it may still be
        published) published once, within the account's publishing limit."""
        made = self.remembered(key)
        if made is not None:
            status = self.status(graph, made.container_id)
            if status == PUBLISHED:
                return self._settled_as_published(graph, draft, made)
            if status not in (FINISHED, IN_PROGRESS):
                self._forget(key)
                made = None
        self.check_publishing_limit(graph)
        if made is None:
            made = Made(self._make_container(graph, draft), self._clock())
            self._remember(key, made)
        self._wait_until_finished(graph, made.container_id, key)
        try:
            answer = graph.write(f"{graph.ig_user_id}/media_publish", {"creation_id": made.container_id})
            with reading(WHAT, write=True):
                media_id = identifier(answer["id"])
        except OutcomeUnknown as lost:
            return self._settle(graph, draft, made, lost)
        self._forget(key)
        return self._finder.part_of(graph, media_id)

    def check_publishing_limit(self, graph: Graph) -> None:
        """RateLimited, before any container is made, when the account's rolling 24 hours are used up
        (GET /<IG_USER_ID>/content_publishing_limit: `config.quota_total` and `quota_usage`)."""
        answer = graph.read(f"{graph.ig_user_id}/content_publishing_limit", fields="config,quota_usage")
        with reading(WHAT, write=False):
            [usage] = answer["data"][:1] or [{}]
            total = usage.get("config", {}).get("quota_total")
            used = usage.get("quota_usage")
        if isinstance(total, int) and isinstance(used, int) and used >= total:
            # The window rolls: the oldest of the day's posts leaves it within the next day. An hour, then
            # the limit is read again, without a container made meanwhile.
            raise RateLimited(
                f"{WHAT}: the account has published {used} of its {total} posts of the last 24 hours "
                "through the API; Crier tries again in an hour",
                self._clock() + timedelta(hours=1),
            )

    def status(self, graph: Graph, container_id: str) -> str:
        answer = graph.read(container_id, fields="status_code,status,id")
        with reading(WHAT, write=False):
            return str(answer["status_code"])

    def _make_container(self, graph: Graph, draft: Draft) -> str:
        if len(draft.media) == 1:
            return self._container(graph, draft.media[0], caption=draft.text)
        children = [self._container(graph, item, carousel_item=True) for item in draft.media]
        for child in children:
            self._wait_until_finished(graph, child, key=None)
        return self._create(
            graph, {"media_type": "CAROUSEL", "children": ",".join(children), "caption": draft.text}
        )

    def _container(
        self, graph: Graph, item: MediaItem, *, caption: str | None = None, carousel_item: bool = False
    ) -> str:
        if item.public_url is None:
            raise Rejected(
                f"{WHAT} fetches media from an address of Crier's: none was made (is CRIER_PUBLIC_URL set?)"
            )
        fields: dict[str, str] = {}
        if item.content_type in IMAGE_TYPES:
            fields["image_url"] = item.public_url
            if item.alt_text:
                fields["alt_text"] = item.alt_text
        else:
            fields["video_url"] = item.public_url
            fields["media_type"] = "VIDEO" if carousel_item else "REELS"
        if carousel_item:
            fields["is_carousel_item"] = "true"
        if caption:
            fields["caption"] = caption
        return self._create(graph, fields)

    def _create(self, graph: Graph, fields: dict[str, str]) -> str:
        try:
            answer = graph.write(f"{graph.ig_user_id}/media", fields)
        except OutcomeUnknown as lost:
            # A container that may exist is no post: it expires unpublished. Making another is safe.
            raise Transient(f"{lost} (a media container, not a post: nothing was published)") from lost
        with reading(WHAT, write=False):
            return identifier(answer["id"])

    def _wait_until_finished(self, graph: Graph, container_id: str, key: str | None) -> None:
        """Poll the container until Instagram says it may be published, for a bounded time; an attempt
        that runs out of it leaves the container remembered, and the next resumes with it."""
        for attempt in range(self._poll_attempts):
            status = self.status(graph, container_id)
            if status == FINISHED:
                return
            if status == ERROR:
                if key is not None:
                    self._forget(key)
                raise Rejected(f"{WHAT} could not process the media (container {container_id}: ERROR)")
            if status == EXPIRED:
                if key is not None:
                    self._forget(key)
                raise Transient(f"{WHAT}: container {container_id} expired unpublished; a new one is made")
            if status == PUBLISHED:
                return
            if attempt + 1 < self._poll_attempts:
                time.sleep(self._poll_interval)
        raise Transient(
            f"{WHAT} is still processing the media (container {container_id} IN_PROGRESS after "
            f"{self._poll_attempts * self._poll_interval:.0f} s); the next attempt goes on with it"
        )

    def _settle(self, graph: Graph, draft: Draft, made: Made, lost: OutcomeUnknown) -> PublishedPart:
        """An answer to media_publish lost on the way, settled by the container: published or not."""
        # Whatever stops the reads here, the publish may have landed: only the container's answer settles it.
        try:
            status = self.status(graph, made.container_id)
            if status == PUBLISHED:
                return self._settled_as_published(graph, draft, made)
        except (OutcomeUnknown, CannotTell):
            raise
        except NetworkError as unreadable:
            raise OutcomeUnknown(f"{lost}; Crier could not look: {unreadable}") from unreadable
        raise Transient(
            f"{lost}; but container {made.container_id} is {status}, not published: nothing was posted, "
            "and the next attempt publishes the same container"
        )

    def _settled_as_published(self, graph: Graph, draft: Draft, made: Made) -> PublishedPart:
        found = self._finder.latest_with_caption(graph, draft.text, since=made.made_at)
        if len(found) == 1:
            return found[0]
        if not found:
            raise OutcomeUnknown(
                f"{WHAT}: container {made.container_id} is published, but its post is not among the "
                "account's latest media yet; Crier looks again"
            )
        raise CannotTell(
            f"{WHAT}: container {made.container_id} is published, and {len(found)} posts with its caption "
            f"were made since ({', '.join(part.url or part.external_id for part in found)})",
            published=(),
        )
