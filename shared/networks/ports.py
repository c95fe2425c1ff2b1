"""The contract between Crier and a social network, and the errors a network may raise.

Adapters receive plain values, never database rows: a network package needs none of Crier's models or
services, only this module, the toolkit it is built from (shared.networks.toolkit), and the settings and
quota types it is configured with. Every failure an adapter raises is one of the `NetworkError` kinds below:
the publishing service decides what each means for the delivery (retry, wait, fail, or ask a person).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from shared.config import Settings
from shared.limits.ports import Rate


@dataclass(frozen=True)
class MediaRule:
    """The media a network takes with a post."""

    content_types: tuple[str, ...]
    max_bytes: int
    max_items: int
    alt_text_limit: int | None = None
    # At least this many: Instagram has no post without media. Checked against the post's attachments when
    # it is written, since the drafts validate() sees then carry no media yet.
    min_items: int = 0


class InboxKind(StrEnum):
    """What an item of the engagement inbox is to the account (shared.networks.inbox reads them)."""

    REPLY = "reply"  # an answer to one of the account's posts
    MENTION = "mention"  # a post naming the account
    QUOTE = "quote"  # a post quoting one of the account's
    DIRECT_MESSAGE = "direct_message"  # a message to the account alone (or a few)
    POST = "post"  # a post a saved search found: it says nothing to the account yet


@dataclass(frozen=True)
class InboxAbilities:
    """What Crier can read of what people say to an account, and do about it, on one network.

    The adapter implements the matching protocols of shared.networks.inbox: ReadsInbox when `kinds` is not
    empty, SearchesPosts for `can_search`, ReactsToPosts for `can_like`, HidesReplies for `can_hide`;
    `can_reply` means its publish() makes the draft as a reply to Draft.reply_to.
    """

    kinds: tuple[InboxKind, ...] = ()
    can_search: bool = False
    can_reply: bool = False
    can_like: bool = False
    # Hiding another person's reply under the account's post, where the network lets an author moderate
    # their own thread (HidesReplies).
    can_hide: bool = False


@dataclass(frozen=True)
class ReplyTarget:
    """A post to answer: its id on the network and what else the network needs to reply to it.

    `ref` is the network's own: Bluesky's content ids of the post and of its thread's root, a newsgroup
    article's References and Newsgroups. The adapter that read the post made it; only it reads it.
    """

    external_id: str
    ref: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"external_id": self.external_id, "ref": dict(self.ref)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ReplyTarget:
        return cls(external_id=str(value["external_id"]), ref=dict(value.get("ref") or {}))


@dataclass(frozen=True)
class NetworkInfo:
    """What a network is and what it allows, shown by GET /v1/networks."""

    name: str
    display_name: str
    # The default limit; a server may announce its own (a Mastodon instance does): see preview().
    # None: the network sets none (a generic webhook), though a channel's settings may.
    text_limit: int | None
    metrics: tuple[str, ...]
    # How the limit counts, in words for people: "graphemes", "characters", "graphemes and UTF-8 bytes"…
    text_unit: str = "graphemes"
    supports_threads: bool = False
    # Whether the draft's options may carry a "first_comment": a comment the account adds under its own post
    # once it is out (LinkedIn, Facebook, Instagram), published and recorded as the post's next part.
    supports_first_comment: bool = False
    media: MediaRule | None = None
    # Whether it needs secrets to post (a token, an app password, a webhook URL), and which keys.
    credential_keys: tuple[str, ...] = ()
    # Keys a channel's credentials may also hold: a refresh token some apps get, when a token expires, the
    # account's id the OAuth flow found, a login some servers ask for. Any other key is refused by name.
    optional_credential_keys: tuple[str, ...] = ()
    # Whether find_published can tell if an earlier, uncertain attempt made a post. Without it, an
    # uncertain delivery is never republished automatically: a person decides.
    can_find_published: bool = True
    # What Crier can do to a post once it is out: delete it (every part of a thread), and change its text
    # (the adapter then implements EditsPosts).
    can_delete: bool = False
    can_edit: bool = False
    # Posting quotas Crier keeps to, so it never runs into the network's own: per connected account, and
    # across all accounts of this Crier on the network. None: no limit of Crier's own.
    account_rate: Rate | None = None
    network_rate: Rate | None = None
    # Reading counts back (fetch_engagement, fetch_audience): how many posts one request may ask about
    # (None: as many as the adapter is given), and the reads Crier allows itself per connected account and
    # across all of them, apart from the posting quotas so that collecting metrics never delays a post.
    engagement_batch_size: int | None = None
    account_read_rate: Rate | None = None
    network_read_rate: Rate | None = None
    # The engagement inbox: which kinds of item Crier reads, and what it can do about one.
    inbox: InboxAbilities = InboxAbilities()


@dataclass(frozen=True)
class Account:
    """The channel as an adapter sees it: who to post as, and the channel's network options."""

    channel_id: str
    handle: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Secrets, decrypted for this call only: never logged, never returned by the API.
    credentials: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Stores credentials the network renewed (a refreshed session), sealed, so the next process starts
    # from them instead of signing in again. None where there is nowhere to keep them (a check on connect).
    save_credentials: Callable[[Mapping[str, Any]], None] | None = field(
        default=None, repr=False, compare=False
    )


