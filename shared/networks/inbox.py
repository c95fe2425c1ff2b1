"""The contract for reading what people say to an account, and answering it: the engagement inbox's port.

Optional protocols beside `Network` (shared.networks.ports), each matching a flag of NetworkInfo.inbox.
Reading is by position: an adapter returns a page of entries and an opaque `position` that Crier stores
with them and passes back on the next read. Across successive reads that pass the position on, every
entry the network holds after the first read is returned, and none twice, however many arrive while the
pages are read (Crier still stores an entry once by its id: a crash between reading and storing may make
a page be read again). Failures are the `NetworkError` kinds, as for publishing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from shared.networks.ports import Account, Engagement, InboxKind, ReplyTarget

# The most a position may take to store: an adapter keeps ids and a cursor in it, never entries.
MAX_POSITION_LENGTH = 2000


@dataclass(frozen=True)
class Author:
    """Who wrote an entry, as the network shows them."""

    handle: str
    display_name: str | None = None
    avatar_url: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class InboxEntry:
    """One reply, mention, quote, message or found post, as the network has it."""

    external_id: str
    kind: InboxKind
    author: Author
    # As the network sent it (HTML on Mastodon, an article body on Usenet), and as plain text for search.
    text: str
    plain_text: str
    url: str | None
    created_at: datetime
    # How to answer this entry (Draft.reply_to).
    reply_target: ReplyTarget
    # The external id of the post it answers, when it is a reply; of the post it quotes, for a quote.
    in_reply_to: str | None = None
    quotes: str | None = None
    # The external id of the first post of its conversation, when the network says.
    thread_root: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboxPage:
    """Entries read, and where the next read starts. `more`: entries are waiting, read again at once."""

    entries: tuple[InboxEntry, ...]
    position: str | None
    more: bool = False
    # Counts of the account's own posts the read happened to carry, keyed by the post's external id as
    # published: where reading the inbox takes what metrics would read (Telegram's one update queue per
    # bot holds both comments and reaction counts), Crier keeps them as a metrics reading.
    engagement: Mapping[str, Engagement] = field(default_factory=dict)


@runtime_checkable
class ReadsInbox(Protocol):
    """A network Crier reads an account's replies, mentions, quotes or messages from (info.inbox.kinds)."""

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """The entries after `position`. With None (a channel read for the first time): the latest page
        the network gives, and the position after it; nothing older is read.

        The position returned is never None, even when nothing was found: None would make the next read
        a first read again, skipping all but the latest page of what came in between.
        """
        ...

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The conversation a post is part of, oldest first, the post included: its context to a reader."""
        ...


@runtime_checkable
class SearchesPosts(Protocol):
    """A network whose public posts Crier can search for a saved stream (info.inbox.can_search)."""

    def search_posts(self, account: Account, query: str, position: str | None) -> InboxPage:
        """Posts matching `query` (a `#hashtag`, or words) after `position`, as entries of kind POST.

        With None, the latest page of matches and the position after it. `query` was checked by
        query_problems() when the stream was saved.
        """
        ...

    def query_problems(self, query: str) -> list[str]:
        """Problems with a saved search's query on this network; empty when it can be searched."""
        ...


@runtime_checkable
class ReactsToPosts(Protocol):
    """A network where the account can like (favourite) another's post (info.inbox.can_like)."""

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """Like the post, once: asked again with the same key after an uncertain answer, it likes nothing
        more (the network's favourite is idempotent, or the like is kept at a key of Crier's own).
        """
        ...


@runtime_checkable
class HidesReplies(Protocol):
    """A network where an author may hide others' replies under their own post (info.inbox.can_hide)."""

    def hide_reply(self, account: Account, target: ReplyTarget, *, root: str | None) -> None:
        """Hide the reply from the account's thread; hiding a hidden reply again is no error.

        `root` is the external id of the account's post the reply is under, when Crier knows it.
        """
        ...
