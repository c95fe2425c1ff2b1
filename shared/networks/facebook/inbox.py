"""What people say to a Page: the comments on its recent posts, and a comment's replies, from the Graph API.

Followed: graph-api/reference/object/comments (`GET /{object-id}/comments`: `filter=stream` for every
comment with the replies among them, each reply naming its `parent`; `order=chronological` or
`reverse_chronological`; `since`, `limit` and cursors), the Comment node (`from`, `message`,
`created_time`, `parent`, `permalink_url`; `POST /{comment-id}` with `is_hidden`), `POST
/{object-id}/likes`, and pages-api/posts (`GET /{page-id}/published_posts`). The reading by position is
shared with Instagram and Threads (shared.networks.meta.comment_inbox).

Graph gives a Page no search of public posts (Page Public Content Access reads named Pages, not words), and
no mentions feed without webhooks, so the inbox is the comments on the Page's posts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.networks.facebook.channel import ChannelSettings
from shared.networks.facebook.finding import WHAT, created_time
from shared.networks.facebook.graph import GraphCalls, ObjectMissing
from shared.networks.inbox import Author, InboxEntry
from shared.networks.meta.comment_inbox import Comment, CommentPage, RecentPost
from shared.networks.ports import InboxKind, PostGone, ReplyTarget
from shared.networks.toolkit.answers import identifier, reading, required_text

COMMENT_FIELDS = "id,message,created_time,from,parent{id},permalink_url"
# A conversation shown to a reader: the post and its first comments, this many pages of them at most.
THREAD_PAGES = 5


def post_of_comment(channel: ChannelSettings, comment_id: str) -> str:
    """The Page's post a comment is on: a comment's id is `{post}_{comment}`, a post's `{page}_{post}`."""
    return f"{channel.page_id}_{comment_id.split('_', 1)[0]}"


class PageComments:
    """The Page's recent posts and their comments, as the shared reader asks for them."""

    def __init__(
        self, calls: GraphCalls, channel: ChannelSettings, token: str, *, permalink_base: str
    ) -> None:
        self._calls = calls
        self._channel = channel
        self._token = token
        self._permalink_base = permalink_base

    def recent_posts(self, since: datetime, limit: int) -> Sequence[RecentPost]:
        page = self._get(
            (self._channel.page_id, "published_posts"),
            {"fields": "id,created_time", "since": int(since.timestamp()), "limit": limit},
        )
        with reading(WHAT, write=False):
            return [RecentPost(identifier(post["id"]), created_time(post)) for post in page["data"]][:limit]

    def comments(self, post_id: str, *, after: str | None, since: datetime | None, limit: int) -> CommentPage:
        params: dict[str, Any] = {
            "fields": COMMENT_FIELDS,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": limit,
        }
        if since is not None:
            # A second earlier: whether Graph's `since` takes the second itself is not said.
            params["since"] = int(since.timestamp()) - 1
        if after is not None:
            params["after"] = after
        try:
            page = self._get((post_id, "comments"), params)
        except ObjectMissing:
            raise PostGone(f"{WHAT}: post {post_id} does not exist (any more)") from None
        with reading(WHAT, write=False):
            comments = [self._comment(post_id, comment) for comment in page["data"]]
            paging = page.get("paging") or {}
            cursor = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        return CommentPage(comments, cursor if isinstance(cursor, str) and cursor else None)

    def thread(self, post_id: str) -> list[InboxEntry]:
        """The post, then its comments and their replies oldest first."""
        post = self._get((post_id,), {"fields": "id,message,created_time,permalink_url,from"})
        with reading(WHAT, write=False):
            entries = [self.entry(post_id, post, kind=InboxKind.POST)]
        params: dict[str, Any] = {"fields": COMMENT_FIELDS, "filter": "stream", "order": "chronological"}
        params["limit"] = 100
        for _ in range(THREAD_PAGES):
            page = self._get((post_id, "comments"), params)
            with reading(WHAT, write=False):
                entries += [self.entry(post_id, comment) for comment in page["data"]]
                paging = page.get("paging") or {}
                after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not after:
                break
            params["after"] = after
        return entries

    def entry(
        self, post_id: str, item: Mapping[str, Any], *, kind: InboxKind = InboxKind.REPLY
    ) -> InboxEntry:
        """A comment (or the post itself, kind POST) as an inbox entry."""
        item_id = identifier(item["id"])
        author = item.get("from") or {}
        name = str(author.get("name") or author.get("id") or "")
        parent = item.get("parent") or {}
        parent_id = identifier(parent["id"]) if parent.get("id") else None
        text = str(item.get("message") or "")
        url = item.get("permalink_url")
        is_post = kind == InboxKind.POST
        return InboxEntry(
            external_id=item_id,
            kind=kind,
            author=Author(handle=name, display_name=name or None),
            text=text,
            plain_text=text,
            url=url if isinstance(url, str) and url else f"{self._permalink_base}/{item_id}",
            created_at=created_time(item),
            # A reply to a reply is made under the comment it replies to: Facebook nests one level.
            reply_target=ReplyTarget(
                item_id, {"post": post_id} if is_post else {"post": post_id, "comment": parent_id or item_id}
            ),
            in_reply_to=None if is_post else (parent_id or post_id),
            thread_root=post_id,
            raw=dict(item),
        )

    def _comment(self, post_id: str, item: Mapping[str, Any]) -> Comment:
        author = item.get("from") or {}
        own = str(author.get("id")) == self._channel.page_id
        return Comment(
            required_text(item["id"]), created_time(item), None if own else self.entry(post_id, item)
        )

    def _get(self, path: tuple[str, ...], params: Mapping[str, Any]) -> dict[str, Any]:
        return self._calls.graph("GET", path, what=WHAT, token=self._token, params=params)
