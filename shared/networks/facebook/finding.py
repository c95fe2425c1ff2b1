"""What an uncertain attempt made on a Facebook Page, found among the Page's own posts and comments.

The Graph API takes no idempotency key, so nothing is posted here: the Page's published posts since the
first attempt (`GET /{page-id}/published_posts?since=`, newest first, a bounded number of pages back) are
read, and the post is recognised by its message (as Facebook keeps it: trimmed, with LF line ends) and its
`created_time`, no earlier than the attempt less a minute of clock skew. A first comment is recognised
among the post's comments (`GET /{post-id}/comments`) by its message and its author, the Page itself; a
reply, likewise, among the replies of the comment it answers (`GET /{comment-id}/comments`).
Parts already recorded are taken as found.

Absence is only certain once the uncertain attempt is `settle` old: a write Graph was still processing
when its answer was lost may appear a little later. Several posts or comments that match leave it to a
person (CannotTell), as do more posts since the attempt than the pages read.

What was sent comes from the draft and the time of the attempt when the caller passes them, else from this
process's record of its own publish calls (kept a day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.networks.facebook.channel import ChannelSettings, first_comment, reply_object
from shared.networks.facebook.graph import GraphCalls
from shared.networks.ports import CannotTell, Draft, PublishedPart, PublishedPost, ReplyTarget
from shared.networks.toolkit.answers import as_utc, identifier, reading, required_text
from shared.networks.toolkit.own_posts import AmongOwnPosts, SentByThisProcess, part_address

PAGE_SIZE = 100
MAX_PAGES = 5
CLOCK_SKEW = timedelta(seconds=60)
WHAT = "Facebook"


@dataclass(frozen=True)
class Sent:
    """What one publish sent, so that a check knows what to look for."""

    text: str
    comment: str | None
    sent_at: datetime
    reply_to: ReplyTarget | None = None

    @classmethod
    def of(cls, draft: Draft, sent_at: datetime) -> Sent:
        return cls(text=draft.text, comment=first_comment(draft), sent_at=sent_at, reply_to=draft.reply_to)


def normalised(text: str) -> str:
    # Facebook trims a message and keeps LF line ends, whatever a form sent.
    return text.replace("\r\n", "\n").strip()


def created_time(item: Mapping[str, Any]) -> datetime:
    """Graph's time, `2026-12-06T11:10:39+0000`, as an aware datetime."""
    return as_utc(datetime.fromisoformat(required_text(item["created_time"])))


def post_part(post_id: str, permalink_base: str, created: datetime | None = None) -> PublishedPart:
    return PublishedPart(external_id=post_id, url=f"{permalink_base}/{post_id}", created_at=created)


def comment_part(
    post_id: str, comment_id: str, permalink_base: str, created: datetime | None = None
) -> PublishedPart:
    # A comment's id is `{post}_{comment}`; Facebook shows it under its post with `comment_id`.
    return PublishedPart(
        external_id=comment_id,
        url=f"{permalink_base}/{post_id}?comment_id={comment_id.rsplit('_', 1)[-1]}",
        created_at=created,
    )


