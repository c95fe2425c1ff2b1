"""Engagement storage: bookmarks, each delivery's collection schedule, latest values, hourly rollups, snapshots.

Deliveries published within the last 30 days (the window the old collector read) join the new schedule:
the collector reads each at its next step. Each delivery's latest values start from its newest sample, so
later readings add only what was gained since; rollups start empty (the samples keep the earlier history).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
METRICS_RUNNING = sa.text("metrics_due_at IS NOT NULL")
COUNTS = ("likes", "reposts", "replies", "quotes", "bookmarks", "views", "clicks")
LATEST_FROM_SAMPLES = sa.text(
    """
    INSERT INTO delivery_metrics (delivery_id, workspace_id, post_id, channel_id, network, published_at,
        collected_at, likes, reposts, replies, quotes, views, clicks, interactions)
    SELECT d.id, p.workspace_id, d.post_id, d.channel_id, c.network, d.published_at,
        s.collected_at, s.likes, s.reposts, s.replies, s.quotes, s.views, s.clicks,
        COALESCE(s.likes, 0) + COALESCE(s.reposts, 0) + COALESCE(s.replies, 0) + COALESCE(s.quotes, 0)
            + COALESCE(s.clicks, 0)
    FROM metric_samples s
    JOIN deliveries d ON d.id = s.delivery_id
    JOIN posts p ON p.id = d.post_id
    JOIN channels c ON c.id = d.channel_id
    WHERE d.published_at IS NOT NULL AND s.id IN (
        SELECT max(id) FROM metric_samples
        WHERE likes IS NOT NULL OR reposts IS NOT NULL OR replies IS NOT NULL OR quotes IS NOT NULL
            OR views IS NOT NULL OR clicks IS NOT NULL
        GROUP BY delivery_id
    )
    """
)


def upgrade() -> None:
    with op.batch_alter_table("metric_samples") as batch:
        batch.add_column(sa.Column("bookmarks", sa.Integer(), nullable=True))
    op.create_index(
        "ix_metric_samples_collected_at", "metric_samples", ["collected_at"], postgresql_using="brin"
    )

    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("metrics_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("metrics_collections", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("metrics_collections", server_default=None)
    op.create_index(
        "ix_deliveries_metrics_due_at",
        "deliveries",
        ["metrics_due_at"],
        postgresql_where=METRICS_RUNNING,
        sqlite_where=METRICS_RUNNING,
    )
    deliveries = sa.table(
        "deliveries",
        sa.column("state", sa.String()),
        sa.column("external_id", sa.String()),
        sa.column("published_at", sa.DateTime(timezone=True)),
        sa.column("metrics_due_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        deliveries.update()
        .where(
            deliveries.c.state == "published",
            deliveries.c.external_id.is_not(None),
            deliveries.c.published_at >= sa.func.current_timestamp() - sa.text("INTERVAL '30 days'")
            if op.get_bind().dialect.name == "postgresql"
            else deliveries.c.published_at >= sa.func.datetime("now", "-30 days"),
        )
        .values(metrics_due_at=deliveries.c.published_at)
    )

    op.create_table(
        "delivery_metrics",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in COUNTS),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_metrics_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_delivery_metrics_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_delivery_metrics_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_delivery_metrics_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery_metrics")),
    )
    op.create_index(
        "ix_delivery_metrics_workspace_id_published_at",
        "delivery_metrics",
        ["workspace_id", "published_at", "post_id", "interactions"],
    )
    op.create_index(
        "ix_delivery_metrics_channel_id_published_at", "delivery_metrics", ["channel_id", "published_at"]
    )
    op.create_index(op.f("ix_delivery_metrics_post_id"), "delivery_metrics", ["post_id"])
    op.execute(LATEST_FROM_SAMPLES)

    op.create_table(
        "engagement_hours",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in COUNTS),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_engagement_hours_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_engagement_hours_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", "hour", name=op.f("pk_engagement_hours")),
    )
    op.create_index(
        "ix_engagement_hours_workspace_id_network_hour",
        "engagement_hours",
        ["workspace_id", "network", "hour"],
    )
    op.create_index("ix_engagement_hours_workspace_id_hour", "engagement_hours", ["workspace_id", "hour"])

    op.create_table(
        "channel_snapshots",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("following", sa.Integer(), nullable=True),
        sa.Column("posts", sa.Integer(), nullable=True),
        sa.Column("raw", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_snapshots_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", "day", name=op.f("pk_channel_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("channel_snapshots")
    op.drop_index("ix_engagement_hours_workspace_id_hour", table_name="engagement_hours")
    op.drop_index("ix_engagement_hours_workspace_id_network_hour", table_name="engagement_hours")
    op.drop_table("engagement_hours")
    op.drop_index(op.f("ix_delivery_metrics_post_id"), table_name="delivery_metrics")
    op.drop_index("ix_delivery_metrics_channel_id_published_at", table_name="delivery_metrics")
    op.drop_index("ix_delivery_metrics_workspace_id_published_at", table_name="delivery_metrics")
    op.drop_table("delivery_metrics")
    op.drop_index("ix_deliveries_metrics_due_at", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("metrics_collections")
        batch.drop_column("metrics_due_at")
    op.drop_index("ix_metric_samples_collected_at", table_name="metric_samples")
    with op.batch_alter_table("metric_samples") as batch:
        batch.drop_column("bookmarks")