@dataclass(frozen=True)
class MediaItem:
    """One image or video to attach, with its description for people who cannot see it."""

    content_type: str
    data: bytes = field(repr=False)
    alt_text: str | None = None
    # An unguessable, expiring address where the network can fetch the file itself, for networks that take
    # media only by URL (Instagram, Threads). None where Crier has no public address (CRIER_PUBLIC_URL).
    public_url: str | None = None

    def summary(self) -> dict[str, Any]:
        """The file without its bytes: its type, size, SHA-256 and alt text, for a receiver or a store."""
        return {
            "content_type": self.content_type,
            "bytes": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "alt_text": self.alt_text,
        }


@dataclass(frozen=True)
class Draft:
    """What to publish: the text, and for networks that take them, replies making a thread, and media."""

    text: str
    thread: tuple[str, ...] = ()
    media: tuple[MediaItem, ...] = ()
    # Network-specific choices from the channel's variant: a content warning, visibility, language…
    options: Mapping[str, Any] = field(default_factory=dict)
    # The post this one answers (a reply from the engagement inbox), on networks whose info.inbox says
    # can_reply: the draft's first part is made as a reply to it, its thread under that.
    reply_to: ReplyTarget | None = None


@dataclass(frozen=True)
class TextPreview:
    """One text exactly as it would be sent, counted as the network counts it."""

    text: str
    length: int
    limit: int | None  # None: no limit
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """Who the credentials post as, as the network says."""

    handle: str
    display_name: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class PublishedPart:
    """One post a delivery made on the network: the post itself, or one reply of its thread."""

    external_id: str
    url: str
    # When the network says it made it; None where it does not say.
    created_at: datetime | None = None


@dataclass(frozen=True)
class PublishedPost:
    """Where the network put it."""

    external_id: str
    url: str
    # The thread's later items, in order, when the draft had any.
    thread: tuple[PublishedPart, ...] = ()
    # When the network says it made the post; None where it does not say.
    created_at: datetime | None = None

    @classmethod
    def of(cls, parts: Sequence[PublishedPart]) -> PublishedPost:
        """The post made of these parts: the first is the post, the rest its replies in order."""
        root, *thread = parts
        return cls(
            external_id=root.external_id, url=root.url, thread=tuple(thread), created_at=root.created_at
        )

    @property
    def parts(self) -> tuple[PublishedPart, ...]:
        """The post and then its replies, each where the network put it."""
        return (PublishedPart(self.external_id, self.url, self.created_at), *self.thread)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        return tuple(part.external_id for part in self.thread)


@dataclass(frozen=True)
class Engagement:
    """One reading of one post's counts. None means the network did not say, which is not zero."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    bookmarks: int | None = None
    views: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Audience:
    """One reading of an account's own counts. None means the network did not say, which is not zero."""

    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class NetworkError(Exception):
    """Base of what an adapter raises when a call does not succeed.

    `published` lists the parts of a thread the network confirmed before the failure (the post and the
    replies made so far): Crier records them, and a later attempt goes on from the last of them.
    """

    def __init__(self, message: str = "", *, published: Sequence[PublishedPart] = ()) -> None:
        super().__init__(message)
        self.published = tuple(published)

    def after(self, published: Sequence[PublishedPart]) -> NetworkError:
        """This error, as met once `published` were made: how a thread's adapter passes a failure on."""
        self.published = tuple(published)
        return self


class Transient(NetworkError):
    """The network did not act on the request (no connection, a 408, a failed read): safe to retry."""


class Rejected(NetworkError):
    """The network refused the content or the request for good; retrying would fail the same way."""


