"""Deleting and editing published posts through Crier: each change applied exactly once, like a post.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "state IN ('waiting', 'applying', 'unknown')"


def upgrade() -> None:
    op.create_table(
        "delivery_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum("delete", "edit", name="changekind", native_enum=False, length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "waiting",
                "applying",
                "unknown",
                "done",
                "failed",
                "needs_review",
                name="changestate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("uncertain_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_changes_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_changes")),
    )
    op.create_index(op.f("ix_delivery_changes_delivery_id"), "delivery_changes", ["delivery_id"], unique=False)
    op.create_index(
        "ix_delivery_changes_active_due_at",
        "delivery_changes",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_index(
        "uq_delivery_changes_one_active",
        "delivery_changes",
        ["delivery_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_delivery_changes_one_active", table_name="delivery_changes")
    op.drop_index("ix_delivery_changes_active_due_at", table_name="delivery_changes")
    op.drop_index(op.f("ix_delivery_changes_delivery_id"), table_name="delivery_changes")
    op.drop_table("delivery_changes")
