"""The engagement inbox of an account on Meta's APIs: the comments on its recent posts, read by position.

Facebook Pages, Instagram and Threads give no feed of what people say to an account: only each post's own
comments (replies on Threads), newest first, by cursor. So a read goes round the account's recent posts —
those of the last RECENT_DAYS days, MAX_POSTS at most — and takes from each post the comments newer than
the newest it read there before (its *mark*: that comment's time, and the ids of the comments read at that
second, since Graph dates to the second).

A post's new comments are *drained* newest first until the mark is reached; the mark moves to the newest of
them only once the drain is done. A drain cut short by the read's budget keeps its cursor and what it will
move the mark to in the position, and goes on from there: cursors stay put while comments are added at the
head of the list, and whatever was added meanwhile is newer than the new mark, so the next round reads it.
So no comment is read twice or skipped, however many arrive during the reading.

A round lists the posts once, then reads them one after another; `more` is True until the round has been
through every post. A channel read for the first time reads each post's latest page only (FIRST_PAGE_SIZE),
not its history. A post published later is read from its first comment: everything on it is new. A post
dropped from the position (it grew too old, or the position too long) is not read again: `horizon` is the
time of the newest post dropped, and a post not in the position that is no newer is left alone.

The position is compact JSON, kept within MAX_POSITION_LENGTH by dropping the oldest posts from it; the ids
of the comments read at a mark's second are kept as short hashes, which is all that telling them again needs,
and only while that second is recent (SECOND_OVER_AFTER): a drain done later has seen every comment of that
second, and its mark moves on to the next second, with no ids.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.networks.inbox import MAX_POSITION_LENGTH, InboxEntry, InboxPage
from shared.networks.ports import PostGone, Rejected

# The comments that still matter to a person are on the account's recent posts: a month of posts, and no
# more than fifty of them, so that a round of reading stays a few dozen calls within the read rates.
RECENT_DAYS = 30
MAX_POSTS = 50
# Graph's most comments a page; the first read takes Graph's default page, the latest comments only.
PAGE_SIZE = 100
FIRST_PAGE_SIZE = 25
# Calls for comments in one read: a read is one call to list the posts (at the start of a round) and at
# most this many pages; Crier reads again at once while `more` is True, within the account's read rate.
PAGES_PER_READ = 5
# A comment read at a mark's second is kept as 6 bytes of its id's hash, 8 characters: a comment taken for
# one already read by a clash of hashes is a chance in 2**48 per pair.
ID_HASH_BYTES = 6
# A second this far behind the reader's clock is over: every comment of it is in its post's list by then
# (Graph lists a comment as it is made; ten minutes leave room for the two clocks to differ), so a mark
# there needs no ids, only the next second. Ids are kept for the posts commented on just now only.
SECOND_OVER_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Comment:
    """A comment as a drain reads it: its id and time, and its inbox entry (None for the account's own)."""

    id: str
    created: datetime
    entry: InboxEntry | None


@dataclass(frozen=True)
class CommentPage:
    """A page of a post's comments, newest first, and the cursor to the next (older) page."""

    comments: Sequence[Comment]
    after: str | None


@dataclass(frozen=True)
class RecentPost:
    id: str
    created: datetime


class CommentSource(Protocol):
    """What a network gives the reader: the account's recent posts, and a post's comments newest first."""

    def recent_posts(self, since: datetime, limit: int) -> Sequence[RecentPost]:
        """The account's posts made since `since`, newest first, at most `limit`."""
        ...

    def comments(self, post_id: str, *, after: str | None, since: datetime | None, limit: int) -> CommentPage:
        """A page of the post's comments, newest first; from the cursor `after` when given. `since` (the
        mark's time) may be used to leave older ones out: the reader does not rely on it. PostGone when
        the post is no longer there."""
        ...


@dataclass
class _Mark:
    """The newest comment read on a post: its time (epoch seconds) and the hashed ids read at that second.
    `at` None: the post was never read (a first read takes its latest page)."""

    at: int | None
    ids: list[str] = field(default_factory=list)


@dataclass
class _Post:
    id: str
    created: int
    mark: _Mark


@dataclass
class _Drain:
    """A drain cut short: the cursor it goes on from, and the mark it will set."""

    after: str
    top: _Mark | None


@dataclass
class _Position:
    posts: list[_Post]
    horizon: int
    # The post the round reads next; None between rounds.
    next: int | None = None
    drain: _Drain | None = None

    def dump(self) -> str:
        """Compact JSON: the posts' ids without the prefix they share, each post's time from the horizon's
        and its mark's from the post's, so that a post takes some forty characters."""
        prefix = _shared_prefix([post.id for post in self.posts])
        value: dict[str, Any] = {
            "h": self.horizon,
            "x": prefix,
            "p": [
                [
                    post.id[len(prefix) :],
                    post.created - self.horizon,
                    None if post.mark.at is None else post.mark.at - post.created,
                    post.mark.ids,
                ]
                for post in self.posts
            ],
        }
        if self.next is not None:
            value["n"] = self.next
        if self.drain is not None:
            top = self.drain.top
            value["d"] = [self.drain.after, None if top is None else top.at, [] if top is None else top.ids]
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def load(cls, text: str) -> _Position:
        try:
            value = json.loads(text)
            horizon, prefix = int(value["h"]), str(value["x"])
            posts = []
            for post_id, created_after, at_after, ids in value["p"]:
                created = horizon + int(created_after)
                at = None if at_after is None else created + int(at_after)
                posts.append(_Post(prefix + str(post_id), created, _loaded_mark(at, ids)))
            drain = None
            if "d" in value:
                after, at, ids = value["d"]
                drain = _Drain(str(after), None if at is None else _loaded_mark(at, ids))
            next_post = value.get("n")
            return cls(posts, horizon, None if next_post is None else int(next_post), drain)
        except (ValueError, TypeError, KeyError) as error:
            raise Rejected(f"an inbox position that is not this network's: {error}") from None


def read_comments(
    source: CommentSource, position: str | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> InboxPage:
    """The comments on the account's recent posts after `position`, as the module says."""
    state = _Position.load(position) if position is not None else None
    if state is None or state.next is None:
        state = _begin_round(source, state, now())
    entries: list[InboxEntry] = []
    pages = 0
    over_before = _epoch(now() - SECOND_OVER_AFTER)
    while state.next is not None and state.next < len(state.posts) and pages < PAGES_PER_READ:
        post = state.posts[state.next]
        pages += 1
        try:
            done = _drain_one_page(source, post, state, entries, over_before)
        except PostGone:
            # Deleted since the round began: nothing more to read on it, and the round goes on.
            del state.posts[state.next]
            state.drain = None
            continue
        if done:
            state.next += 1
            state.drain = None
    if state.next is not None and state.next >= len(state.posts):
        state.next = None  # the round is done; the next read begins another
    position = _fitted(state)
    return InboxPage(entries=tuple(entries), position=position, more=state.next is not None)


def _begin_round(source: CommentSource, state: _Position | None, now: datetime) -> _Position:
    """The posts of this round: the account's recent ones, with the marks the position had for them."""
    listed = source.recent_posts(now - timedelta(days=RECENT_DAYS), MAX_POSTS)
    if state is None:
        # A first read: each post's latest page, and a horizon after every post there is now.
        newest = max((_epoch(post.created) for post in listed), default=0)
        posts = [_Post(post.id, _epoch(post.created), _Mark(None)) for post in listed]
        return _Position(posts, horizon=newest, next=0)
    known = {post.id: post for post in state.posts}
    horizon = state.horizon
    posts = []
    for recent in listed:
        created = _epoch(recent.created)
        if recent.id in known:
            posts.append(known.pop(recent.id))
        elif created > horizon:
            posts.append(_Post(recent.id, created, _Mark(0)))  # made since: every comment on it is new
    for gone in known.values():  # too old, or past MAX_POSTS now
        horizon = max(horizon, gone.created)
    return _Position(posts, horizon=horizon, next=0)


def _drain_one_page(
    source: CommentSource, post: _Post, state: _Position, entries: list[InboxEntry], over_before: int
) -> bool:
    """Read one page of the post's drain into `entries`; whether the drain is done (the mark moved).
    A mark at a second before `over_before` moves on to the next second once the drain is done."""
    mark = post.mark
    first_read = mark.at is None
    drain = state.drain
    page = source.comments(
        post.id,
        after=drain.after if drain is not None else None,
        since=None if first_read or not mark.at else datetime.fromtimestamp(mark.at, UTC),
        limit=FIRST_PAGE_SIZE if first_read else PAGE_SIZE,
    )
    top = drain.top if drain is not None else None
    reached = False
    for comment in page.comments:
        at = _epoch(comment.created)
        hashed = _hashed(comment.id)
        if mark.at is not None and at < mark.at:
            reached = True
            break
        if mark.at is not None and at == mark.at and hashed in mark.ids:
            continue
        if top is None or at > (top.at or 0):
            top = _Mark(at, [hashed])
        elif at == top.at and hashed not in top.ids:
            top.ids.append(hashed)
        if comment.entry is not None:
            entries.append(comment.entry)
    if first_read or reached or page.after is None:
        if top is not None:
            post.mark = _Mark(top.at, sorted({*top.ids, *mark.ids})) if top.at == mark.at else top
        elif first_read:
            post.mark = _Mark(0)  # no comment yet: every one to come is new
        if post.mark.at is not None and post.mark.ids and post.mark.at < over_before:
            post.mark = _Mark(post.mark.at + 1)
        return True
    state.drain = _Drain(page.after, top)
    return False


def _fitted(state: _Position) -> str:
    """The position's JSON, the oldest posts dropped from it (behind the horizon) until it fits."""
    text = state.dump()
    while len(text) > MAX_POSITION_LENGTH and state.posts:
        oldest = min(range(len(state.posts)), key=lambda index: state.posts[index].created)
        if state.next is not None and oldest < state.next:
            state.next -= 1  # a post read already this round: the round goes on from the same post
        elif oldest == state.next:
            state.drain = None  # the post being read: the round goes on with the next
        state.horizon = max(state.horizon, state.posts.pop(oldest).created)
        if state.next is not None and state.next >= len(state.posts):
            state.next = None
        text = state.dump()
    return text


def _shared_prefix(texts: Sequence[str]) -> str:
    """The longest start every one of `texts` has."""
    if not texts:
        return ""
    shortest, longest = min(texts), max(texts)
    length = 0
    while length < len(shortest) and shortest[length] == longest[length]:
        length += 1
    return shortest[:length]


def _loaded_mark(at: object, ids: list[object]) -> _Mark:
    return _Mark(None if at is None else int(str(at)), [str(hashed) for hashed in ids])


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _hashed(comment_id: str) -> str:
    digest = hashlib.blake2s(comment_id.encode(), digest_size=ID_HASH_BYTES).digest()
    return base64.urlsafe_b64encode(digest).decode()
