"""Who clicked a short link lately, so a click is counted once per client per window.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_link_visits",
        sa.Column("short_link_id", sa.Uuid(), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["short_link_id"],
            ["short_links.id"],
            name=op.f("fk_short_link_visits_short_link_id_short_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("short_link_id", "visitor", name=op.f("pk_short_link_visits")),
    )
    op.create_index(op.f("ix_short_link_visits_counted_at"), "short_link_visits", ["counted_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_short_link_visits_counted_at"), table_name="short_link_visits")
    op.drop_table("short_link_visits")