class RateLimited(NetworkError):
    """The network asks us to wait; `reset_at` is when it says the limit resets, if it says."""

    def __init__(
        self,
        message: str,
        reset_at: datetime | None = None,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> None:
        if reset_at is not None and reset_at.tzinfo is None:
            raise ValueError("RateLimited.reset_at must be timezone-aware: a naive time is ambiguous")
        super().__init__(message, published=published)
        self.reset_at = reset_at


class AuthExpired(NetworkError):
    """The channel's credentials no longer work; a person must reconnect it."""


class OutcomeUnknown(NetworkError):
    """The request may have reached the network (a timeout or reset after sending)."""


class CannotTell(NetworkError):
    """The network answered, but what it holds cannot settle whether (or which) post an attempt made.

    Raised by find_published when several posts match, or a thread's next part can neither be found nor
    ruled out: waiting would not change the answer, so a person decides at once. `published` lists the
    parts that were found.
    """


class PostGone(NetworkError):
    """The post no longer exists on the network (deleted by its author or a moderator)."""


@runtime_checkable
class Network(Protocol):
    """One social network. Adapters are registered as entry points in the `crier.networks` group."""

    info: NetworkInfo

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Problems with a channel's options for this network; empty when they are fine."""
        ...

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the credentials' shape, found without calling the network; empty when fine.

        The keys named in info.credential_keys are checked for presence before this is called.
        """
        ...

    def validate(self, draft: Draft) -> list[str]:
        """Problems that would make the network refuse this draft; empty when it may be sent."""
        ...

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        """Each text the draft becomes (the post, then thread items), exactly as sent and counted."""
        ...

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Publish the draft. `idempotency_key` is the same on every attempt for one delivery.

        `published` are the parts of the draft an earlier attempt is known to have made, in order (the
        post, then replies): the adapter makes only the rest, each reply to the last part made. A failure
        after some parts were made raises with them in the error's `published`.
        """
        ...

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
        last_attempted_at: datetime | None = None,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost | None:
        """The post an earlier attempt with this key made, if the network can tell; None if none.

        `draft` is what was sent, `attempted_at` when the delivery was first attempted and
        `last_attempted_at` when the uncertain attempt began, for networks that can only recognise a post
        by its content and time (Mastodon keeps idempotency keys an hour). `published` are the parts
        already recorded, from which a thread is followed.

        A thread found in part comes back with only the replies found, in order, when the next one is
        certainly not there: publishing goes on from the last. Raises CannotTell when the network's answer
        cannot settle it (a person decides now), and Transient or OutcomeUnknown while it cannot be asked
        or it is too early to tell (Crier asks again later).
        """
        ...

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts for a batch of published posts, keyed by external id."""
        ...

    def delete(self, account: Account, external_id: str) -> None:
        """Remove a published post. Raises PostGone if it is gone already."""
        ...

    def verify(self, account: Account) -> Profile:
        """Check the credentials work; who they post as. Raises AuthExpired when they do not."""
        ...


@runtime_checkable
class EditsPosts(Protocol):
    """A network whose posts' text can be changed once published (Mastodon can; Bluesky cannot).

    Optional, beside `Network`, for adapters whose info says can_edit. Failures are the `NetworkError`
    kinds, read as for publishing: an edit whose answer was lost (OutcomeUnknown) is looked at with
    reads_as before it is sent again, so a post is edited once.
    """

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """Give the published post `external_id` the draft's text (and content warning, language)."""
        ...

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        """Whether the published post reads as the draft now: an uncertain edit already landed."""
        ...


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the person to approve Crier, and what the adapter needs back to complete it."""

    url: str
    # The client credentials Crier holds on the network (a Mastodon app's id and secret) and anything else
    # the adapter must know when the person returns. Secret: Crier keeps them sealed until then.
    app_credentials: Mapping[str, Any] = field(default_factory=dict, repr=False)


@runtime_checkable
class AuthorizesWithOAuth(Protocol):
    """A network whose accounts connect by a person approving Crier on the network, not by pasting secrets.

    Optional, beside `Network`: the OAuth 2 authorization-code flow (RFC 6749) with PKCE (RFC 7636). Crier
    makes the state and the code verifier and keeps both; the adapter sees the challenge when the flow
    begins and the verifier only when it completes. Failures are the `NetworkError` kinds: Rejected when
    the network refuses (a used or expired code, a verifier that does not match, an unknown client),
    Transient or RateLimited when asking again later may work.
    """

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        """The network's page where the person approves Crier; it sends them back to `redirect_uri`."""
        ...

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The channel's credentials, keyed as info.credential_keys, for the code the person brought back."""
        ...


@runtime_checkable
class RefreshesCredentials(Protocol):
    """A network whose access tokens expire and are renewed with a refresh token (X, LinkedIn, Threads…).

    Optional, beside `Network`. Crier renews a channel's credentials ahead of expiry under the channel's
    renewal lease, taken before the refresh token is read and let go once the new credentials are stored
    (shared.channels.refreshing): where a refresh token works once (X), two processes renewing at once
    would otherwise lock the channel out. Failures are the `NetworkError` kinds: AuthExpired when the
    network refuses the refresh token (a person reconnects),
    Transient, RateLimited or OutcomeUnknown when asking again later may work.
    """

    def expires_at(self, credentials: Mapping[str, Any]) -> datetime | None:
        """When these credentials' access token stops working; None when it does not expire."""
        ...

    def refresh_credentials(self, account: Account) -> dict[str, Any]:
        """New credentials for the account (keyed as info.credential_keys), from its refresh token."""
        ...


@runtime_checkable
class ReportsAudience(Protocol):
    """A network that tells how many followers, follows and posts an account has.

    Optional, beside `Network`: Crier takes one snapshot per channel a day, the denominator of an engagement
    rate where the network gives no views. Failures are the `NetworkError` kinds.
    """

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts now."""
        ...


class NetworkFactory(Protocol):
    """What an entry point in `crier.networks` loads: something that builds the adapter from settings."""

    def __call__(self, settings: Settings) -> Network: ...
