"""What people say to a Threads account: the replies under its recent posts, at any depth.

Followed: retrieve-and-manage-replies/replies-and-conversations (`GET /{media-id}/conversation`: every reply
under a post, nested ones too, flattened, newest first by default; `reverse=false` oldest first; `before`
and `after` cursors; the fields `id`, `text`, `username`, `permalink`, `timestamp`, `root_post`,
`replied_to`, `is_reply_owned_by_me`, `hide_status`, `profile_picture_url`), reply-management
(`POST /{reply-id}/manage_reply` with `hide`: "replies nested deeper than the top-level reply cannot be
targeted in isolation", hiding a top-level reply hides those under it), and threads-media
(`GET /{threads-user-id}/threads` with `since` and `limit`). The reading by position is shared with Facebook
and Instagram (shared.networks.meta.comment_inbox); `since` is not taken by the conversation edge, so a drain
reads newest first until it meets what it read before.

The Threads API has a keyword search (`GET /keyword_search`), but only under the threads_keyword_search
permission Meta grants after app review, and a mentions edge likewise behind threads_manage_mentions: the
inbox reads replies only, the one kind every connected account's token can read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.networks.inbox import Author, InboxEntry
from shared.networks.meta.comment_inbox import Comment, CommentPage, RecentPost
from shared.networks.meta.graph_errors import object_missing
from shared.networks.ports import InboxKind, PostGone, ReplyTarget
from shared.networks.threads.channel import Channel
from shared.networks.threads.containers import meta_time
from shared.networks.threads.graph import Graph
from shared.networks.toolkit.answers import answer_object, identifier, reading, required_text

REPLY_FIELDS = (
    "id,text,username,permalink,timestamp,root_post,replied_to,is_reply_owned_by_me,hide_status,"
    "profile_picture_url"
)
POST_FIELDS = "id,text,username,permalink,timestamp,root_post,replied_to,is_reply"
# A conversation shown to a reader: the post and its first replies, this many pages of them at most.
THREAD_PAGES = 5


class AccountReplies:
    """The account's recent posts and the replies under them, as the shared reader asks for them."""

    def __init__(self, graph: Graph, channel: Channel) -> None:
        self._graph = graph
        self._channel = channel

    def recent_posts(self, since: datetime, limit: int) -> Sequence[RecentPost]:
        answer = self._read(
            f"{self._channel.user_id}/threads",
            {"fields": "id,timestamp", "since": int(since.timestamp()), "limit": limit},
        )
        with reading(self._graph.what, write=False):
            return [
                RecentPost(identifier(post["id"]), meta_time(required_text(post["timestamp"])))
                for post in answer["data"]
            ][:limit]

    def comments(self, post_id: str, *, after: str | None, since: datetime | None, limit: int) -> CommentPage:
        params: dict[str, Any] = {"fields": REPLY_FIELDS, "reverse": "true", "limit": limit}
        if after is not None:
            params["after"] = after
        answer = self._read(f"{post_id}/conversation", params, gone=post_id)
        with reading(self._graph.what, write=False):
            replies = [self._reply(post_id, reply) for reply in answer["data"]]
            paging = answer.get("paging") or {}
            cursor = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        return CommentPage(replies, cursor if isinstance(cursor, str) and cursor else None)

    def thread(self, external_id: str) -> list[InboxEntry]:
        """The post `external_id` is under (or is), then every reply under it, oldest first."""
        media = self._media(external_id)
        with reading(self._graph.what, write=False):
            root = (media.get("root_post") or {}).get("id") if media.get("is_reply") else None
        post = self._media(identifier(root)) if root else media
        with reading(self._graph.what, write=False):
            post_id = identifier(post["id"])
            entries = [self.entry(post_id, post, kind=InboxKind.POST)]
        params: dict[str, Any] = {"fields": REPLY_FIELDS, "reverse": "false", "limit": 100}
        for _ in range(THREAD_PAGES):
            answer = self._read(f"{post_id}/conversation", params)
            with reading(self._graph.what, write=False):
                entries += [self.entry(post_id, reply) for reply in answer["data"]]
                paging = answer.get("paging") or {}
                after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not after:
                break
            params["after"] = after
        return entries

    def entry(
        self, post_id: str, item: Mapping[str, Any], *, kind: InboxKind = InboxKind.REPLY
    ) -> InboxEntry:
        """A reply (or the post itself, kind POST) as an inbox entry."""
        item_id = identifier(item["id"])
        username = str(item.get("username") or "")
        replied_to = (item.get("replied_to") or {}).get("id")
        parent = identifier(replied_to) if replied_to else None
        text = str(item.get("text") or "")
        url = item.get("permalink")
        avatar = item.get("profile_picture_url")
        return InboxEntry(
            external_id=item_id,
            kind=kind,
            author=Author(
                handle=username,
                avatar_url=avatar if isinstance(avatar, str) and avatar else None,
                url=f"https://www.threads.com/@{username}" if username else None,
            ),
            text=text,
            plain_text=text,
            url=url if isinstance(url, str) and url else None,
            created_at=meta_time(required_text(item["timestamp"])),
            # manage_reply takes a top-level reply only (it hides those under it with it).
            reply_target=ReplyTarget(item_id, {"root": post_id, "top_level": parent == post_id}),
            in_reply_to=None if kind == InboxKind.POST else parent,
            thread_root=post_id,
            raw=dict(item),
        )

    def _reply(self, post_id: str, item: Mapping[str, Any]) -> Comment:
        own = item.get("is_reply_owned_by_me") is True
        created = meta_time(required_text(item["timestamp"]))
        return Comment(identifier(item["id"]), created, None if own else self.entry(post_id, item))

    def _media(self, media_id: str) -> dict[str, Any]:
        return self._read(media_id, {"fields": POST_FIELDS}, gone=media_id)

    def _read(self, path: str, params: Mapping[str, Any], *, gone: str | None = None) -> dict[str, Any]:
        """A GET's JSON object; PostGone when Meta says the post `gone` is not there (any more)."""
        token = self._channel.access_token
        response = self._graph.send("GET", path, token, params=params)
        if gone is not None and object_missing(response):
            raise PostGone(f"Threads: the post {gone} does not exist (any more)")
        self._graph.calls.check(response, what=self._graph.what, secrets=[token])
        return answer_object(response, what=self._graph.what, write=False)
