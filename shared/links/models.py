from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, created_timestamp, json_document, partial_index, utcnow, uuid_pk
from shared.workspaces.models import workspace_fk

WORKSPACE_DEFAULT_SQL = "channel_id IS NULL"


class LinkSettings(Base):
    """How links in posts are rewritten: a workspace's default (no channel), or one channel's override."""

    __tablename__ = "link_settings"
    __table_args__ = (
        # One default per workspace. A unique (workspace_id, channel_id) would not say it: PostgreSQL (short
        # of NULLS NOT DISTINCT, which SQLite lacks) and SQLite both hold NULLs distinct, so any number of
        # defaults would pass. A partial unique index means the same on both.
        partial_index(
            "uq_link_settings_workspace_default",
            "workspace_id",
            where=WORKSPACE_DEFAULT_SQL,
            unique=True,
        ),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    # None for the workspace's default. A channel is in one workspace, so one override per channel is one
    # per (workspace, channel); the NULLs of the defaults do not collide here either.
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), unique=True
    )
    shorten: Mapped[bool] = mapped_column(default=False)
    # {"utm_source": "crier", "utm_medium": "{network}", ...}: templates, see shared.links.services.
    utm: Mapped[json_document]
    created_at: Mapped[created_timestamp]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ShortLink(Base):
    """A link of Crier's own, `/l/<code>`, that counts its clicks and sends the reader to `target_url`."""

    __tablename__ = "short_links"
    # A retried delivery rewrites its text again and must get the same links back, not new ones. The
    # target's SHA-256 stands for the target: PostgreSQL refuses index entries over about 2.7 kB, and URLs
    # can be longer. Leading with delivery_id, it is also the index the per-delivery reads use.
    __table_args__ = (UniqueConstraint("delivery_id", "target_digest"),)

    id: Mapped[uuid_pk]
    code: Mapped[str] = mapped_column(String(16), unique=True)
    workspace_id: Mapped[workspace_fk]
    # A link belongs to one delivery, so its clicks are that delivery's. None for a link made for no
    # delivery (by hand, say), which counts its clicks alone.
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    # With the UTM parameters already applied.
    target_url: Mapped[str] = mapped_column(Text)
    target_digest: Mapped[str] = mapped_column(String(64))
    clicks: Mapped[int] = mapped_column(default=0)
    first_clicked_at: Mapped[datetime | None]
    last_clicked_at: Mapped[datetime | None]
    created_at: Mapped[created_timestamp]


class ShortLinkVisit(Base):
    """A client whose click on a short link was counted lately: another within the window is not counted.

    `visitor` is a digest of the client's address and user agent, never either of them; a row outlives its
    window only until the next click anywhere, which deletes the expired ones.
    """

    __tablename__ = "short_link_visits"

    short_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("short_links.id", ondelete="CASCADE"), primary_key=True
    )
    visitor: Mapped[str] = mapped_column(String(64), primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(index=True)
