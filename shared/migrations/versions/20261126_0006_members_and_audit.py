"""Members with roles, tokens that belong to a member and carry a scope, and the audit log.

Every existing token becomes an admin-scoped token of one owner per workspace, so nothing that worked
before stops working.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 03:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.Enum("owner", "admin", "editor", "contributor", "viewer", name="role",
                                  native_enum=False, length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_members_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("workspace_id", "email", name=op.f("uq_members_workspace_id_email")),
    )
    op.create_index(op.f("ix_members_workspace_id"), "members", ["workspace_id"], unique=False)

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_audit_entries_member_id_members"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_audit_entries_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index(op.f("ix_audit_entries_workspace_id"), "audit_entries", ["workspace_id"], unique=False)
    op.create_index("ix_audit_entries_workspace_id_at", "audit_entries", ["workspace_id", "at"], unique=False)

    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("member_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("scope", sa.Enum("read", "write", "admin", name="scope", native_enum=False,
                                                     length=20), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))

    # One owner per workspace that has tokens; its tokens become theirs, with the admin scope.
    connection = op.get_bind()
    workspaces = connection.execute(
        sa.text("SELECT DISTINCT w.id, w.name FROM workspaces w JOIN api_tokens t ON t.workspace_id = w.id")
    ).all()
    members = sa.table(
        "members",
        sa.column("id", sa.Uuid()),
        sa.column("workspace_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("role", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    tokens = sa.table(
        "api_tokens", sa.column("workspace_id", sa.Uuid()), sa.column("member_id", sa.Uuid()),
        sa.column("scope", sa.String()),
    )
    for workspace_id, _name in workspaces:
        member_id = uuid.uuid4()
        connection.execute(members.insert().values(
            id=member_id, workspace_id=workspace_id, name="Owner", email="owner@localhost", role="owner",
            created_at=datetime.now(UTC),
        ))
        connection.execute(
            tokens.update().where(tokens.c.workspace_id == workspace_id).values(member_id=member_id, scope="admin")
        )

    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("member_id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("scope", existing_type=sa.String(length=20), nullable=False)
        batch.create_index(batch.f("ix_api_tokens_member_id"), ["member_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_api_tokens_member_id_members"), "members", ["member_id"], ["id"],
                                 ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(batch.f("fk_api_tokens_member_id_members"), type_="foreignkey")
        batch.drop_index(batch.f("ix_api_tokens_member_id"))
        batch.drop_column("last_used_at")
        batch.drop_column("scope")
        batch.drop_column("member_id")
    op.drop_index("ix_audit_entries_workspace_id_at", table_name="audit_entries")
    op.drop_index(op.f("ix_audit_entries_workspace_id"), table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_index(op.f("ix_members_workspace_id"), table_name="members")
    op.drop_table("members")
