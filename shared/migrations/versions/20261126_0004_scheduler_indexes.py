"""Scheduler indexes: partial indexes over waiting deliveries, and one for the lease sweeps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("state IN ('scheduled', 'retry_wait')")


def upgrade() -> None:
    op.drop_index("ix_deliveries_state_due_at", table_name="deliveries")
    op.create_index(
        "ix_deliveries_waiting_due_at",
        "deliveries",
        ["due_at"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index(
        "ix_deliveries_waiting_scheduled_at",
        "deliveries",
        ["scheduled_at"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index("ix_deliveries_state_lease_expires_at", "deliveries", ["state", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_state_lease_expires_at", table_name="deliveries")
    op.drop_index("ix_deliveries_waiting_scheduled_at", table_name="deliveries")
    op.drop_index("ix_deliveries_waiting_due_at", table_name="deliveries")
    op.create_index("ix_deliveries_state_due_at", "deliveries", ["state", "due_at"])
