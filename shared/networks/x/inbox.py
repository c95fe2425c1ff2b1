"""What people say to an X account, read by position: its mentions (replies and quotes among them), recent
search, a post's conversation, and liking and hiding.

X pages a timeline newest first: a request with since_id answers the newest posts after it, and each
page's meta.next_token, passed back as pagination_token (next_token on recent search), gives the page of
older posts after it, down to since_id; X advises since_id, not page tokens, for polling (fundamentals/
pagination). So a read is a *pass*: it starts at the newest post after `since` and walks older until a
page has no next_token; then `since` becomes `top`, the newest id of that pass. The position holds the
three, as compact JSON: {"since": the newest id fully read, "token": the next page of the pass under way,
"top": the newest id of that pass}; `more` is True while the pass has pages left. A post that arrives
while a pass is under way is newer than `top` and comes in the next pass; a page token names a place
among older posts, which new ones do not move (X: "the next_token does not expire ... the same results").
So no post after the first read is skipped or read twice.

Two limits are X's and not the reader's: the mentions timeline reaches only an account's 800 most recent
mentions, so more than 800 between two reads lose the oldest of them; and recent search (saved searches,
and a conversation's replies in read_thread) sees only the last seven days. A saved search read again
after more than seven days is refused its since_id (a 400 naming it): it then reads all X still holds.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from shared.networks.inbox import MAX_POSITION_LENGTH, Author, InboxEntry, InboxPage
from shared.networks.ports import InboxKind, PostGone, Rejected, ReplyTarget
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.calls import Calls
from shared.networks.x.api import created_at, post_url

# The most posts a page may hold: 100 on the mentions timeline (5 to 100) and on recent search (10 to 100).
PAGE_SIZE = 100
# Recent search takes a query of at most 512 characters on the self-serve tiers (4,096 on Enterprise).
QUERY_LIMIT = 512
# A conversation is read to at most this many pages of replies (500 posts) for a reader's context.
THREAD_PAGES = 5
TWEET_FIELDS = (
    "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities,note_tweet"
)
EXPANSIONS = "author_id,referenced_tweets.id"
USER_FIELDS = "name,username,profile_image_url"
# An X post id, as POST /2/tweets takes it for reply.in_reply_to_tweet_id.
POST_ID = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class Me:
    """The account the token acts for."""

    id: str
    username: str


@dataclass(frozen=True)
class Cursor:
    """Where a read stands (see the module): the position Crier stores, decoded."""

    since: str | None = None
    token: str | None = None
    top: str | None = None

    def dump(self) -> str:
        fields = {"since": self.since, "token": self.token, "top": self.top}
        position = json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))
        if len(position) > MAX_POSITION_LENGTH:
            raise Rejected(f"X gave a page token too long to keep ({len(position)} characters)")
        return position

    @classmethod
    def load(cls, position: str) -> Cursor:
        try:
            fields = json.loads(position)
            if not isinstance(fields, dict) or not all(
                isinstance(fields.get(key), str | None) for key in ("since", "token", "top")
            ):
                raise ValueError("not an object of ids")
        except ValueError as error:
            raise Rejected(f"X: {position[:80]!r} is not a position this adapter wrote ({error})") from None
        return cls(fields.get("since"), fields.get("token"), fields.get("top"))


def referenced(tweet: Mapping[str, Any], kind: str) -> str | None:
    """The id of the post this one replies to ("replied_to") or quotes ("quoted"); None for none."""
    for reference in tweet.get("referenced_tweets") or ():
        if isinstance(reference, Mapping) and reference.get("type") == kind:
            return identifier(reference.get("id"))
    return None


def names(tweet: Mapping[str, Any], me: Me) -> bool:
    entities = tweet.get("entities")
    mentions = entities.get("mentions") if isinstance(entities, Mapping) else None
    return any(
        isinstance(mention, Mapping)
        and (str(mention.get("id")) == me.id or str(mention.get("username")).lower() == me.username.lower())
        for mention in mentions or ()
    )


def kind_of(
    tweet: Mapping[str, Any], me: Me, includes: Mapping[str, Mapping[str, Any]], otherwise: InboxKind
) -> InboxKind:
    """REPLY for an answer to one of the account's posts, QUOTE for a post quoting one of them, MENTION
    for one that names the account; `otherwise` for the rest (a post a conversation or a search holds)."""
    replied_to = referenced(tweet, "replied_to")
    if replied_to is not None and str(tweet.get("in_reply_to_user_id")) == me.id:
        return InboxKind.REPLY
    quoted = referenced(tweet, "quoted")
    if quoted is not None and str((includes.get(quoted) or {}).get("author_id")) == me.id:
        return InboxKind.QUOTE
    return InboxKind.MENTION if names(tweet, me) else otherwise


def text_of(tweet: Mapping[str, Any]) -> str:
    """The post's whole text: a long post's (note_tweet) rather than its first 280 characters."""
    note = tweet.get("note_tweet")
    if isinstance(note, Mapping) and isinstance(note.get("text"), str):
        return str(note["text"])
    return required_text(tweet["text"])


def plain_text(tweet: Mapping[str, Any], text: str) -> str:
    """The text as a person reads it: t.co links as the addresses they stand for, a link to the post's
    own media dropped, and X's &amp; &lt; &gt; unescaped."""
    entities = tweet.get("entities")
    for url in (entities.get("urls") if isinstance(entities, Mapping) else None) or ():
        if isinstance(url, Mapping) and isinstance(url.get("url"), str):
            shown = "" if url.get("media_key") else str(url.get("expanded_url") or url["url"])
            text = text.replace(url["url"], shown)
    return html.unescape(text).strip()


