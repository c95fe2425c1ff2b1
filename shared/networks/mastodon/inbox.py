"""The engagement inbox on Mastodon: what people say to the account, read by position; the posts a saved
search finds; a conversation; a favourite.

Followed, from the Mastodon documentation (mastodon/documentation, content/en/): methods/notifications
(GET /api/v1/notifications with `types[]`, 40 a page by default and 80 at most, `min_id` "sets a cursor at
this ID and paginates forward": the page just after it, newest first), entities/Notification (`mention`;
`quote` since 4.5, API version 7: "Someone has quoted one of your statuses", its `status` the quote; a
server that does not know a type asked for simply sends none), entities/Status (`in_reply_to_account_id`,
`visibility`, `quote`), entities/Quote and entities/ShallowQuote (`quoted_status` or `quoted_status_id`),
client/quotes (a quote's `quote-inline` paragraph is left out of its text), methods/statuses (context:
`ancestors` oldest first and `descendants`; favourite: 200 "Status favourited or was already favourited"),
methods/timelines (the hashtag timeline: 40 at most, `min_id` as above), methods/search (v2, `type=statuses`:
a user token, and statuses only where the server has full-text search) and api/guidelines (ids are opaque
strings; the server orders them, and vanilla Mastodon's sort by length, then lexically). From Mastodon's
source (mastodon/mastodon): app/services/statuses_search_service.rb (search results come newest first,
whatever the bounds; `min_id` and `max_id` only bound them, as times to the second, then `offset`) and
app/lib/search_query_transformer.rb (`after:` is "greater than" that time, `before:` "less than").

Positions are compact JSON of notification or status ids (and, within a long search, how far down the
answer to go on): a notification's id is not its status's id, and entries are status ids, what publishing
records as a post's external id.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from shared.networks.inbox import Author, InboxEntry, InboxPage
from shared.networks.mastodon.channel import ChannelSettings
from shared.networks.mastodon.html_text import plain_text
from shared.networks.mastodon.statuses import created_at, get_json, status_url
from shared.networks.ports import InboxKind, PostGone, Rejected, ReplyTarget, Transient
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.calls import Calls

NOTIFICATION_TYPES = ("mention", "quote")
NOTIFICATIONS_PER_PAGE = 80
STATUSES_PER_PAGE = 40
# Crier's own bound: a saved search travels in every request's query string.
MAX_QUERY_LENGTH = 500
# A hashtag's name as Mastodon takes it (Tag::HASHTAG_NAME_RE): word characters and a few separators
# (underscore, middle dots, zero-width non-joiner) between them, with at least one letter.
_TAG_SEPARATORS = "_\u00b7\u30fb\u200c"
_TAG = re.compile(rf"[\w{_TAG_SEPARATORS}]+")
# Below every id vanilla Mastodon makes (they are integers): where a channel whose first read found nothing
# starts, so that everything after it is read.
BEFORE_EVERYTHING = "0"


class MastodonInbox:
    """Reads for one adapter: notifications, threads, searches, and the favourite."""

    def __init__(self, calls: Calls) -> None:
        self._calls = calls
        self._lock = threading.Lock()
        # The account id behind each token (by its digest, so no token is kept as a key), read once.
        self._account_ids: dict[tuple[str, str], str] = {}

    # -- Notifications -------------------------------------------------------------------------------

    def read_notifications(self, channel: ChannelSettings, token: str, position: str | None) -> InboxPage:
        """The mentions and quotes after `position`, oldest first; with None, the latest page only.

        The next position is the newest notification's id on the page (the answer is newest first): the
        next read asks for the page just after it (`min_id`), so notifications made while the pages are
        read come in later reads, none skipped or read twice. A full page means more may be waiting.
        """
        after = _decode(position, channel).get("after")
        params: dict[str, Any] = {"types[]": list(NOTIFICATION_TYPES), "limit": NOTIFICATIONS_PER_PAGE}
        if after is not None:
            params["min_id"] = after
        page = _list(get_json(self._calls, channel, token, "/api/v1/notifications", params=params), channel)
        me = self.account_id(channel, token)
        entries: dict[str, InboxEntry] = {}
        with reading(channel.host, write=False):
            for notification in reversed(page):
                entry = _notification_entry(notification, me)
                # A status quoting and mentioning the account is one entry: its first notification says.
                if entry is not None and entry.external_id not in entries:
                    entries[entry.external_id] = entry
            newest = identifier(page[0]["id"]) if page else (after or BEFORE_EVERYTHING)
        return InboxPage(
            entries=tuple(entries.values()),
            position=_encode(after=newest),
            more=after is not None and len(page) >= NOTIFICATIONS_PER_PAGE,
        )

    def account_id(self, channel: ChannelSettings, token: str) -> str:
        """The id of the account the token is for, asked of the server once per process."""
        key = (channel.base_url, hashlib.sha256(token.encode()).hexdigest())
        with self._lock:
            known = self._account_ids.get(key)
        if known is not None:
            return known
        me = get_json(self._calls, channel, token, "/api/v1/accounts/verify_credentials")
        with reading(channel.host, write=False):
            account_id = identifier(me["id"])
        with self._lock:
            self._account_ids[key] = account_id
        return account_id

    # -- A conversation ------------------------------------------------------------------------------

    def read_thread(self, channel: ChannelSettings, token: str, status_id: str) -> list[InboxEntry]:
        """The status's conversation, oldest first: its ancestors, itself, and every reply below it."""
        status = self._status(channel, token, status_id)
        context = self._status(channel, token, status_id, "/context")
        me = self.account_id(channel, token)
        with reading(channel.host, write=False):
            ancestors = _list(context.get("ancestors"), channel)
            # Descendants come in the order of the tree; a reader wants them in the order they were said
            # (ids break a tie of the same millisecond).
            descendants = sorted(
                _list(context.get("descendants"), channel),
                key=lambda each: (created_at(each), _id_order(identifier(each["id"]))),
            )
            statuses = [*ancestors, status, *descendants]
            root = identifier(statuses[0]["id"])
            return [_entry(each, _kind_of(each, me), thread_root=root) for each in statuses]

    # -- Saved searches ------------------------------------------------------------------------------

    def search(self, channel: ChannelSettings, token: str, query: str, position: str | None) -> InboxPage:
        """Public statuses with the `#hashtag`, or matching the words, after `position`, as POST entries."""
        problems = query_problems(query)
        if problems:
            raise Rejected(f"{channel.host}: the search {query!r} cannot be made: " + "; ".join(problems))
        query = query.strip()
        if _is_hashtag(query):
            return self._tag_timeline(channel, token, query[1:], position)
        return self._statuses_search(channel, token, query, position)

    def _tag_timeline(
        self, channel: ChannelSettings, token: str, tag: str, position: str | None
    ) -> InboxPage:
        """The hashtag's timeline pages forward from a status id with `min_id`, as notifications do."""
        after = _decode(position, channel).get("after")
        params: dict[str, Any] = {"limit": STATUSES_PER_PAGE}
        if after is not None:
            params["min_id"] = after
        path = f"/api/v1/timelines/tag/{_path_segment(tag)}"
        page = _list(get_json(self._calls, channel, token, path, params=params), channel)
        with reading(channel.host, write=False):
            entries = [_entry(status, InboxKind.POST) for status in reversed(page)]
            newest = identifier(page[0]["id"]) if page else (after or BEFORE_EVERYTHING)
        return InboxPage(
            entries=tuple(entries),
            position=_encode(after=newest),
            more=after is not None and len(page) >= STATUSES_PER_PAGE,
        )

    def _statuses_search(
        self, channel: ChannelSettings, token: str, words: str, position: str | None
    ) -> InboxPage:
        """Full-text search, read downwards: Mastodon answers the newest matches first whatever the bounds.

        The matches after the position (`min_id`) are read from the newest down, a page further each time
        (`offset`); while that takes more than one read, the position keeps where the range ends (`after`),
        the oldest match read (`before`), how far down the answer the next page starts (`skip`) and the
        newest match read (`top`), where the next range starts. Matches made meanwhile push the answer
        down, so a page may repeat some read already: those, at or above `before`, are dropped, and none
        is skipped. `max_id` is not used for the lower pages because Mastodon applies it as a time cut to
        the second (statuses_search_service.rb), which would leave out the matches of that second.
        """
        state = _decode(position, channel)
        after, before, top = state.get("after"), state.get("before"), state.get("top")
        skip = _count(state.get("skip"), channel, position)
        params: dict[str, Any] = {
            "q": words,
            "type": "statuses",
            "resolve": "false",
            "limit": STATUSES_PER_PAGE,
        }
        params |= {"min_id": after} if after is not None else {}
        params |= {"offset": skip} if skip else {}
        found = get_json(self._calls, channel, token, "/api/v2/search", params=params)
        if not isinstance(found, dict):
            raise Transient(f"{channel.host}: the search's answer was not an object")
        answered = _list(found.get("statuses"), channel)
        with reading(channel.host, write=False):
            # `min_id` is applied as a time to the second, too: what is not after it was read before.
            page = [s for s in answered if _within(identifier(s["id"]), after, before)]
            entries = [_entry(status, InboxKind.POST) for status in reversed(page)]
            ids = [identifier(status["id"]) for status in page]
        top = top or (max(ids, key=_id_order) if ids else None)
        if after is None:  # the first read: the latest page only
            return InboxPage(tuple(entries), _encode(after=top or BEFORE_EVERYTHING))
        if len(answered) < STATUSES_PER_PAGE:  # the range is read to its end
            return InboxPage(tuple(entries), _encode(after=top or after))
        lowest = min(ids, key=_id_order) if ids else before
        return InboxPage(
            tuple(entries),
            _encode(after=after, before=lowest, top=top, skip=str(skip + len(answered))),
            more=True,
        )

    # -- Favourites ----------------------------------------------------------------------------------

    def favourite(self, channel: ChannelSettings, token: str, status_id: str) -> None:
        """Favourite the status; Mastodon answers the same for one favourited already, and adds none."""
        response = self._calls.send(
            "POST",
            f"{channel.base_url}/api/v1/statuses/{_path_segment(status_id)}/favourite",
            token=token,
            write=True,
        )
        _raise_if_gone(response, channel, status_id)
        self._calls.check(response, what=channel.host, write=True)

    def _status(
        self, channel: ChannelSettings, token: str, status_id: str, below: str = ""
    ) -> dict[str, Any]:
        response = self._calls.send(
            "GET", f"{channel.base_url}/api/v1/statuses/{_path_segment(status_id)}{below}", token=token
        )
        _raise_if_gone(response, channel, status_id)
        return self._calls.answer(response, what=channel.host)


