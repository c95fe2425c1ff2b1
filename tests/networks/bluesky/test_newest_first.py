"""Reading a newest-first list by passes (shared.networks.bluesky.newest_first), against a list in memory:
small pages, many items sharing one millisecond, items arriving during every read, cursors of both kinds."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.networks.bluesky.newest_first import MAX_AT_ONE_INSTANT, Page, Read, read_newest_first
from shared.networks.inbox import MAX_POSITION_LENGTH
from shared.networks.ports import Rejected

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
Item = tuple[int, str]  # (millisecond, uri); the list orders by (millisecond, uri), newest first


class NewestFirstList:
    """A list paged newest first, by a keyset cursor (as listNotifications) or an offset (as a search)."""

    def __init__(self, cursor: str, page_size: int, chance: random.Random, ties: int) -> None:
        self.cursor, self.page_size, self.chance, self.ties = cursor, page_size, chance, ties
        self.items: list[Item] = []
        self.now = 0
        self.at_now = 0
        self.made: list[str] = []
        self.arriving = 0  # how many at most arrive before each page is read

    def add(self, count: int) -> None:
        for _ in range(count):
            # Several items to one millisecond, up to `ties`, then the clock moves on.
            if self.at_now >= self.chance.randint(1, self.ties):
                self.now, self.at_now = self.now + 1, 0
            self.at_now += 1
            uri = f"at://did:plc:x/app.bsky.feed.post/{len(self.made):06d}{self.chance.random()}"
            self.items.append((self.now, uri))
            self.made.append(uri)

    def fetch(self, cursor: str | None) -> Page[Item]:
        self.add(self.chance.randint(0, self.arriving))
        ordered = sorted(self.items, reverse=True)
        if self.cursor == "keyset":
            if cursor is not None:
                ms, _, uri = cursor.partition("::")
                ordered = [item for item in ordered if item < (int(ms), uri)]
            page = ordered[: self.page_size]
            return Page(page, f"{page[-1][0]}::{page[-1][1]}" if page else None)
        start = int(cursor or 0)
        page = ordered[start : start + self.page_size]
        more = start + self.page_size < len(ordered)
        return Page(page, str(start + self.page_size) if more else None)


def key(item: Item) -> tuple[datetime, str]:
    return EPOCH + timedelta(milliseconds=item[0]), item[1]


def read_all(listed: NewestFirstList, position: str | None) -> tuple[list[str], str]:
    read: list[str] = []
    while True:
        page: Read[Item] = read_newest_first(position, listed.fetch, key)
        assert len(page.position) <= MAX_POSITION_LENGTH
        read += [uri for _, uri in page.items]
        position = page.position
        if not page.more:
            return read, position


@pytest.mark.parametrize("cursor", ["keyset", "offset"])
@pytest.mark.parametrize("seed", range(6))
def test_every_item_after_the_first_read_is_read_once_however_many_arrive_meanwhile(
    cursor: str, seed: int
) -> None:
    listed = NewestFirstList(cursor, page_size=7, chance=random.Random(seed), ties=12)
    listed.add(40)
    first = read_newest_first(None, listed.fetch, key)
    assert [uri for _, uri in first.items] == [uri for _, uri in sorted(listed.items, reverse=True)[:7]]
    expected = {uri for _, uri in first.items}
    listed.made.clear()

    listed.arriving = 5  # fewer than a page, on average, or a pass would never catch up
    read, position = [uri for _, uri in first.items], first.position
    for _ in range(40):
        more, position = read_all(listed, position)
        read += more
        listed.add(listed.chance.randint(0, 30))  # between reads too
    listed.arriving = 0
    read += read_all(listed, position)[0]

    assert len(read) == len(set(read)), "nothing is read twice"
    assert set(read) == expected | set(listed.made), "nothing after the first read is missed"


def test_a_page_wholly_of_the_instant_already_seen_does_not_end_the_pass_before_the_rest_of_it() -> None:
    listed = NewestFirstList("keyset", page_size=3, chance=random.Random(1), ties=1)
    listed.items = [(5, f"at://did:plc:x/app.bsky.feed.post/{n}") for n in range(1, 5)]
    first = read_newest_first(None, listed.fetch, key)
    assert len(first.items) == 3
    # One more at that very millisecond, ordered below those read: a page of seen items comes first.
    listed.items.append((5, "at://did:plc:x/app.bsky.feed.post/0a"))

    read, _ = read_all(listed, first.position)

    assert sorted(read) == sorted({uri for _, uri in listed.items} - {uri for _, uri in first.items})


def test_more_items_at_one_instant_than_a_position_keeps_are_kept_in_part() -> None:
    listed = NewestFirstList("keyset", page_size=100, chance=random.Random(2), ties=1)
    listed.items = [(9, f"at://did:plc:x/app.bsky.feed.post/{n:03d}") for n in range(80)]
    first = read_newest_first(None, listed.fetch, key)
    assert len(json.loads(first.position)["seen"]["ids"]) == MAX_AT_ONE_INSTANT


def test_a_position_this_adapter_did_not_write_is_refused() -> None:
    listed = NewestFirstList("keyset", page_size=3, chance=random.Random(3), ties=1)
    with pytest.raises(Rejected, match="not a position"):
        read_newest_first('{"since": 12}', listed.fetch, key)
