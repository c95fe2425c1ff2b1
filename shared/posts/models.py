from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, created_timestamp, uuid_pk

if TYPE_CHECKING:
    from shared.deliveries.models import Delivery


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    scheduled_at: Mapped[datetime]
    created_at: Mapped[created_timestamp]

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="post", order_by="Delivery.created_at", lazy="selectin"
    )