def query_problems(query: str) -> list[str]:
    """What stops `query` from being searched on Mastodon: a `#hashtag`, or words."""
    query = query.strip()
    if not query or query == "#":
        return ["the search is empty"]
    if len(query) > MAX_QUERY_LENGTH:
        return [f"the search is {len(query)} characters long; Crier searches at most {MAX_QUERY_LENGTH}"]
    if query.startswith("#") and " " not in query:
        name = query[1:]
        if not _TAG.fullmatch(name) or name[0] in _TAG_SEPARATORS[1:] or name[-1] in _TAG_SEPARATORS[1:]:
            return [f"{query!r} is not a hashtag: letters, digits and underscores only"]
        if not any(character.isalpha() for character in name):
            return [f"{query!r} is not a hashtag: it needs a letter"]
    return []


def _is_hashtag(query: str) -> bool:
    return query.startswith("#") and " " not in query


def _notification_entry(notification: Mapping[str, Any], me: str) -> InboxEntry | None:
    status = notification.get("status")
    kind = notification.get("type")
    if not isinstance(status, Mapping) or kind not in NOTIFICATION_TYPES:
        return None  # a type asked for by a server that ignores `types[]`, or a status gone since
    entry_kind = InboxKind.QUOTE if kind == "quote" else _kind_of(status, me)
    if entry_kind is InboxKind.POST:
        entry_kind = InboxKind.MENTION  # a mention notification is one whatever the status says
    raw = {"notification_id": identifier(notification["id"]), "notification_type": kind}
    return _entry(status, entry_kind, raw=raw)


