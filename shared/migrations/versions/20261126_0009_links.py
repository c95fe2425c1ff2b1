"""Links: UTM presets per workspace or channel, and short links that count clicks per delivery.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKSPACE_DEFAULT = sa.text("channel_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "link_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=True),
        sa.Column("shorten", sa.Boolean(), nullable=False),
        sa.Column("utm", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], name=op.f("fk_link_settings_channel_id_channels"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_link_settings_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_settings")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_link_settings_channel_id")),
    )
    op.create_index(op.f("ix_link_settings_workspace_id"), "link_settings", ["workspace_id"], unique=False)
    op.create_index("uq_link_settings_workspace_default", "link_settings", ["workspace_id"], unique=True,
                    postgresql_where=WORKSPACE_DEFAULT, sqlite_where=WORKSPACE_DEFAULT)

    op.create_table(
        "short_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("target_digest", sa.String(length=64), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("first_clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], name=op.f("fk_short_links_delivery_id_deliveries"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_short_links_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_short_links")),
        sa.UniqueConstraint("code", name=op.f("uq_short_links_code")),
        sa.UniqueConstraint("delivery_id", "target_digest", name=op.f("uq_short_links_delivery_id_target_digest")),
    )
    op.create_index(op.f("ix_short_links_workspace_id"), "short_links", ["workspace_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_short_links_workspace_id"), table_name="short_links")
    op.drop_table("short_links")
    op.drop_index("uq_link_settings_workspace_default", table_name="link_settings")
    op.drop_index(op.f("ix_link_settings_workspace_id"), table_name="link_settings")
    op.drop_table("link_settings")
