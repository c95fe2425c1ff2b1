"""SQL views for BI tools (Grafana, Metabase, Superset): engagement by delivery, hour and day, and snapshots.

Documented column by column in docs/analytics.md; their names and columns are a public interface, so a
change to one is a new view (or a new column), never a renamed or removed one. Created on both backends.
SQLite checks views when a table is renamed, and Alembic's batch mode rebuilds a table by creating a copy
and renaming it: shared/migrations/env.py therefore runs migrations with SQLite's legacy_alter_table on,
so a later migration may rebuild a table these views read.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 08:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTERACTIONS = (
    "COALESCE({t}.likes, 0) + COALESCE({t}.reposts, 0) + COALESCE({t}.replies, 0) + COALESCE({t}.quotes, 0)"
    " + COALESCE({t}.bookmarks, 0) + COALESCE({t}.clicks, 0)"
)

DELIVERY_METRICS = """
CREATE VIEW crier_delivery_metrics AS
SELECT m.delivery_id, m.post_id, m.workspace_id, w.name AS workspace_name,
    m.channel_id, c.name AS channel_name, m.network, d.external_url, m.published_at,
    m.collected_at, m.likes, m.reposts, m.replies, m.quotes, m.bookmarks, m.views, m.clicks,
    m.interactions, m.deleted_at, d.metrics_collections AS collections, d.metrics_due_at AS next_collection_at
FROM delivery_metrics m
JOIN deliveries d ON d.id = m.delivery_id
JOIN channels c ON c.id = m.channel_id
JOIN workspaces w ON w.id = m.workspace_id
"""

HOURLY_ENGAGEMENT = f"""
CREATE VIEW crier_hourly_engagement AS
SELECT h.workspace_id, w.name AS workspace_name, h.channel_id, c.name AS channel_name, h.network, h.hour,
    h.likes, h.reposts, h.replies, h.quotes, h.bookmarks, h.views, h.clicks,
    {INTERACTIONS.format(t="h")} AS interactions
FROM engagement_hours h
JOIN channels c ON c.id = h.channel_id
JOIN workspaces w ON w.id = h.workspace_id
"""

# The UTC day of an hour: PostgreSQL stores timestamptz, SQLite the UTC time as text.
UTC_DAY = {"postgresql": "CAST(h.hour AT TIME ZONE 'UTC' AS date)", "sqlite": "date(h.hour)"}

DAILY_ENGAGEMENT = """
CREATE VIEW crier_daily_engagement AS
SELECT h.workspace_id, w.name AS workspace_name, h.channel_id, c.name AS channel_name, h.network,
    {day} AS day,
    SUM(h.likes) AS likes, SUM(h.reposts) AS reposts, SUM(h.replies) AS replies, SUM(h.quotes) AS quotes,
    SUM(h.bookmarks) AS bookmarks, SUM(h.views) AS views, SUM(h.clicks) AS clicks,
    SUM({interactions}) AS interactions
FROM engagement_hours h
JOIN channels c ON c.id = h.channel_id
JOIN workspaces w ON w.id = h.workspace_id
GROUP BY h.workspace_id, w.name, h.channel_id, c.name, h.network, {day}
"""

CHANNEL_SNAPSHOTS = """
CREATE VIEW crier_channel_snapshots AS
SELECT c.workspace_id, w.name AS workspace_name, s.channel_id, c.name AS channel_name, c.network, s.day,
    s.followers, s.following, s.posts, s.taken_at
FROM channel_snapshots s
JOIN channels c ON c.id = s.channel_id
JOIN workspaces w ON w.id = c.workspace_id
"""

VIEWS = ("crier_channel_snapshots", "crier_daily_engagement", "crier_hourly_engagement", "crier_delivery_metrics")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(DELIVERY_METRICS)
    op.execute(HOURLY_ENGAGEMENT)
    op.execute(DAILY_ENGAGEMENT.format(day=UTC_DAY[dialect], interactions=INTERACTIONS.format(t="h")))
    op.execute(CHANNEL_SNAPSHOTS)


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW {view}")
