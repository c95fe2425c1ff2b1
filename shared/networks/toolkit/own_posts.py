"""Finding what an uncertain attempt made among the account's own posts, for a network that keeps no key of
Crier's (Mastodon, X, LinkedIn, Facebook): what was sent, remembered by this process, and the one rule for
telling the post among those that read like it.

A request still queued on the server may yet appear, so absence is only certain once the attempt is old
enough (`settle`); several matches (the same text posted twice in the window) are for a person to tell apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from shared.networks.ports import CannotTell, Draft, PublishedPart, Transient

Match = TypeVar("Match")
# What was sent is kept this long: an uncertain attempt is checked within minutes, a day covers a worker
# that was down meanwhile.
KEPT = timedelta(days=1)


class _Sent(Protocol):
    @property
    def sent_at(self) -> datetime: ...


Sent = TypeVar("Sent", bound=_Sent)


class SentByThisProcess(Generic[Sent]):
    """What this process sent under each idempotency key, kept a day: what a check looks for when the core
    gives neither the draft nor the attempt's time. `network` names the network in a sentence."""

    def __init__(self, network: str, clock: Callable[[], datetime]) -> None:
        self._network = network
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[str, Sent] = {}

    def remember(self, idempotency_key: str, sent_at: Callable[[datetime], Sent]) -> Sent:
        """Keep what is about to be sent, made by `sent_at` with the first attempt's time under this key:
        a retry must not move the search past a post an earlier attempt made."""
        now = self._clock()
        with self._lock:
            for key in [key for key, value in self._sent.items() if value.sent_at < now - KEPT]:
                del self._sent[key]
            earlier = self._sent.get(idempotency_key)
            sent = sent_at(now if earlier is None else earlier.sent_at)
            self._sent[idempotency_key] = sent
        return sent

    def expected(
        self,
        idempotency_key: str,
        draft: Draft | None,
        attempted_at: datetime | None,
        sent_at: Callable[[Draft, datetime], Sent],
    ) -> Sent:
        """What the attempt sent: the caller's draft and time (made by `sent_at`), else this process's
        record; CannotTell when there is neither."""
        if draft is not None and attempted_at is not None:
            return sent_at(draft, attempted_at)
        with self._lock:
            sent = self._sent.get(idempotency_key)
        if sent is None:
            raise CannotTell(
                f"{self._network} keeps no key of Crier's to look a post up by, and this process did not "
                "send it: without the draft and the time of the attempt there is nothing to recognise it by"
            )
        return sent


def part_address(part: PublishedPart) -> str:
    """Where a person sees a part (its id where it has no address): how several matches are listed."""
    return part.url or part.external_id


@dataclass(frozen=True)
class AmongOwnPosts:
    """How what an uncertain attempt made is told among the account's own `items` since the attempt, read
    back from `where` (the network, or its server): see the module."""

    where: str
    clock: Callable[[], datetime]
    settle: timedelta
    items: str = "posts"

    def settled(self, began: datetime) -> bool:
        """Whether an attempt begun then is old enough that what is not there yet will not appear."""
        return self.clock() - began >= self.settle

    def the_one(
        self,
        matches: Sequence[Match],
        what: str,
        *,
        settled: bool,
        published: Sequence[PublishedPart] = (),
        address: Callable[[Match], str] | None = None,
    ) -> Match | None:
        """The one of `matches`; None when none is there and the attempt is `settled`.

        Several raise CannotTell, listing the `address` of each; none while the attempt is recent raises
        Transient, to ask again later. Either carries `published`, the parts found before this one. `what`
        names the part ("the post", "thread reply 1 of 2").
        """
        if len(matches) > 1:
            listed = f" ({', '.join(address(match) for match in matches)})" if address is not None else ""
            raise CannotTell(
                f"{self.where}: {len(matches)} {self.items} since the attempt match {what}{listed}; "
                "a person must say which",
                published=published,
            )
        if not matches and not settled:
            raise Transient(
                f"{self.where}: {what} is not there yet, but the attempt was under "
                f"{self.settle.total_seconds():.0f} s ago and may still be processed; ask again later",
                published=published,
            )
        return matches[0] if matches else None