class PostFinder:
    """Remembers what this process sent, and finds what an attempt made among the Page's posts."""

    def __init__(
        self,
        calls: GraphCalls,
        *,
        permalink_base: str,
        clock: Callable[[], datetime],
        settle: timedelta,
    ) -> None:
        self._calls = calls
        self._permalink_base = permalink_base
        self._clock = clock
        self._own = AmongOwnPosts(WHAT, clock, settle, items="items of the Page")
        self._sent: SentByThisProcess[Sent] = SentByThisProcess(WHAT, clock)

    def remember(self, idempotency_key: str, draft: Draft) -> Sent:
        """Keep what is about to be sent under this key (a day); the first attempt's time is kept."""
        return self._sent.remember(idempotency_key, lambda sent_at: Sent.of(draft, sent_at))

    def expected(self, idempotency_key: str, draft: Draft | None, attempted_at: datetime | None) -> Sent:
        """What the attempt sent: the caller's draft and time, else this process's record of it."""
        return self._sent.expected(idempotency_key, draft, attempted_at, Sent.of)

    def find(
        self,
        channel: ChannelSettings,
        token: str,
        sent: Sent,
        last_attempted_at: datetime | None,
        published: Sequence[PublishedPart],
    ) -> PublishedPost | None:
        """The post and its first comment as far as they are there (see the module); None when the post
        is certainly not there."""
        settled = self._own.settled(last_attempted_at or sent.sent_at)
        if sent.reply_to is not None:
            return self._reply(channel, token, sent, sent.reply_to, settled, published)
        count = 1 + (sent.comment is not None)
        parts = list(published[:count])
        if not parts:
            posts = self.posts_matching(channel, token, sent.text, sent.sent_at)
            post = self._own.the_one(posts, "the post", settled=settled, address=part_address)
            if post is None:
                return None
            parts.append(post)
        if sent.comment is not None and len(parts) < 2:
            comments = self.comments_matching(channel, token, parts[0].external_id, sent.comment)
            comment = self._own.the_one(
                comments, "the first comment", settled=settled, published=parts, address=part_address
            )
            if comment is not None:
                parts.append(comment)
        return PublishedPost.of(parts)

    def _reply(
        self,
        channel: ChannelSettings,
        token: str,
        sent: Sent,
        target: ReplyTarget,
        settled: bool,
        published: Sequence[PublishedPart],
    ) -> PublishedPost | None:
        """The reply among the Page's comments under what it answers; None when certainly not there."""
        if published:
            return PublishedPost.of(published[:1])
        object_id = reply_object(target)
        if object_id is None:
            raise CannotTell(f"{WHAT}: the reply's target is not one Crier can read back")
        post_id = str(target.ref["post"])
        replies = self.comments_matching(channel, token, object_id, sent.text, post_id=post_id)
        reply = self._own.the_one(replies, "the reply", settled=settled, address=part_address)
        return None if reply is None else PublishedPost.of([reply])

    def posts_matching(
        self, channel: ChannelSettings, token: str, text: str, sent_at: datetime
    ) -> list[PublishedPart]:
        """The Page's posts since `sent_at` (less the clock skew) whose message is `text`."""
        since = sent_at - CLOCK_SKEW
        wanted = normalised(text)
        found: list[PublishedPart] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {
                "fields": "id,message,created_time",
                "since": int(since.timestamp()),
                "limit": PAGE_SIZE,
            } | ({"after": after} if after else {})
            page = self._calls.graph(
                "GET", (channel.page_id, "published_posts"), what=WHAT, token=token, params=params
            )
            with reading(WHAT, write=False):
                posts = page["data"]
                for post in posts:
                    created = created_time(post)
                    if created >= since and normalised(str(post.get("message") or "")) == wanted:
                        found.append(post_part(identifier(post["id"]), self._permalink_base, created))
                oldest_seen = created_time(posts[-1]) if posts else None
                after = _next_cursor(page)
            if after is None or not posts or (oldest_seen is not None and oldest_seen < since):
                return found
        raise CannotTell(
            f"{WHAT}: more than {MAX_PAGES * PAGE_SIZE} posts of the Page since the attempt; too many to be "
            "sure the post is not among older ones"
        )

    def comments_matching(
        self, channel: ChannelSettings, token: str, object_id: str, text: str, *, post_id: str | None = None
    ) -> list[PublishedPart]:
        """The Page's own comments on `object_id` (a post, or a comment of the post `post_id`) whose message
        is `text` (the newest hundred)."""
        post_id = post_id or object_id
        page = self._calls.graph(
            "GET",
            (object_id, "comments"),
            what=WHAT,
            token=token,
            params={
                "fields": "id,message,created_time,from",
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": PAGE_SIZE,
            },
        )
        wanted = normalised(text)
        found = []
        with reading(WHAT, write=False):
            for comment in page["data"]:
                author = comment.get("from") or {}
                if (
                    str(author.get("id")) == channel.page_id
                    and normalised(str(comment.get("message") or "")) == wanted
                ):
                    found.append(
                        comment_part(
                            post_id, identifier(comment["id"]), self._permalink_base, created_time(comment)
                        )
                    )
        return found


def _next_cursor(page: Mapping[str, Any]) -> str | None:
    """The cursor to the next page, when Graph says there is one (`paging.next` with `cursors.after`)."""
    paging = page.get("paging") or {}
    if not paging.get("next"):
        return None
    after = (paging.get("cursors") or {}).get("after")
    return after if isinstance(after, str) and after else None
