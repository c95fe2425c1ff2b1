"""Engagement as Crier keeps it: raw samples, the latest values per delivery, hourly rollups, daily snapshots.

Normalized names everywhere: likes, reposts, replies, quotes, bookmarks, views (impressions) and clicks
(Crier's own short links). "Interactions" are all of them but views.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, json_document

COUNTS = ("likes", "reposts", "replies", "quotes", "bookmarks", "views", "clicks")
INTERACTIONS = ("likes", "reposts", "replies", "quotes", "bookmarks", "clicks")

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class PostCounts:
    """The columns of a post's counts, one per name in COUNTS: a sample's, or a delivery's latest."""

    likes: Mapped[int | None]
    reposts: Mapped[int | None]
    replies: Mapped[int | None]
    quotes: Mapped[int | None]
    bookmarks: Mapped[int | None]
    views: Mapped[int | None]
    clicks: Mapped[int | None]


class MetricSample(PostCounts, Base):
    """What a network said about one delivery at one moment. Append-only.

    Each count is nullable on its own: a network that lacks or retires a metric leaves that column empty
    without blanking the others. A post gone from the network is a sample with no counts and `raw.gone`.
    """

    __tablename__ = "metric_samples"
    __table_args__ = (
        Index("ix_metric_samples_delivery_id_collected_at", "delivery_id", "collected_at"),
        # For the retention sweep. BRIN on PostgreSQL: samples arrive in time order, so a block range index
        # of a few pages serves where a B-tree would grow with the table and slow every insert.
        Index("ix_metric_samples_collected_at", "collected_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    collected_at: Mapped[datetime]
    # The network's own answer, kept so a metric we do not map yet can be recovered later.
    raw: Mapped[json_document]


class DeliveryMetrics(PostCounts, Base):
    """The latest known value of each metric of one published delivery, updated by every collection.

    A metric a network stops reporting keeps its last known value here (the samples say when it went
    silent); a post deleted from the network keeps its counts and gets `deleted_at`.
    """

    __tablename__ = "delivery_metrics"
    __table_args__ = (
        # Posts published in a period, ranked: covering, so the top posts are read from the index alone.
        Index(
            "ix_delivery_metrics_workspace_id_published_at",
            "workspace_id",
            "published_at",
            "post_id",
            "interactions",
        ),
        Index("ix_delivery_metrics_channel_id_published_at", "channel_id", "published_at"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    # Copied from the delivery, its post and its channel, which never change once published: the
    # dashboard's queries read this table alone.
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    collected_at: Mapped[datetime | None]
    # The sum of the interaction counts known (views aside), kept for ranking.
    interactions: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[datetime | None]


class EngagementHour(Base):
    """What one channel's posts gained in one hour (UTC) of observation: the rollup dashboards read.

    Each collection adds the increase since the delivery's previous reading (its latest values) to the
    hour it was observed in, so a count is never added twice, however often it is read: the sum over any
    range of hours is what was gained in it, and the sum over all hours is the latest total. Hours, not
    days, so that a day in any timezone is a sum of whole hours. A column stays null while no delivery of
    the channel has reported that metric in the hour.
    """

    __tablename__ = "engagement_hours"
    __table_args__ = (
        Index("ix_engagement_hours_workspace_id_network_hour", "workspace_id", "network", "hour"),
        Index("ix_engagement_hours_workspace_id_hour", "workspace_id", "hour"),
    )

    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(64))
    likes: Mapped[int | None] = mapped_column(BigInteger)
    reposts: Mapped[int | None] = mapped_column(BigInteger)
    replies: Mapped[int | None] = mapped_column(BigInteger)
    quotes: Mapped[int | None] = mapped_column(BigInteger)
    bookmarks: Mapped[int | None] = mapped_column(BigInteger)
    views: Mapped[int | None] = mapped_column(BigInteger)
    clicks: Mapped[int | None] = mapped_column(BigInteger)


class ChannelSnapshot(Base):
    """A channel's own counts on one day (UTC), as its network gave them: at most one a day."""

    __tablename__ = "channel_snapshots"

    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    taken_at: Mapped[datetime]
    followers: Mapped[int | None]
    following: Mapped[int | None]
    posts: Mapped[int | None]
    raw: Mapped[json_document]


class ChannelCollection(Base):
    """How reading a channel's numbers went lately: shown by the API and the dashboard, not only logged.

    One row per channel that has been read, changed by every collection of its engagement or followers:
    when the last one succeeded, and the last error with when it happened and since when reads have been
    failing. A read Crier holds back for its own read limit is neither.
    """

    __tablename__ = "channel_collections"

    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    # Set by the first failure after a success, cleared by the next success: how long it has been broken.
    failing_since: Mapped[datetime | None]