def author_of(user: Mapping[str, Any] | None, author_id: str) -> Author:
    if user is None:  # an author X leaves out (suspended, withheld): known by id alone
        return Author(handle=author_id, url=f"https://x.com/i/user/{author_id}")
    username = required_text(user["username"])
    avatar = user.get("profile_image_url")
    return Author(
        handle=username,
        display_name=user.get("name") or None,
        avatar_url=avatar if isinstance(avatar, str) and avatar else None,
        url=f"https://x.com/{username}",
    )


def entry_of(tweet: Mapping[str, Any], kind: InboxKind, users: Mapping[str, Mapping[str, Any]]) -> InboxEntry:
    post_id = identifier(tweet["id"])
    author_id = identifier(tweet["author_id"])
    author = author_of(users.get(author_id), author_id)
    text = text_of(tweet)
    when = created_at(tweet)
    if when is None:
        raise TypeError(f"post {post_id} has no created_at")
    conversation = tweet.get("conversation_id")
    return InboxEntry(
        external_id=post_id,
        kind=kind,
        author=author,
        text=text,
        plain_text=plain_text(tweet, text),
        url=post_url(author.handle if author_id in users else "", post_id),
        created_at=when,
        reply_target=ReplyTarget(post_id),
        in_reply_to=referenced(tweet, "replied_to"),
        quotes=referenced(tweet, "quoted"),
        thread_root=identifier(conversation) if conversation else None,
        raw=tweet,
    )


@dataclass(frozen=True)
class Page:
    """One page of an X timeline or search: its posts, `includes` by id, and meta."""

    posts: list[Mapping[str, Any]]
    users: dict[str, Mapping[str, Any]]
    referenced: dict[str, Mapping[str, Any]]
    newest_id: str | None
    next_token: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Page:
        posts = body.get("data") or []
        if not isinstance(posts, list):
            raise TypeError("the page's posts are not a list")
        includes = body.get("includes") or {}
        meta = body.get("meta") or {}
        newest = meta.get("newest_id")
        next_token = meta.get("next_token")
        return cls(
            posts=posts,
            users={identifier(user["id"]): user for user in includes.get("users") or ()},
            referenced={identifier(post["id"]): post for post in includes.get("tweets") or ()},
            newest_id=identifier(newest) if newest is not None else None,
            next_token=next_token if isinstance(next_token, str) and next_token else None,
        )


