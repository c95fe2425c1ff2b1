"""Reading a list the AppView pages newest first (notifications, a search's latest posts) by a position.

app.bsky.notification.listNotifications and app.bsky.feed.searchPosts (sort=latest) give the newest items
first and page by an opaque `cursor` toward older ones only: there is no asking for what came after a point.
So a read is a *pass*: from the top of the list downwards, page by page, until it meets what an earlier pass
has already read. The position, compact JSON, holds

- `seen`: the newest instant every item of which has been read (the time the list is ordered by: a
  notification's `indexedAt`, a found post's `sortAt`), with the items at exactly that instant (several
  may share a millisecond) as short digests of their URIs; everything older was read too, or is older
  than the first read;
- `pass`, while one is under way: its `cursor` (where its next page starts), its `top` (the newest instant
  it met, and the items there) and its `floor` (the oldest instant it has read so far, and the items there).

A pass returns each item newer than `seen` (or at `seen`'s instant and not among its items), with more=True
while pages remain; it ends at the first item older than `seen`, or when the list ends, and `top` becomes
`seen`. Items that arrive during a pass are newer than its `top`: the next pass takes them. Items already
read that a later page shows again, as an offset cursor does when new items push the list down, are at or
above the pass's `floor`, and are skipped. Nothing is returned twice and nothing newer than the first read
is missed, provided the list keeps its order; the limits are the network's: an item indexed with an older
time than items already read (a search index catching up) is not found by a pass that has passed it, and a
deletion that pulls an offset-paged list up hides an item from the page it moved off.

More than MAX_AT_ONE_INSTANT items sharing one millisecond are remembered only in part: those forgotten
may be returned a second time (Crier stores an entry once by its id), never lost.

With no position (a first read), one page is read: its items are returned and its top becomes `seen`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from shared.networks.inbox import MAX_POSITION_LENGTH
from shared.networks.ports import Rejected, Transient
from shared.networks.toolkit.answers import as_utc

Item = TypeVar("Item")

# Digests per instant kept in a position: three lists of 32 fit a position with room for a long cursor.
MAX_AT_ONE_INSTANT = 32
_DIGEST_CHARS = 10  # 40 bits of SHA-256: a collision among one instant's few items is negligible


def digest(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


def parse_time(value: str) -> datetime:
    """An AppView's datetime (`2024-05-01T10:00:00.123Z`), aware; ValueError when it is not one."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


@dataclass
class Instant:
    """A moment of the list and the items read at exactly that moment (as digests of their URIs)."""

    at: datetime
    ids: list[str] = field(default_factory=list)

    def holds(self, at: datetime, uri: str) -> bool:
        return at == self.at and digest(uri) in self.ids

    def add(self, uri: str) -> None:
        key = digest(uri)
        if key not in self.ids and len(self.ids) < MAX_AT_ONE_INSTANT:
            self.ids.append(key)

    def to_json(self) -> dict[str, object]:
        return {"at": self.at.isoformat(), "ids": self.ids}

    @classmethod
    def from_json(cls, value: object) -> Instant:
        if not isinstance(value, dict) or not isinstance(value.get("ids"), list):
            raise ValueError("an instant is {at, ids}")
        return cls(parse_time(str(value["at"])), [str(key) for key in value["ids"]])


@dataclass
class Pass:
    cursor: str
    top: Instant
    floor: Instant


@dataclass
class Position:
    seen: Instant | None
    underway: Pass | None = None

    def dump(self) -> str:
        value: dict[str, object] = {"seen": None if self.seen is None else self.seen.to_json()}
        if self.underway is not None:
            value["pass"] = {
                "cursor": self.underway.cursor,
                "top": self.underway.top.to_json(),
                "floor": self.underway.floor.to_json(),
            }
        text = json.dumps(value, separators=(",", ":"))
        if len(text) > MAX_POSITION_LENGTH:
            # Only the network's cursor can make it so long: the digests are bounded.
            raise Transient("Bluesky gave a cursor too long to keep; the read is tried again later")
        return text

    @classmethod
    def load(cls, text: str) -> Position:
        try:
            value = json.loads(text)
            seen = None if value["seen"] is None else Instant.from_json(value["seen"])
            underway = value.get("pass")
            if underway is None:
                return cls(seen)
            return cls(
                seen,
                Pass(
                    cursor=str(underway["cursor"]),
                    top=Instant.from_json(underway["top"]),
                    floor=Instant.from_json(underway["floor"]),
                ),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise Rejected(f"not a position this Bluesky adapter wrote: {text[:80]!r}") from error


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of the list as the network gave it, newest first."""

    items: Sequence[Item]
    cursor: str | None


@dataclass(frozen=True)
class Read(Generic[Item]):
    """What one read found: the new items, newest first, the position after them, and whether to go on."""

    items: list[Item]
    position: str
    more: bool


def read_newest_first(
    position: str | None,
    fetch: Callable[[str | None], Page[Item]],
    key: Callable[[Item], tuple[datetime, str]],
) -> Read[Item]:
    """One page of the pass `position` is in (or begins), as the module says.

    `fetch(cursor)` reads a page (None: the top); `key(item)` is the item's instant and URI.
    """
    if position is None:
        page = fetch(None)
        seen = _top_of(page.items, key)
        return Read(list(page.items), Position(seen).dump(), more=False)

    state = Position.load(position)
    underway = state.underway
    page = fetch(underway.cursor if underway else None)
    new: list[Item] = []
    ended = page.cursor is None or not page.items
    for item in page.items:
        at, uri = key(item)
        if state.seen is not None and (at < state.seen.at or state.seen.holds(at, uri)):
            if at < state.seen.at:
                ended = True
                break
            continue  # at seen's instant and read already; others of that instant may follow
        if underway is not None and (at > underway.floor.at or underway.floor.holds(at, uri)):
            continue  # shown again: the list moved down under an offset cursor
        if underway is None:
            # The pass's top; at seen's very instant it keeps the items seen there, not to read them again.
            top = Instant(at, list(state.seen.ids) if state.seen and at == state.seen.at else [])
            top.add(uri)
            underway = Pass(cursor="", top=top, floor=Instant(at, [digest(uri)]))
        else:
            if at == underway.top.at:
                underway.top.add(uri)
            if at < underway.floor.at:
                underway.floor = Instant(at)
            underway.floor.add(uri)
        new.append(item)

    if underway is None and not ended and state.seen is not None:
        # A whole page at seen's instant, all read before: the pass goes on below it, for items of that
        # instant not read yet.
        underway = Pass("", Instant(state.seen.at, list(state.seen.ids)), Instant(state.seen.at, []))
    if underway is None:
        # Nothing new at all: the list's top is what was seen.
        return Read([], Position(state.seen).dump(), more=False)
    if ended:
        return Read(new, Position(underway.top).dump(), more=False)
    assert page.cursor is not None
    underway.cursor = page.cursor
    return Read(new, Position(state.seen, underway).dump(), more=True)


def _top_of(items: Sequence[Item], key: Callable[[Item], tuple[datetime, str]]) -> Instant | None:
    if not items:
        return None
    top = Instant(key(items[0])[0])
    for item in items:
        at, uri = key(item)
        if at == top.at:
            top.add(uri)
    return top
