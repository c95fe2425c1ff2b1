from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, created_timestamp, uuid_pk
from shared.deliveries.models import DeliveryState
from shared.workspaces.models import workspace_fk

if TYPE_CHECKING:
    from shared.deliveries.models import Delivery


class PostState(StrEnum):
    """A post's state as a reader sees it, derived from its deliveries."""

    SCHEDULED = "scheduled"  # some delivery has not gone out yet
    NEEDS_ATTENTION = "needs_attention"  # a delivery's outcome is uncertain: a person must look
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"  # nothing went out: failed or missed
    CANCELLED = "cancelled"


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    text: Mapped[str] = mapped_column(Text)
    scheduled_at: Mapped[datetime]
    created_at: Mapped[created_timestamp]

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="post", order_by="Delivery.created_at", lazy="selectin"
    )

    @property
    def state(self) -> PostState:
        states = {delivery.state for delivery in self.deliveries}
        if states & {DeliveryState.NEEDS_REVIEW}:
            return PostState.NEEDS_ATTENTION
        if states & DeliveryState.in_progress():
            return PostState.SCHEDULED
        if states == {DeliveryState.PUBLISHED}:
            return PostState.PUBLISHED
        if DeliveryState.PUBLISHED in states:
            return PostState.PARTIALLY_PUBLISHED
        if states == {DeliveryState.CANCELLED}:
            return PostState.CANCELLED
        return PostState.FAILED
