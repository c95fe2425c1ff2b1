"""The engagement inbox: sources read, items read from them, and replies, notes, labels and actions on them.

A post may now answer another (posts.reply_to), for a reply made from the inbox.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("inbox", "search", name="sourcekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("query", sa.String(length=500), nullable=True),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("next_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_inbox_sources_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["members.id"],
            name=op.f("fk_inbox_sources_created_by_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_inbox_sources_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_sources")),
    )
    with op.batch_alter_table("inbox_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_sources_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index("ix_inbox_sources_next_read_at", ["next_read_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_sources_workspace_id"), ["workspace_id"], unique=False)
        batch_op.create_index(
            "uq_inbox_sources_channel_inbox",
            ["channel_id"],
            unique=True,
            postgresql_where=sa.text("kind = 'inbox'"),
            sqlite_where=sa.text("kind = 'inbox'"),
        )

    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "reply",
                "mention",
                "quote",
                "direct_message",
                "post",
                name="inboxkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=500), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("author_handle", sa.String(length=300), nullable=False),
        sa.Column("author_name", sa.String(length=300), nullable=True),
        sa.Column("author_avatar_url", sa.Text(), nullable=True),
        sa.Column("author_url", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("plain_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("in_reply_to", sa.String(length=500), nullable=True),
        sa.Column("quotes", sa.String(length=500), nullable=True),
        sa.Column("thread_root", sa.String(length=500), nullable=True),
        sa.Column(
            "reply_target",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum("open", "done", "spam", name="itemstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("unread", sa.Boolean(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["members.id"],
            name=op.f("fk_inbox_items_assignee_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_inbox_items_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_inbox_items_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_inbox_items_post_id_posts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["inbox_sources.id"],
            name=op.f("fk_inbox_items_source_id_inbox_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_inbox_items_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_items")),
        sa.UniqueConstraint("source_id", "external_id", name=op.f("uq_inbox_items_source_id_external_id")),
    )
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_items_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index("ix_inbox_items_channel_id_state", ["channel_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_items_post_id"), ["post_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_items_workspace_id"), ["workspace_id"], unique=False)
        batch_op.create_index(
            "ix_inbox_items_workspace_id_received_at", ["workspace_id", "received_at"], unique=False
        )

    op.create_table(
        "inbox_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind", sa.Enum("like", "hide", name="actionkind", native_enum=False, length=20), nullable=False
        ),
        sa.Column(
            "state",
            sa.Enum("pending", "done", "failed", name="actionstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inbox_items.id"],
            name=op.f("fk_inbox_actions_item_id_inbox_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["members.id"],
            name=op.f("fk_inbox_actions_requested_by_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_actions")),
        sa.UniqueConstraint("item_id", "kind", name=op.f("uq_inbox_actions_item_id_kind")),
    )
    with op.batch_alter_table("inbox_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_actions_pending",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )

    op.create_table(
        "inbox_item_labels",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inbox_items.id"],
            name=op.f("fk_inbox_item_labels_item_id_inbox_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "name", name=op.f("pk_inbox_item_labels")),
    )
    with op.batch_alter_table("inbox_item_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_item_labels_name"), ["name"], unique=False)

    op.create_table(
        "inbox_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["members.id"], name=op.f("fk_inbox_notes_author_id_members"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inbox_items.id"],
            name=op.f("fk_inbox_notes_item_id_inbox_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_notes")),
    )
    with op.batch_alter_table("inbox_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_notes_item_id"), ["item_id"], unique=False)

    op.create_table(
        "inbox_replies",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inbox_items.id"],
            name=op.f("fk_inbox_replies_item_id_inbox_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_inbox_replies_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_inbox_replies_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", "post_id", name=op.f("pk_inbox_replies")),
    )
    with op.batch_alter_table("inbox_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_replies_post_id"), ["post_id"], unique=False)

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reply_to",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("reply_to")

    with op.batch_alter_table("inbox_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_replies_post_id"))

    op.drop_table("inbox_replies")
    with op.batch_alter_table("inbox_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_notes_item_id"))

    op.drop_table("inbox_notes")
    with op.batch_alter_table("inbox_item_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_item_labels_name"))

    op.drop_table("inbox_item_labels")
    with op.batch_alter_table("inbox_actions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_inbox_actions_pending",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )

    op.drop_table("inbox_actions")
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_items_workspace_id_received_at")
        batch_op.drop_index(batch_op.f("ix_inbox_items_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_inbox_items_post_id"))
        batch_op.drop_index("ix_inbox_items_channel_id_state")
        batch_op.drop_index(batch_op.f("ix_inbox_items_assignee_id"))

    op.drop_table("inbox_items")
    with op.batch_alter_table("inbox_sources", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_inbox_sources_channel_inbox",
            postgresql_where=sa.text("kind = 'inbox'"),
            sqlite_where=sa.text("kind = 'inbox'"),
        )
        batch_op.drop_index(batch_op.f("ix_inbox_sources_workspace_id"))
        batch_op.drop_index("ix_inbox_sources_next_read_at")
        batch_op.drop_index(batch_op.f("ix_inbox_sources_channel_id"))

    op.drop_table("inbox_sources")
