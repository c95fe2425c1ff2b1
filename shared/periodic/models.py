from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class PeriodicRun(Base):
    """The next time one periodic task is due. Replicas take a run by moving next_run_at forward."""

    __tablename__ = "periodic_runs"

    task_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_run_at: Mapped[datetime]
