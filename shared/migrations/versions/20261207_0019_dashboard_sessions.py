"""Dashboard sessions kept on the server: signing out ends them, and a member lists and ends their own.

And the webhook URLs the audit log kept whole until now are cut to their host, as it keeps new ones: a
webhook's URL is often its receiver's credential (shared.masking).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEBHOOK_ACTIONS = ("webhook.created", "webhook.updated", "webhook.deleted")


def upgrade() -> None:
    # Browsers signed in before this keep a cookie naming a token, which no session row matches: they
    # sign in once more.
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_dashboard_sessions_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_dashboard_sessions_token_id_api_tokens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_dashboard_sessions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_dashboard_sessions_secret_hash")),
    )
    op.create_index(op.f("ix_dashboard_sessions_member_id"), "dashboard_sessions", ["member_id"], unique=False)
    op.create_index(op.f("ix_dashboard_sessions_token_id"), "dashboard_sessions", ["token_id"], unique=False)
    op.create_index(op.f("ix_dashboard_sessions_workspace_id"), "dashboard_sessions", ["workspace_id"], unique=False)

    audit_entries = sa.table(
        "audit_entries",
        sa.column("id", sa.Uuid()),
        sa.column("action", sa.String()),
        sa.column("detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")),
    )
    connection = op.get_bind()
    logged = connection.execute(
        sa.select(audit_entries.c.id, audit_entries.c.detail).where(audit_entries.c.action.in_(WEBHOOK_ACTIONS))
    ).all()
    for entry_id, detail in logged:
        if isinstance(detail, dict) and isinstance(detail.get("url"), str):
            masked = {**detail, "url": _host_only(detail["url"])}
            if masked != detail:
                connection.execute(
                    audit_entries.update().where(audit_entries.c.id == entry_id).values(detail=masked)
                )


def downgrade() -> None:
    op.drop_index(op.f("ix_dashboard_sessions_workspace_id"), table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_token_id"), table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_member_id"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")


def _host_only(url: str) -> str:
    """The URL's scheme and host, with … for the rest, as shared.masking.masked_url writes it today."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "…"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "…"
    origin = f"{parts.scheme.lower()}://{f'[{host}]' if ':' in host else host}{f':{port}' if port else ''}"
    hides_something = parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
    return f"{origin}/…" if hides_something else origin