def _kind_of(status: Mapping[str, Any], me: str) -> InboxKind:
    """What a status is to the account: a private mention, an answer to one of its posts, a mention, or a
    post that names it not."""
    if status.get("visibility") == "direct":
        return InboxKind.DIRECT_MESSAGE
    if status.get("in_reply_to_account_id") is not None and str(status["in_reply_to_account_id"]) == me:
        return InboxKind.REPLY
    mentioned = {str(m.get("id")) for m in status.get("mentions") or () if isinstance(m, Mapping)}
    return InboxKind.MENTION if me in mentioned else InboxKind.POST


def _entry(
    status: Mapping[str, Any],
    kind: InboxKind,
    *,
    thread_root: str | None = None,
    raw: Mapping[str, Any] | None = None,
) -> InboxEntry:
    status_id = identifier(status["id"])
    account = status["account"]
    acct = required_text(account["acct"])
    content = str(status.get("content") or "")
    in_reply_to = status.get("in_reply_to_id")
    visibility = str(status.get("visibility") or "public")
    return InboxEntry(
        external_id=status_id,
        kind=kind,
        author=Author(
            handle=acct,
            display_name=account.get("display_name") or None,
            avatar_url=account.get("avatar") or None,
            url=account.get("url") or None,
        ),
        text=content,
        plain_text=plain_text(content),
        url=status_url(status) or None,
        created_at=created_at(status),
        # The author's handle, so that the answer names them (channel.status_texts), and how open the
        # status is, so that the answer is no more open (channel.reply_visibility).
        reply_target=ReplyTarget(status_id, ref={"acct": acct, "visibility": visibility}),
        in_reply_to=identifier(in_reply_to) if in_reply_to is not None else None,
        quotes=_quoted_id(status),
        # A status answering nothing begins its conversation; for a reply only the context says which does.
        thread_root=thread_root or (status_id if in_reply_to is None else None),
        raw={
            **(raw or {}),
            "visibility": visibility,
            "spoiler_text": status.get("spoiler_text") or "",
        },
    )


