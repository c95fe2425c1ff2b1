"""Whether an uncertain attempt made its post and replies on Threads, and which they are.

Two readings settle it, the first certain, the second the only one across processes:

1. The container. Each part's container id is recorded before it is published (containers.py). Where this
   process recorded it, `GET /{container-id}?fields=status` says for certain whether it was PUBLISHED. That
   it was not (FINISHED, IN_PROGRESS, ERROR, EXPIRED) is certain for a container made during the uncertain
   attempt (recorded since `last_attempted_at`): an older one may have been left by an earlier attempt,
   after which another process made the part with a container of its own. A container does not name the
   post it became, so a PUBLISHED one is then looked for as below. And the replies after the part the
   uncertain attempt stopped at were never sent: Crier makes no part after one it is unsure of, so where
   this process made that part's container during the attempt, the next part is certainly not out.
2. The account's own posts. The post is looked for among the account's threads since the delivery was
   first attempted (`GET /{threads-user-id}/threads?fields=id,text,timestamp,permalink,media_type&since=…`),
   a reply among the direct replies to the part before it (`GET /{media-id}/replies`, the account's own
   only: `is_reply_owned_by_me`) — an answer from the inbox (Draft.reply_to) among those to what it
   answers — by its text (Threads shows a tag without its '#', so '#' is set aside, and surrounding space)
   and its kind (text, image, video, carousel).

Several that match: a person decides (CannotTell). None: certain when the container says so; else trusted only
once the uncertain attempt is `settle` old (2 minutes by default) — an answer lost on the way back may belong
to a post that Meta's lists do not show yet — and until then Crier asks again later (OutcomeUnknown). A
container PUBLISHED whose post is not listed yet is asked about again later too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.networks.ports import (
    CannotTell,
    Draft,
    OutcomeUnknown,
    PostGone,
    PublishedPart,
    PublishedPost,
    Rejected,
)
from shared.networks.threads.channel import VIDEO_TYPES, Channel
from shared.networks.threads.containers import PUBLISHED, Containers, Record, Recorded, part_of
from shared.networks.threads.graph import Graph
from shared.networks.toolkit.answers import reading
from shared.networks.toolkit.parts import Attempt, part_key, part_label

# How far before the first attempt posts are looked at: Meta's clock and Crier's may differ a little.
CLOCK_SLACK = timedelta(minutes=5)
PAGE_SIZE = 100  # the most `limit` takes
PAGES_LIMIT = 10
POST_FIELDS = "id,text,timestamp,permalink,media_type"
REPLY_FIELDS = "id,text,timestamp,permalink,media_type,is_reply_owned_by_me"


class Finder:
    """What an uncertain attempt made, found as the module says."""

    def __init__(
        self,
        graph: Graph,
        containers: Containers,
        recorded: Recorded,
        *,
        clock: Callable[[], datetime],
        settle: timedelta,
    ) -> None:
        self._graph = graph
        self._containers = containers
        self._recorded = recorded
        self._clock = clock
        self._settle = settle

    def find(self, channel: Channel, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        draft = attempt.draft
        if draft is None:
            raise CannotTell(
                "Threads posts carry no key of Crier's: without the text that was sent, a person must check"
            )
        parts = list(attempt.published)
        for index in range(len(parts), 1 + len(draft.thread)):
            try:
                part = self._find_part(channel, draft, index, parts, idempotency_key, attempt)
            except (CannotTell, OutcomeUnknown) as error:
                raise error.after(parts) from None
            if part is None:
                break
            parts.append(part)
        return PublishedPost.of(parts) if parts else None

    def _find_part(
        self,
        channel: Channel,
        draft: Draft,
        index: int,
        parts: Sequence[PublishedPart],
        key: str,
        attempt: Attempt,
    ) -> PublishedPart | None:
        label = part_label(index)
        published = self._container_says(channel, part_key(key, index), attempt)
        if published is False:
            return None
        if published is None and index > 0:
            before = self._recorded.of(part_key(key, index - 1))
            if before is not None and _during(before, attempt):
                return None
        candidates = self._candidates(channel, index, parts, attempt)
        expected_text = draft.text if index == 0 else draft.thread[index - 1]
        expected_kind = _kind(draft) if index == 0 else "TEXT_POST"
        matches = [
            media
            for media in candidates
            if same_text(str(media.get("text") or ""), expected_text)
            and media.get("media_type", expected_kind) == expected_kind
        ]
        if len(matches) > 1:
            raise CannotTell(
                f"Threads: {len(matches)} posts of the account read as {label}; a person must tell which is "
                "Crier's"
            )
        if matches:
            with reading(self._graph.what, write=False):
                return part_of(matches[0])
        if published is True:
            raise OutcomeUnknown(
                f"Threads says {label} was published, but does not list it yet; Crier asks again"
            )
        if not self._settled(attempt):
            raise OutcomeUnknown(f"Threads does not list {label} yet; it is too early to tell it is not out")
        return None

    def _container_says(self, channel: Channel, key: str, attempt: Attempt) -> bool | None:
        """True: the part's recorded container was published; False: it certainly was not; None: no
        container of this process made during the attempt, or Meta no longer knows it."""
        record = self._recorded.of(key)
        if record is None:
            return None
        try:
            status = self._containers.status(channel, record.container_id)
        except (Rejected, PostGone):
            return None
        if status.status == PUBLISHED:
            return True
        return False if _during(record, attempt) else None

    def _candidates(
        self, channel: Channel, index: int, parts: Sequence[PublishedPart], attempt: Attempt
    ) -> list[Mapping[str, Any]]:
        if index == 0 and attempt.draft is not None and attempt.draft.reply_to is not None:
            parent = attempt.draft.reply_to.external_id
            replies = self._pages(f"{parent}/replies", channel, {"fields": REPLY_FIELDS, "reverse": "false"})
            return [reply for reply in replies if reply.get("is_reply_owned_by_me") is True]
        if index == 0:
            since = attempt.attempted_at or attempt.last_attempted_at or self._clock()
            params = {"fields": POST_FIELDS, "since": int((since - CLOCK_SLACK).timestamp())}
            return self._pages(f"{channel.user_id}/threads", channel, params)
        params = {"fields": REPLY_FIELDS, "reverse": "false"}
        replies = self._pages(f"{parts[-1].external_id}/replies", channel, params)
        return [reply for reply in replies if reply.get("is_reply_owned_by_me") is True]

    def _pages(self, path: str, channel: Channel, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        params = {**params, "limit": PAGE_SIZE}
        for _ in range(PAGES_LIMIT):
            answer = self._graph.read(path, channel.access_token, params)
            with reading(self._graph.what, write=False):
                found += [media for media in answer["data"] if isinstance(media, Mapping)]
                paging = answer.get("paging") or {}
                after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return found
            params["after"] = after
        raise CannotTell(
            f"Threads: the account posted more than {PAGE_SIZE * PAGES_LIMIT} times since the attempt; a "
            "person must check"
        )

    def _settled(self, attempt: Attempt) -> bool:
        began = attempt.last_attempted_at or attempt.attempted_at
        return began is not None and self._clock() - began >= self._settle


def _during(record: Record, attempt: Attempt) -> bool:
    """Whether the container was made by the uncertain attempt itself."""
    return attempt.last_attempted_at is not None and record.recorded_at >= attempt.last_attempted_at


def same_text(shown: str, sent: str) -> bool:
    """Whether Threads shows the text that was sent: '#' and surrounding space set aside, line ends alike."""
    return _normalised(shown) == _normalised(sent)


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("#", "").strip()


def _kind(draft: Draft) -> str:
    """How Threads names the post's media_type once published."""
    if not draft.media:
        return "TEXT_POST"
    if len(draft.media) > 1:
        return "CAROUSEL_ALBUM"
    return "VIDEO" if draft.media[0].content_type in VIDEO_TYPES else "IMAGE"
