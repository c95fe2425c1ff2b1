"""Posts get a workflow (draft, approval), a timezone, a timing (exact, queue, recurrence), per-channel
targets with variants, labels and a version for optimistic concurrency; channels get a timezone and
posting slots; a delivery is per channel and per occurrence.

Existing posts become scheduled posts at an exact UTC time, targeting the channels they have deliveries on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_idempotency_keys_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_idempotency_keys_workspace_id_key")),
    )
    op.create_index(op.f("ix_idempotency_keys_workspace_id"), "idempotency_keys", ["workspace_id"])
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])
    op.create_table(
        "post_labels",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_post_labels_post_id_posts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "name", name=op.f("pk_post_labels")),
    )
    op.create_index(op.f("ix_post_labels_name"), "post_labels", ["name"], unique=False)
    op.create_table(
        "post_targets",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("thread", JSON, nullable=True),
        sa.Column("options", JSON, nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], name=op.f("fk_post_targets_channel_id_channels"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_post_targets_post_id_posts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "channel_id", name=op.f("pk_post_targets")),
    )
    op.create_index(op.f("ix_post_targets_channel_id"), "post_targets", ["channel_id"], unique=False)

    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC"))
        batch.add_column(sa.Column("posting_schedule", JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("channels") as batch:
        batch.alter_column("timezone", server_default=None)
        batch.alter_column("posting_schedule", server_default=None)

    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("occurrence", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_deliveries_post_id_channel_id", type_="unique")
        batch.create_unique_constraint(
            "uq_deliveries_post_id_channel_id_occurrence", ["post_id", "channel_id", "occurrence"]
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("occurrence", server_default=None)

    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("author_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("thread", JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("stage", sa.Enum("draft", "pending_approval", "rejected", "expired",
                                                    "cancelled", "scheduled", name="poststage",
                                                    native_enum=False, length=20),
                                   nullable=False, server_default="scheduled"))
        batch.add_column(sa.Column("timing", sa.Enum("at", "queue", "recurrence", name="timing",
                                                     native_enum=False, length=20),
                                   nullable=False, server_default="at"))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC"))
        batch.add_column(sa.Column("recurrence_rule", sa.Text(), nullable=True))
        batch.add_column(sa.Column("next_occurrence_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("occurrences_created", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("scheduled_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.create_foreign_key(op.f("fk_posts_author_id_members"), "members", ["author_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_foreign_key(op.f("fk_posts_reviewed_by_members"), "members", ["reviewed_by"], ["id"],
                                 ondelete="SET NULL")
    op.execute("UPDATE posts SET updated_at = created_at")
    op.execute(
        "INSERT INTO post_targets (post_id, channel_id, position, options) "
        "SELECT post_id, channel_id, 0, '{}' FROM deliveries"
    )
    with op.batch_alter_table("posts") as batch:
        batch.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        for column in ("thread", "stage", "timing", "timezone", "occurrences_created", "version"):
            batch.alter_column(column, server_default=None)
    op.create_index("ix_posts_next_occurrence_at", "posts", ["next_occurrence_at"], unique=False,
                    postgresql_where=sa.text("next_occurrence_at IS NOT NULL"),
                    sqlite_where=sa.text("next_occurrence_at IS NOT NULL"))
    op.create_index("ix_posts_workspace_id_created_at", "posts", ["workspace_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_posts_workspace_id_created_at", table_name="posts")
    op.drop_index("ix_posts_next_occurrence_at", table_name="posts")
    # Posts without a time (drafts) cannot be kept by the older schema.
    op.execute("DELETE FROM posts WHERE scheduled_at IS NULL")
    with op.batch_alter_table("posts") as batch:
        batch.drop_constraint(op.f("fk_posts_reviewed_by_members"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_posts_author_id_members"), type_="foreignkey")
        batch.alter_column("scheduled_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        for column in ("updated_at", "version", "reviewed_at", "reviewed_by", "review_comment",
                       "occurrences_created", "next_occurrence_at", "recurrence_rule", "timezone", "timing",
                       "stage", "thread", "author_id"):
            batch.drop_column(column)
    # Only the first occurrence of a recurring post fits the older one-delivery-per-channel rule.
    op.execute("DELETE FROM deliveries WHERE occurrence > 0")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_post_id_channel_id_occurrence", type_="unique")
        batch.create_unique_constraint("uq_deliveries_post_id_channel_id", ["post_id", "channel_id"])
        batch.drop_column("occurrence")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("posting_schedule")
        batch.drop_column("timezone")
    op.drop_index(op.f("ix_post_targets_channel_id"), table_name="post_targets")
    op.drop_table("post_targets")
    op.drop_index(op.f("ix_post_labels_name"), table_name="post_labels")
    op.drop_table("post_labels")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_index(op.f("ix_idempotency_keys_workspace_id"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
