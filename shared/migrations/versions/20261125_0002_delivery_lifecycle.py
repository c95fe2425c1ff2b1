"""Delivery lifecycle: the time a delivery is meant for, and its transient-failure count.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:44:17.321849
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added nullable, filled from what existing rows know, then made required: existing deliveries keep
    # their time and start with no failures.
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=True))
    op.execute("UPDATE deliveries SET scheduled_at = due_at, failures = 0")
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("scheduled_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("failures", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("failures")
        batch.drop_column("scheduled_at")
