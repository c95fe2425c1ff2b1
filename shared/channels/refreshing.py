"""Renewing channels' access tokens before they expire, by one process at a time for each channel.

Networks whose access tokens expire (X after two hours, Threads and LinkedIn after sixty days) give a refresh
token to get the next one. Where that refresh token works once (X), two processes renewing at once lock the
channel out: the first gets a new pair, and the second's refresh, with the old token, is refused. So a
process takes the channel's renewal lease (a compare-and-set on the row) before it reads the refresh token,
and stores the new pair before it lets the lease go; another process that finds the lease taken waits for
it, then reads the credentials the first one stored.

A lease rather than a row lock held across the call: on SQLite a transaction holds the database's one write
lock, which would stop every other writer while the network answers. If a process dies after the network
renewed the token and before the new pair is stored, the new pair is lost with it; the lease runs out, the
next renewal is refused, and the channel asks for a person (needs_reauth) instead of failing silently.

The periodic job renews whatever expires within CRIER_CREDENTIALS_REFRESH_AHEAD_SECONDS; a network call
that finds its channel's token about to expire (the job did not run: the scheduler was down) renews it
first, through the same lease.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.channels.models import Channel, ChannelState
from shared.channels.services import account_of, ask_for_reconnection
from shared.db import affected_rows, utcnow
from shared.dependencies import HasCredentials, HasNetworks, HasSessions, HasSettings
from shared.networks.ports import Account, AuthExpired, NetworkError, RefreshesCredentials

log = logging.getLogger(__name__)

# Longer than any one network call may take (CRIER_NETWORK_CALL_DEADLINE_SECONDS is 30 s by default), so a
# lease never runs out while its holder is still waiting for the network's answer.
LEASE = timedelta(minutes=2)
# How often a process waiting for another's renewal looks whether it is done.
WAIT_STEP_SECONDS = 0.1
# A token this close to its end is renewed before a call uses it, whatever the periodic job did.
ABOUT_TO_EXPIRE = timedelta(minutes=1)


class Renewal(StrEnum):
    RENEWED = "renewed"
    NOT_DUE = "not_due"  # the credentials are good for longer than asked (perhaps just renewed by another)
    BUSY = "busy"  # another process holds the lease
    LATER = "later"  # the network could not be asked now; the next run tries again
    NEEDS_REAUTH = "needs_reauth"  # the network refused the refresh token: a person reconnects


class Refreshing(HasSessions, HasCredentials, Protocol):
    """What renewing one channel's credentials uses."""


class RefreshingAll(Refreshing, HasNetworks, HasSettings, Protocol):
    """What the periodic job uses: which networks renew, and how far ahead."""


def renew_credentials(
    services: Refreshing,
    network: RefreshesCredentials,
    channel_id: uuid.UUID,
    *,
    ahead: timedelta,
    now: datetime | None = None,
) -> Renewal:
    """Renew the channel's credentials on `network` (its adapter) if they expire within `ahead`, holding
    its lease from reading the refresh token until the new pair is stored."""
    now = now or utcnow()
    lease_until = now + LEASE
    with services.sessions.begin() as session:
        taken = session.execute(
            update(Channel)
            .where(
                Channel.id == channel_id,
                Channel.state == ChannelState.ACTIVE,
                or_(Channel.renewing_credentials_until.is_(None), Channel.renewing_credentials_until < now),
            )
            .values(renewing_credentials_until=lease_until)
        )
        if not affected_rows(taken):
            return Renewal.BUSY
        channel = session.get_one(Channel, channel_id)
        account, sealed = account_of(channel), channel.sealed_credentials
    try:
        credentials = services.credentials.open(sealed)
        expires_at = network.expires_at(credentials)
        if expires_at is None or expires_at > now + ahead:
            _release(services, channel_id, lease_until)
            return Renewal.NOT_DUE
        renewed = network.refresh_credentials(replace(account, credentials=credentials))
    except AuthExpired as error:
        log.warning("channel %s: the network refused to renew its credentials: %s", channel_id, error)
        with services.sessions.begin() as session:
            ask_for_reconnection(session, [channel_id])
            _release_in(session, channel_id, lease_until)
        return Renewal.NEEDS_REAUTH
    except NetworkError as error:
        log.warning("channel %s: its credentials could not be renewed now: %s", channel_id, error)
        _release(services, channel_id, lease_until)
        return Renewal.LATER
    except BaseException:
        _release(services, channel_id, lease_until)
        raise
    _store_and_release(services, channel_id, renewed)
    log.info("channel %s: credentials renewed", channel_id)
    return Renewal.RENEWED


