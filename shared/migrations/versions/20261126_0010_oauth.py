"""Authorizations waiting for a person to approve Crier on a network (OAuth 2 with state and PKCE).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_authorizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("channel_name", sa.String(length=200), nullable=False),
        sa.Column("settings", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=True),
        sa.Column("sealed_secrets", sa.LargeBinary(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_pending_authorizations_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_pending_authorizations_member_id_members"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"],
                                name=op.f("fk_pending_authorizations_channel_id_channels"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_authorizations")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_pending_authorizations_state_hash")),
    )
    op.create_index(op.f("ix_pending_authorizations_workspace_id"), "pending_authorizations", ["workspace_id"],
                    unique=False)
    op.create_index(op.f("ix_pending_authorizations_member_id"), "pending_authorizations", ["member_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_authorizations_member_id"), table_name="pending_authorizations")
    op.drop_index(op.f("ix_pending_authorizations_workspace_id"), table_name="pending_authorizations")
    op.drop_table("pending_authorizations")
