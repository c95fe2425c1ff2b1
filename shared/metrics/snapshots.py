"""A channel's own counts (followers, follows, posts), one snapshot a day: which are due, keeping them,
and reading them back."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.channels.services import account_of, get_channel
from shared.db import insert_on_conflict
from shared.metrics.models import ChannelSnapshot
from shared.metrics.services import UNREADABLE
from shared.networks.ports import Account, Audience


@dataclass(frozen=True)
class SnapshotJob:
    """A channel whose counts for the day are still to be read."""

    network: str
    account: Account
    sealed_credentials: bytes | None = field(default=None, repr=False)

    @property
    def channel_id(self) -> uuid.UUID:
        return uuid.UUID(self.account.channel_id)


def channels_to_snapshot(session: Session, *, day: date, networks: Collection[str]) -> list[SnapshotJob]:
    """Readable channels on these networks with no snapshot for `day` yet."""
    taken = exists().where(ChannelSnapshot.channel_id == Channel.id, ChannelSnapshot.day == day)
    query = (
        select(Channel)
        .where(Channel.network.in_(networks), Channel.state.not_in(UNREADABLE), ~taken)
        .order_by(Channel.id)
    )
    return [
        SnapshotJob(channel.network, account_of(channel), channel.sealed_credentials)
        for channel in session.scalars(query)
    ]


def record_snapshot(session: Session, channel_id: uuid.UUID, audience: Audience, *, now: datetime) -> bool:
    """Keep a channel's counts for today, unless today's are kept already. True if this one was stored."""
    stored = session.execute(
        insert_on_conflict(session, ChannelSnapshot)
        .values(
            channel_id=channel_id,
            day=now.date(),
            taken_at=now,
            followers=audience.followers,
            following=audience.following,
            posts=audience.posts,
            raw=dict(audience.raw),
        )
        .on_conflict_do_nothing()
        .returning(ChannelSnapshot.channel_id)
    )
    return stored.first() is not None


def channel_snapshots(
    session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID, *, first_day: date, last_day: date
) -> list[ChannelSnapshot]:
    """A channel's daily counts from first_day through last_day, oldest first."""
    get_channel(session, workspace_id, channel_id)
    query = (
        select(ChannelSnapshot)
        .where(
            ChannelSnapshot.channel_id == channel_id,
            ChannelSnapshot.day >= first_day,
            ChannelSnapshot.day <= last_day,
        )
        .order_by(ChannelSnapshot.day)
    )
    return list(session.scalars(query))
