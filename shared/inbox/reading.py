"""Reading every due inbox and saved search: claim the sources, ask each network outside any transaction,
store each page with the position after it.

Each source has its own interval: halved after a read that brought something, half as long again after
one that did not, between CRIER_INBOX_READ_MIN_SECONDS and _MAX_SECONDS, so a busy channel is read often
and a quiet one seldom. Every request takes a read from the channel's and the network's read buckets,
shared with metrics and apart from posting quotas, and a network's own rate limit is waited out.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from shared.channels.opening import Opening, account_with_credentials
from shared.channels.reads import take_read
from shared.db import utcnow
from shared.dependencies import HasLimits, HasNetworkCalls, HasNetworks, HasSettings
from shared.inbox.models import InboxItem, SourceKind
from shared.inbox.sources import (
    ClaimedSource,
    claim_due_sources,
    finish_read,
    open_channel_inboxes,
    store_page,
)
from shared.monitoring.recording import count_inbox_items, count_inbox_read_error
from shared.networks.inbox import MAX_POSITION_LENGTH, InboxPage, ReadsInbox, SearchesPosts
from shared.networks.ports import Account, InboxKind, Network, NetworkError, RateLimited
from shared.networks.registry import UnknownNetwork

log = logging.getLogger(__name__)

# Sources read by one run; those left are read at the next tick.
SOURCES_PER_RUN = 500
# Pages one read may take from a source before letting others go first; it is due again at once.
PAGES_PER_READ = 20
# How long a claimed source is held; a reader that dies lets go after this.
CLAIM_LEASE = timedelta(minutes=5)


class Reading(Opening, HasSettings, HasNetworks, HasNetworkCalls, HasLimits, Protocol):
    """What reading inboxes uses of its process."""


@dataclass(frozen=True)
class ReadResult:
    """What one read of a source did: items stored, whether more wait, and what stopped it early."""

    stored: int
    more: bool = False
    wait: timedelta | None = None  # a rate limit's
    error: str | None = None


def read_due_sources(services: Reading, *, source_id: uuid.UUID | None = None) -> int:
    """Read every source that is due (or the one asked for, now). Returns how many items were stored."""
    now = utcnow()
    with services.sessions.begin() as session:
        open_channel_inboxes(session, _inbox_networks(services), now=now)
        sources = claim_due_sources(
            session, now=now, limit=SOURCES_PER_RUN, lease=CLAIM_LEASE, source_id=source_id
        )
    results = list(services.network_calls.map(lambda source: _read(services, source), sources))
    for source, result in zip(sources, results, strict=True):
        interval = _next_interval(services, source, result)
        next_in = _next_in(result, interval)
        with services.sessions.begin() as session:
            finish_read(
                session, source, now=utcnow(), next_in=next_in, interval_seconds=interval, error=result.error
            )
    return sum(result.stored for result in results)


def _inbox_networks(services: Reading) -> list[str]:
    """The installed networks Crier reads an inbox from."""
    names = []
    for name in services.networks.names():
        try:
            network = services.networks.get(name)
        except Exception:
            log.exception("the network %s could not be loaded", name)
            continue
        if network.info.inbox.kinds and isinstance(network, ReadsInbox):
            names.append(name)
    return names


def _read(services: Reading, source: ClaimedSource) -> ReadResult:
    """Read pages from the source until it has no more, a limit stops it, or PAGES_PER_READ are read."""
    context = {"channel_id": source.account.channel_id, "network": source.network}
    stored = 0
    try:
        network = services.networks.get(source.network)
        account = account_with_credentials(
            services, source.account, source.sealed_credentials, network=network
        )
        position = source.position
        for _ in range(PAGES_PER_READ):
            wait = take_read(services.limits, network.info, source.account.channel_id)
            if wait is not None:
                return ReadResult(stored, more=True, wait=timedelta(seconds=wait.seconds))
            page = _read_page(network, source, account, position)
            with services.sessions.begin() as session:
                items = store_page(session, source, page, now=utcnow())
            _count(source.network, items)
            stored += len(items)
            position = page.position
            if not page.more:
                return ReadResult(stored)
        return ReadResult(stored, more=True)
    except RateLimited as error:
        log.info("the network limits inbox reads: %s", error, extra=context)
        wait_for = (error.reset_at - utcnow()) if error.reset_at is not None else None
        return ReadResult(stored, more=True, wait=wait_for)
    except (NetworkError, UnknownNetwork) as error:
        count_inbox_read_error(source.network)
        log.warning("could not read the inbox: %s", error, extra=context)
        return ReadResult(stored, error=str(error) or type(error).__name__)
    except Exception as error:
        # A bug in one adapter must not keep the other channels' items from being read.
        count_inbox_read_error(source.network)
        log.exception(
            "adapter %s raised an unexpected error while reading an inbox", source.network, extra=context
        )
        return ReadResult(stored, error=f"{type(error).__name__}: {error}")


def _read_page(network: Network, source: ClaimedSource, account: Account, position: str | None) -> InboxPage:
    if source.kind is SourceKind.SEARCH:
        if not (network.info.inbox.can_search and isinstance(network, SearchesPosts)):
            raise NetworkError(f"{network.info.display_name} can no longer be searched from Crier")
        page = network.search_posts(account, source.query or "", position)
    else:
        if not (network.info.inbox.kinds and isinstance(network, ReadsInbox)):
            raise NetworkError(f"Crier no longer reads {network.info.display_name} inboxes")
        page = network.read_inbox(account, position)
    if page.position is not None and len(page.position) > MAX_POSITION_LENGTH:
        raise ValueError(
            f"the adapter's position is {len(page.position)} characters, over {MAX_POSITION_LENGTH}"
        )
    return page


def _count(network: str, items: list[InboxItem]) -> None:
    by_kind: dict[InboxKind, int] = {}
    for item in items:
        by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
    for kind, count in by_kind.items():
        count_inbox_items(network, kind, count)


def _next_interval(services: Reading, source: ClaimedSource, result: ReadResult) -> int:
    """Half the interval after a read that brought items, half as long again after one that did not."""
    shortest = services.settings.inbox_read_min_seconds
    longest = max(services.settings.inbox_read_max_seconds, shortest)
    if result.stored:
        interval = source.interval_seconds // 2
    elif result.error is None and result.wait is None:
        interval = source.interval_seconds * 3 // 2
    else:
        interval = source.interval_seconds
    return min(max(interval, shortest), longest)


def _next_in(result: ReadResult, interval: int) -> timedelta:
    if result.wait is not None:
        return max(result.wait, timedelta(0))
    if result.more:
        return timedelta(0)
    if result.error is not None:
        # A failing network is not asked every minute: at the longest of its interval and five minutes.
        return max(timedelta(seconds=interval), timedelta(minutes=5))
    return timedelta(seconds=interval)
