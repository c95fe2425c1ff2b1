"""The contract between Crier and a social network, and the errors a network may raise.

Adapters receive plain values, never database rows, so a network package needs nothing of Crier but this
module. Every failure an adapter raises is one of the `NetworkError` kinds below: the publishing service
decides what each means for the delivery (retry, wait, fail, or ask a person).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from shared.config import Settings
from shared.limits.ports import Rate


@dataclass(frozen=True)
class NetworkInfo:
    """What a network is and what it allows, shown by GET /v1/networks."""

    name: str
    display_name: str
    text_limit: int
    metrics: tuple[str, ...]
    # Whether find_published can tell if an earlier, uncertain attempt made a post. Without it, an
    # uncertain delivery is never republished automatically: a person decides.
    can_find_published: bool = True
    # Posting quotas Crier keeps to, so it never runs into the network's own: per connected account, and
    # across all accounts of this Crier on the network. None: no limit of Crier's own.
    account_rate: Rate | None = None
    network_rate: Rate | None = None


@dataclass(frozen=True)
class Account:
    """The channel as an adapter sees it: who to post as, and the channel's network options."""

    channel_id: str
    handle: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Draft:
    """What to publish."""

    text: str


@dataclass(frozen=True)
class PublishedPost:
    """Where the network put it."""

    external_id: str
    url: str


@dataclass(frozen=True)
class Engagement:
    """One reading of one post's counts. None means the network did not say, which is not zero."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class NetworkError(Exception):
    """Base of what an adapter raises when a call does not succeed."""


class Transient(NetworkError):
    """The network did not take the request (5xx before sending, connection refused); safe to retry."""


class Rejected(NetworkError):
    """The network refused the content or the request for good; retrying would fail the same way."""


class RateLimited(NetworkError):
    """The network asks us to wait; `reset_at` is when it says the limit resets, if it says."""

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        if reset_at is not None and reset_at.tzinfo is None:
            raise ValueError("RateLimited.reset_at must be timezone-aware: a naive time is ambiguous")
        super().__init__(message)
        self.reset_at = reset_at


class AuthExpired(NetworkError):
    """The channel's credentials no longer work; a person must reconnect it."""


class OutcomeUnknown(NetworkError):
    """The request may have reached the network (a timeout or reset after sending)."""


class PostGone(NetworkError):
    """The post no longer exists on the network (deleted by its author or a moderator)."""


@runtime_checkable
class Network(Protocol):
    """One social network. Adapters are registered as entry points in the `crier.networks` group."""

    info: NetworkInfo

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Problems with a channel's options for this network; empty when they are fine."""
        ...

    def validate(self, draft: Draft) -> list[str]:
        """Problems that would make the network refuse this draft; empty when it may be sent."""
        ...

    def publish(self, account: Account, draft: Draft, idempotency_key: str) -> PublishedPost:
        """Publish the draft. `idempotency_key` is the same on every attempt for one delivery."""
        ...

    def find_published(self, account: Account, idempotency_key: str) -> PublishedPost | None:
        """The post an earlier attempt with this key made, if the network can tell; None if none."""
        ...

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts for a batch of published posts, keyed by external id."""
        ...


class NetworkFactory(Protocol):
    """What an entry point in `crier.networks` loads: something that builds the adapter from settings."""

    def __call__(self, settings: Settings) -> Network: ...