class Reading:
    """The inbox's reads and its two small writes, on the adapter's calls (see the module)."""

    def __init__(self, calls: Calls, api_url: str) -> None:
        self._calls = calls
        self._api_url = api_url
        # The account behind each access token, asked of X once a token (tokens last two hours).
        self._accounts: dict[str, Me] = {}

    def me(self, access_token: str) -> Me:
        known = self._accounts.get(access_token)
        if known is not None:
            return known
        response = self._calls.send("GET", f"{self._api_url}/2/users/me", token=access_token)
        answer = self._calls.answer(response, what="X")
        with reading("X", write=False):
            me = Me(identifier(answer["data"]["id"]), required_text(answer["data"]["username"]))
        if len(self._accounts) >= 1000:
            self._accounts.clear()
        self._accounts[access_token] = me
        return me

    def mentions(self, access_token: str, position: str | None) -> InboxPage:
        """The account's mentions after `position`: replies to its posts, quotes of them, and the rest.
        The account's own posts naming it are left out: they are Crier's or the person's own."""
        me = self.me(access_token)

        def entries(page: Page) -> list[InboxEntry]:
            return [
                entry_of(post, kind_of(post, me, page.referenced, InboxKind.MENTION), page.users)
                for post in page.posts
                if identifier(post["author_id"]) != me.id
            ]

        url = f"{self._api_url}/2/users/{me.id}/mentions"
        return self._by_position(access_token, url, {}, "pagination_token", position, entries)

    def search(self, access_token: str, query: str, position: str | None) -> InboxPage:
        """Recent posts matching `query` after `position`, as entries of kind POST."""

        def entries(page: Page) -> list[InboxEntry]:
            return [entry_of(post, InboxKind.POST, page.users) for post in page.posts]

        url = f"{self._api_url}/2/tweets/search/recent"
        return self._by_position(
            access_token, url, {"query": query}, "next_token", position, entries, window=True
        )

    def thread(self, access_token: str, external_id: str) -> list[InboxEntry]:
        """The post's conversation, oldest first: its first post and the replies recent search finds."""
        me = self.me(access_token)
        first = self._lookup(access_token, external_id)
        if not first.posts:
            raise PostGone(f"X: post {external_id} does not exist (any more)")
        with reading("X", write=False):
            root = identifier(first.posts[0].get("conversation_id") or external_id)
        pages = [first] if root == external_id else [first, self._lookup(access_token, root)]
        params: dict[str, Any] = {"query": f"conversation_id:{root}"}
        for _ in range(THREAD_PAGES):
            page = self._page(access_token, f"{self._api_url}/2/tweets/search/recent", params)
            pages.append(page)
            if page.next_token is None:
                break
            params["next_token"] = page.next_token
        posts: dict[str, InboxEntry] = {}
        with reading("X", write=False):
            for page in pages:
                for post in page.posts:
                    kind = kind_of(post, me, page.referenced, InboxKind.POST)
                    posts.setdefault(identifier(post["id"]), entry_of(post, kind, page.users))
        return sorted(posts.values(), key=lambda entry: int(entry.external_id))

    def like(self, access_token: str, post_id: str) -> None:
        """POST /2/users/:id/likes: X answers liked true again for a post already liked, so asking twice
        likes once. A failure is safe to repeat (Transient for a 5xx: the like is idempotent)."""
        me = self.me(access_token)
        response = self._calls.send(
            "POST", f"{self._api_url}/2/users/{me.id}/likes", token=access_token, json={"tweet_id": post_id}
        )
        self._said_yes(response, "liked", f"X did not like post {post_id}")

    def hide(self, access_token: str, post_id: str) -> None:
        """PUT /2/tweets/:id/hidden: hiding a hidden reply again succeeds (X's reference says so)."""
        response = self._calls.send(
            "PUT", f"{self._api_url}/2/tweets/{post_id}/hidden", token=access_token, json={"hidden": True}
        )
        self._said_yes(response, "hidden", f"X did not hide post {post_id}")

    def _said_yes(self, response: httpx.Response, field: str, otherwise: str) -> None:
        if response.status_code == 404:
            raise PostGone(f"{otherwise}: it does not exist (any more)")
        answer = self._calls.answer(response, what="X")
        if (answer.get("data") or {}).get(field) is not True:
            raise Rejected(otherwise)

    def _by_position(
        self,
        access_token: str,
        url: str,
        params: dict[str, Any],
        token_parameter: str,
        position: str | None,
        entries: Callable[[Page], list[InboxEntry]],
        *,
        window: bool = False,
    ) -> InboxPage:
        """A page read from `position` (see the module); `window`: the endpoint reaches back seven days."""
        cursor = None if position is None else Cursor.load(position)
        if cursor is not None and cursor.since is not None:
            params["since_id"] = cursor.since
        if cursor is not None and cursor.token is not None:
            params[token_parameter] = cursor.token
        response = self._get(access_token, url, params)
        if window and cursor is not None and since_refused(response):
            # Last read more than seven days ago: recent search refuses a since_id it no longer reaches,
            # and every post it still holds is newer. A pass without since_id reads them all (a pass that
            # was under way then may give again the posts it had read).
            params.pop("since_id", None)
            params.pop(token_parameter, None)
            cursor = Cursor()
            response = self._get(access_token, url, params)
        page = self._page_of(response)
        with reading("X", write=False):
            found = tuple(entries(page))
        if cursor is None:
            # The first read: the latest page, and the position after it; nothing older.
            return InboxPage(found, Cursor(since=page.newest_id).dump())
        # The first page of a pass holds its newest post; the pages after it keep the pass's `top`.
        top = cursor.top if cursor.token is not None else page.newest_id
        if page.next_token is not None:
            return InboxPage(found, Cursor(cursor.since, page.next_token, top).dump(), more=True)
        return InboxPage(found, Cursor(since=top or cursor.since).dump())

    def _lookup(self, access_token: str, post_id: str) -> Page:
        return self._page(access_token, f"{self._api_url}/2/tweets", {"ids": post_id}, size=None)

    def _page(
        self, access_token: str, url: str, params: Mapping[str, Any], size: int | None = PAGE_SIZE
    ) -> Page:
        return self._page_of(self._get(access_token, url, params, size))

    def _get(
        self, access_token: str, url: str, params: Mapping[str, Any], size: int | None = PAGE_SIZE
    ) -> httpx.Response:
        query = {
            **params,
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": USER_FIELDS,
        }
        if size is not None:
            query["max_results"] = size
        return self._calls.send("GET", url, token=access_token, params=query)

    def _page_of(self, response: httpx.Response) -> Page:
        body = self._calls.answer(response, what="X")
        # X answers a post it cannot show (deleted, protected) as an item of `errors` beside the rest: the
        # page is read without it.
        with reading("X", write=False):
            return Page.of(body)


def since_refused(response: httpx.Response) -> bool:
    """Whether X refused the request's since_id: a 400 invalid-request naming it among `errors`."""
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, Mapping) else None
    return any(
        isinstance(error, Mapping)
        and isinstance(error.get("parameters"), Mapping)
        and "since_id" in error["parameters"]
        for error in errors or ()
    )


def query_problems(query: str) -> list[str]:
    """What X's recent search would refuse in a saved search's query."""
    if not query.strip():
        return ["the query is empty"]
    if len(query) > QUERY_LIMIT:
        return [f"the query is {len(query)} characters long; X's recent search takes at most {QUERY_LIMIT}"]
    return []