def _quoted_id(status: Mapping[str, Any]) -> str | None:
    quote = status.get("quote")
    if not isinstance(quote, Mapping):
        return None
    quoted = quote.get("quoted_status")
    if isinstance(quoted, Mapping) and quoted.get("id") is not None:
        return identifier(quoted["id"])
    if quote.get("quoted_status_id") is not None:
        return identifier(quote["quoted_status_id"])
    return None  # pending, rejected or revoked: the server does not say which status


def _id_order(status_id: str) -> tuple[int, str]:
    # api/guidelines: Mastodon's ids sort by length, then lexically.
    return len(status_id), status_id


def _within(status_id: str, after: str | None, before: str | None) -> bool:
    return (after is None or _id_order(status_id) > _id_order(after)) and (
        before is None or _id_order(status_id) < _id_order(before)
    )


def _path_segment(value: str) -> str:
    # An id or a tag from elsewhere is one segment of the path, whatever it holds.
    return urllib.parse.quote(value, safe="")


def _raise_if_gone(response: httpx.Response, channel: ChannelSettings, status_id: str) -> None:
    if response.status_code in (404, 410):
        raise PostGone(f"{channel.host}: status {status_id} does not exist, or is not visible to the account")


def _list(value: Any, channel: ChannelSettings) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Transient(f"{channel.host}: the answer was not a list of objects")
    return value


def _count(value: str | None, channel: ChannelSettings, position: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit():
        raise Rejected(f"{channel.host}: the inbox position {(position or '')[:80]!r} is not one Crier made")
    return int(value)


def _encode(**fields: str | None) -> str:
    return json.dumps(
        {key: value for key, value in fields.items() if value is not None}, separators=(",", ":")
    )


def _decode(position: str | None, channel: ChannelSettings) -> dict[str, str]:
    if position is None:
        return {}
    try:
        state = json.loads(position)
    except ValueError:
        state = None
    if not isinstance(state, dict) or not all(isinstance(value, str) for value in state.values()):
        raise Rejected(f"{channel.host}: the inbox position {position[:80]!r} is not one Crier made")
    return {str(key): value for key, value in state.items()}
