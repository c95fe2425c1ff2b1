"""The round over an account's recent posts that Facebook, Instagram and Threads read their inbox by: what
its position keeps, and what it drops to stay short. The networks' own tests read it through their fakes;
here a source in memory, the reader's port and nothing more, gives it posts with long ids."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shared.networks.inbox import MAX_POSITION_LENGTH, Author, InboxEntry
from shared.networks.meta.comment_inbox import (
    SECOND_OVER_AFTER,
    Comment,
    CommentPage,
    RecentPost,
    read_comments,
)
from shared.networks.ports import InboxKind, Rejected, ReplyTarget

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Posts:
    """Posts and their comments as a network lists them: newest first, by a cursor naming the last read."""

    def __init__(self) -> None:
        self.posts: dict[str, datetime] = {}
        self.made: dict[str, list[tuple[str, datetime]]] = {}

    def add_post(self, post_id: str, created: datetime) -> None:
        self.posts[post_id] = created
        self.made[post_id] = []

    def comment(self, post_id: str, comment_id: str, created: datetime) -> None:
        self.made[post_id].append((comment_id, created))

    def recent_posts(self, since: datetime, limit: int) -> Sequence[RecentPost]:
        listed = sorted(self.posts.items(), key=lambda post: post[1], reverse=True)
        return [RecentPost(post_id, created) for post_id, created in listed if created >= since][:limit]

    def comments_of(self, post_id: str) -> list[tuple[str, datetime]]:
        return sorted(self.made[post_id], key=lambda comment: (comment[1], comment[0]), reverse=True)

    def comments(self, post_id: str, *, after: str | None, since: datetime | None, limit: int) -> CommentPage:
        listed = self.comments_of(post_id)
        start = next((n + 1 for n, (id_, _) in enumerate(listed) if id_ == after), 0) if after else 0
        page = listed[start : start + limit]
        more = start + limit < len(listed)
        return CommentPage(
            [Comment(id_, created, entry(post_id, id_, created)) for id_, created in page],
            page[-1][0] if more else None,
        )


def entry(post_id: str, comment_id: str, created: datetime) -> InboxEntry:
    return InboxEntry(
        external_id=comment_id,
        kind=InboxKind.REPLY,
        author=Author("someone"),
        text="hi",
        plain_text="hi",
        url=None,
        created_at=created,
        reply_target=ReplyTarget(comment_id),
        in_reply_to=post_id,
    )


def drain(source: Posts, position: str | None, now: datetime) -> tuple[list[str], str]:
    read: list[str] = []
    while True:
        page = read_comments(source, position, now=lambda: now)
        assert page.position is not None
        assert len(page.position) <= MAX_POSITION_LENGTH
        read += [item.external_id for item in page.entries]
        position = page.position
        if not page.more:
            return read, position


def test_the_position_drops_the_oldest_posts_to_stay_short_and_reads_the_others() -> None:
    source = Posts()
    # Ids that share no start: nothing to spare in the position but by dropping posts.
    ids = [f"{n:02d}-{'x' * 60}" for n in range(50)]
    for n, post_id in enumerate(ids):
        source.add_post(post_id, START + timedelta(minutes=n))
        source.comment(post_id, f"{post_id}/first", START + timedelta(minutes=n, seconds=30))
    now = START + timedelta(hours=2)
    _, position = drain(source, None, now)
    kept = json.loads(position)["p"]
    assert 0 < len(kept) < 50, "some posts had to go"

    source.comment(ids[-1], "on the newest", now)
    source.comment(ids[0], "on the oldest", now)
    read, _ = drain(source, position, now)

    assert read == ["on the newest"], "a post dropped from the position is not read again"


def test_a_marks_second_keeps_no_ids_once_it_is_over() -> None:
    source = Posts()
    source.add_post("1", START)
    _, position = drain(source, None, START)
    for n in range(5):
        source.comment("1", f"c{n}", START + timedelta(minutes=1))
    read, position = drain(source, position, START + timedelta(minutes=1))
    assert sorted(read) == [f"c{n}" for n in range(5)]
    [[_, _, _, ids]] = json.loads(position)["p"]
    assert len(ids) == 5, "while the second is recent, its comments read are named"

    later = START + timedelta(minutes=1) + SECOND_OVER_AFTER + timedelta(seconds=1)
    read, position = drain(source, position, later)
    source.comment("1", "next", later)
    read_later, _ = drain(source, position, later)

    assert read == []
    [[_, _, _, ids]] = json.loads(position)["p"]
    assert ids == []
    assert read_later == ["next"]


@pytest.mark.parametrize("position", ["", "[]", '{"h": 1}', '{"h": 1, "x": "", "p": [[1]]}'])
def test_a_position_that_is_not_this_readers_is_refused(position: str) -> None:
    with pytest.raises(Rejected):
        read_comments(Posts(), position)
