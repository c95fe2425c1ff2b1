from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, created_timestamp, enum_column, json_document, uuid_pk
from shared.workspaces.models import workspace_fk

if TYPE_CHECKING:
    from shared.metrics.models import ChannelCollection


class ChannelState(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    PAUSED = "paused"  # kept, but nothing is published on it until it is resumed
    DISCONNECTED = "disconnected"  # its credentials are gone; its history stays


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    network: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # The account as the network names it (a handle, a page id, a webhook's label).
    handle: Mapped[str] = mapped_column(String(200))
    # Non-secret, network-specific options, checked by the network's adapter.
    settings: Mapped[json_document]
    # Tokens, passwords, webhook URLs: sealed by shared.credentials, never returned by the API.
    sealed_credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[ChannelState] = mapped_column(
        enum_column(ChannelState),
        default=ChannelState.ACTIVE,
    )
    # The zone the channel's posting slots are in: 09:00 is 09:00 there, summer and winter.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Weekday posting slots for the queue, as shared.channels.slots.PostingSchedule documents them.
    posting_schedule: Mapped[json_document]
    created_at: Mapped[created_timestamp]
    # While one process renews the channel's access token, until when the others leave it alone: a refresh
    # token that works once (X's) used by two processes at once would lock the channel out.
    renewing_credentials_until: Mapped[datetime | None]

    # How reading its numbers went lately; written by shared.metrics alone, read here to be shown.
    collection: Mapped[ChannelCollection | None] = relationship(viewonly=True, lazy="selectin")
