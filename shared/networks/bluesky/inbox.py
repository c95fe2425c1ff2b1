"""What people say to a Bluesky account as the engagement inbox's entries: notifications, posts, threads.

From app.bsky.notification.listNotifications#notification (`uri`, `cid`, `author` a profileView, `reason`,
`record` the post, `indexedAt`), app.bsky.feed.defs#postView (`uri`, `cid`, `author`, `record`, `indexedAt`)
and #threadViewPost (`post`, `parent`, `replies`; a #notFoundPost or #blockedPost in their place), and the
app.bsky.feed.post record (`text`, `createdAt`, `reply` with strong refs to `root` and `parent`, `embed` an
app.bsky.embed.record or recordWithMedia when it quotes a post).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.networks.bluesky.newest_first import parse_time
from shared.networks.bluesky.record_keys import post_url, split_uri
from shared.networks.bluesky.records import record_time
from shared.networks.inbox import Author, InboxEntry
from shared.networks.ports import InboxKind, Rejected, ReplyTarget
from shared.networks.toolkit.answers import required_text
from shared.text.bluesky import bluesky_length

# The notification reasons the inbox reads, and the kind each is.
KINDS_BY_REASON = {"reply": InboxKind.REPLY, "mention": InboxKind.MENTION, "quote": InboxKind.QUOTE}
_QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
# searchPosts documents no length for `q`; its `tag` filter takes tags of at most 640 characters, which
# bounds what a saved search may be here too. A hashtag in a post is at most 64 graphemes
# (app.bsky.richtext.facet#tag), so a longer one finds nothing.
MAX_QUERY_LENGTH = 640
MAX_TAG_GRAPHEMES = 64


def search_query_problems(query: str) -> list[str]:
    """What keeps `query` from being a useful app.bsky.feed.searchPosts `q`."""
    words = query.split()
    if not words:
        return ["the search is empty: give words or a #hashtag"]
    problems = []
    if len(query.strip()) > MAX_QUERY_LENGTH:
        problems.append(f"the search is {len(query.strip())} characters long; at most {MAX_QUERY_LENGTH}")
    for word in words:
        if word.startswith("#") and bluesky_length(word[1:])[0] > MAX_TAG_GRAPHEMES:
            problems.append(f"{word[:20]}… is longer than a Bluesky hashtag can be ({MAX_TAG_GRAPHEMES})")
    return problems


def notification_time(notification: Mapping[str, Any]) -> tuple[datetime, str]:
    """The instant the AppView lists a notification by, and its URI (see newest_first)."""
    return parse_time(required_text(notification["indexedAt"])), required_text(notification["uri"])


def post_time(view: Mapping[str, Any]) -> tuple[datetime, str]:
    """The instant a search lists a post by (sort=latest), and its URI: its `sortAt`, the earlier of the
    record's createdAt and the AppView's indexedAt (docs.bsky.app, "Timestamps"; searchPosts' since and
    until "use 'sortAt'"), so that a post dated ahead does not stay on top."""
    indexed_at = parse_time(required_text(view["indexedAt"]))
    record = view.get("record")
    created_at = record_time(record) if isinstance(record, Mapping) else None
    at = indexed_at if created_at is None else min(created_at, indexed_at)
    return at, required_text(view["uri"])


def notification_entry(notification: Mapping[str, Any]) -> InboxEntry | None:
    """The entry a notification is, or None for one the inbox does not read (a like, a follow)."""
    kind = KINDS_BY_REASON.get(str(notification.get("reason")))
    if kind is None or not is_post_uri(notification.get("uri")):
        return None
    return post_entry(notification, kind, raw={"reason": notification["reason"]})


def post_entry(
    view: Mapping[str, Any], kind: InboxKind, *, raw: Mapping[str, Any] | None = None
) -> InboxEntry:
    """The entry of a post, from a notification or a postView (the same fields, the same names).

    Read inside `reading`: a field missing or of the wrong type raises what a malformed answer means.
    """
    uri = required_text(view["uri"])
    cid = required_text(view["cid"])
    record = view["record"]
    if not isinstance(record, Mapping):
        raise TypeError("the post's record is not an object")
    author = view["author"]
    did = required_text(author["did"])
    indexed_at = required_text(view["indexedAt"])
    text = record.get("text")
    text = text if isinstance(text, str) else ""
    root, parent = _reply_refs(record)
    root_uri, root_cid = root if root is not None else (uri, cid)
    return InboxEntry(
        external_id=uri,
        kind=kind,
        author=Author(
            handle=str(author.get("handle") or did),
            display_name=_text_or_none(author.get("displayName")),
            avatar_url=_text_or_none(author.get("avatar")),
            url=f"https://bsky.app/profile/{did}",
        ),
        text=text,
        plain_text=text,
        url=post_url(uri),
        # createdAt is the author's claim; where it is missing or unreadable, when the AppView saw the post.
        created_at=record_time(record) or parse_time(indexed_at),
        reply_target=ReplyTarget(uri, ref={"cid": cid, "root_uri": root_uri, "root_cid": root_cid}),
        in_reply_to=None if parent is None else parent[0],
        quotes=_quoted(record),
        thread_root=root_uri,
        raw={**(raw or {}), "indexedAt": indexed_at, "cid": cid, "did": did},
    )


def thread_entries(thread: Mapping[str, Any]) -> list[InboxEntry]:
    """A #threadViewPost flattened: its parents from the root down, the post, then its replies by time.

    Posts the AppView cannot show (#notFoundPost, #blockedPost) are left out, and the parents above them.
    """
    parents: list[InboxEntry] = []
    parent = thread.get("parent")
    while isinstance(parent, Mapping) and isinstance(parent.get("post"), Mapping):
        parents.append(_thread_entry(parent["post"]))
        parent = parent.get("parent")
    replies = [_thread_entry(reply["post"]) for reply in _descendants(thread)]
    # By time; replies made in one millisecond stay in the AppView's order, each under its parent.
    replies.sort(key=lambda entry: entry.created_at)
    return [*reversed(parents), _thread_entry(thread["post"]), *replies]


def _thread_entry(view: Mapping[str, Any]) -> InboxEntry:
    record = view.get("record")
    is_reply = isinstance(record, Mapping) and isinstance(record.get("reply"), Mapping)
    return post_entry(view, InboxKind.REPLY if is_reply else InboxKind.POST)


def _descendants(thread: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every reply under the post, each before its own replies, as the AppView ordered them."""
    found = []
    for reply in _shown_replies(thread):
        found += [reply, *_descendants(reply)]
    return found


def _shown_replies(thread: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    replies = thread.get("replies")
    if not isinstance(replies, list):
        return []
    return [r for r in replies if isinstance(r, Mapping) and isinstance(r.get("post"), Mapping)]


def _reply_refs(
    record: Mapping[str, Any],
) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    reply = record.get("reply")
    if not isinstance(reply, Mapping):
        return None, None
    return _strong_ref(reply.get("root")), _strong_ref(reply.get("parent"))


def _strong_ref(value: object) -> tuple[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    return (uri, cid) if isinstance(uri, str) and isinstance(cid, str) else None


def _quoted(record: Mapping[str, Any]) -> str | None:
    embed = record.get("embed")
    if not isinstance(embed, Mapping) or embed.get("$type") not in _QUOTE_EMBEDS:
        return None
    quoted = embed.get("record")
    if embed.get("$type") == "app.bsky.embed.recordWithMedia" and isinstance(quoted, Mapping):
        quoted = quoted.get("record")  # recordWithMedia holds an app.bsky.embed.record
    ref = _strong_ref(quoted)
    return None if ref is None else ref[0]


def is_post_uri(value: object) -> bool:
    """Whether `value` is the at:// URI of a post: only a post can be answered or liked."""
    if not isinstance(value, str):
        return False
    try:
        split_uri(value)
    except Rejected:
        return False
    return True


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
