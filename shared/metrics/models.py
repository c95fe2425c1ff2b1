from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, json_document


class MetricSample(Base):
    """What a network said about one delivery at one moment. Append-only.

    Each count is nullable on its own: a network that lacks or retires a metric leaves that column empty
    without blanking the others.
    """

    __tablename__ = "metric_samples"
    __table_args__ = (Index("ix_metric_samples_delivery_id_collected_at", "delivery_id", "collected_at"),)

    # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    collected_at: Mapped[datetime]
    likes: Mapped[int | None]
    reposts: Mapped[int | None]
    replies: Mapped[int | None]
    quotes: Mapped[int | None]
    views: Mapped[int | None]
    clicks: Mapped[int | None]
    # The network's own answer, kept so a metric we do not map yet can be recovered later.
    raw: Mapped[json_document]
