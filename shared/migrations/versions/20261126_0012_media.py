"""The media library: uploaded images and videos, and the media ids posts and their variants attach.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "media_assets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("alt_text", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_media_assets_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["members.id"],
            name=op.f("fk_media_assets_uploaded_by_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_assets")),
    )
    op.create_index(op.f("ix_media_assets_workspace_id"), "media_assets", ["workspace_id"], unique=False)
    op.create_index(op.f("ix_media_assets_storage_key"), "media_assets", ["storage_key"], unique=False)
    op.create_index(
        "ix_media_assets_workspace_id_created_at",
        "media_assets",
        ["workspace_id", "created_at"],
        unique=False,
    )
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("media", JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("posts") as batch:
        batch.alter_column("media", server_default=None)
    with op.batch_alter_table("post_targets") as batch:
        batch.add_column(sa.Column("media", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_targets") as batch:
        batch.drop_column("media")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("media")
    op.drop_index("ix_media_assets_workspace_id_created_at", table_name="media_assets")
    op.drop_index(op.f("ix_media_assets_storage_key"), table_name="media_assets")
    op.drop_index(op.f("ix_media_assets_workspace_id"), table_name="media_assets")
    op.drop_table("media_assets")
