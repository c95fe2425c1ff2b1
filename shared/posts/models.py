from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, created_timestamp, uuid_pk
from shared.workspaces.models import workspace_fk

if TYPE_CHECKING:
    from shared.deliveries.models import Delivery


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