def fresh_credentials(
    services: Refreshing, network: RefreshesCredentials, account: Account, sealed: bytes | None
) -> bytes | None:
    """The channel's sealed credentials, renewed first when they are about to expire.

    For a call about to be made with them. When another process is renewing them, waits for it (up to the
    lease) and takes what it stored. Credentials that cannot be renewed now are returned as they are: the
    call then meets the network's own answer (an expired token is AuthExpired, and a person is asked).
    """
    if not _about_to_expire(network, services.credentials.open(sealed), utcnow()):
        return sealed
    channel_id = uuid.UUID(account.channel_id)
    deadline = time.monotonic() + LEASE.total_seconds()
    while renew_credentials(services, network, channel_id, ahead=ABOUT_TO_EXPIRE) is Renewal.BUSY:
        if time.monotonic() > deadline:
            break
        time.sleep(WAIT_STEP_SECONDS)
    with services.sessions.begin() as session:
        return session.scalar(select(Channel.sealed_credentials).where(Channel.id == channel_id))


def renew_expiring_credentials(services: RefreshingAll, *, now: datetime | None = None) -> dict[Renewal, int]:
    """The periodic job: renew every active channel's credentials that expire soon; how each went."""
    now = now or utcnow()
    ahead = timedelta(seconds=services.settings.credentials_refresh_ahead_seconds)
    networks = services.networks
    renewing = [name for name in networks.names() if isinstance(networks.get(name), RefreshesCredentials)]
    if not renewing:
        return {}
    with services.sessions.begin() as session:
        channels = session.execute(
            select(Channel.id, Channel.network, Channel.sealed_credentials).where(
                Channel.network.in_(renewing), Channel.state == ChannelState.ACTIVE
            )
        ).all()
    counts: dict[Renewal, int] = {}
    for channel_id, network_name, sealed in channels:
        network = services.networks.get(network_name)
        assert isinstance(network, RefreshesCredentials)
        try:
            expires_at = network.expires_at(services.credentials.open(sealed))
        except AuthExpired:
            continue  # credentials no secret opens: publishing asks a person, as for any channel
        if expires_at is None or expires_at > now + ahead:
            continue
        outcome = renew_credentials(services, network, channel_id, ahead=ahead, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _about_to_expire(network: RefreshesCredentials, credentials: Mapping[str, Any], now: datetime) -> bool:
    expires_at = network.expires_at(credentials)
    return expires_at is not None and expires_at <= now + ABOUT_TO_EXPIRE


def _store_and_release(services: Refreshing, channel_id: uuid.UUID, renewed: Mapping[str, Any]) -> None:
    # Stored whoever holds the lease now: had ours run out meanwhile, these are still the credentials the
    # network issued last, and the only ones its next renewal will take.
    with services.sessions.begin() as session:
        session.execute(
            update(Channel)
            .where(Channel.id == channel_id)
            .values(sealed_credentials=services.credentials.seal(renewed), renewing_credentials_until=None)
        )


def _release(services: Refreshing, channel_id: uuid.UUID, lease_until: datetime) -> None:
    with services.sessions.begin() as session:
        _release_in(session, channel_id, lease_until)


def _release_in(session: Session, channel_id: uuid.UUID, lease_until: datetime) -> None:
    # Only our own lease: had it run out and another process taken the channel since, that one's stays.
    session.execute(
        update(Channel)
        .where(Channel.id == channel_id, Channel.renewing_credentials_until == lease_until)
        .values(renewing_credentials_until=None)
    )
