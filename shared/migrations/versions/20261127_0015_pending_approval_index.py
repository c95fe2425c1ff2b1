"""An index for the scheduler's look, every tick, for posts whose time came before they were approved.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "stage = 'pending_approval'"


def upgrade() -> None:
    op.create_index(
        "ix_posts_pending_approval_scheduled_at",
        "posts",
        ["scheduled_at"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_posts_pending_approval_scheduled_at", table_name="posts")
