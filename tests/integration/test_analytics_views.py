"""The SQL views BI tools read: their columns as docs/analytics.md lists them, and what they add up to."""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from shared.bootstrap import Services
from shared.db import create_db_engine, utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.models import ChannelSnapshot, DeliveryMetrics, EngagementHour
from shared.migrations import MIGRATIONS_DIR, alembic_config, upgrade
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.factories import make_channel, make_post, make_workspace

DOCS = Path(__file__).parents[2] / "docs" / "analytics.md"
VIEWS = (
    "crier_delivery_metrics",
    "crier_hourly_engagement",
    "crier_daily_engagement",
    "crier_channel_snapshots",
)


def documented_columns(view: str) -> list[str]:
    """The columns docs/analytics.md lists under the view's heading, in order."""
    section = DOCS.read_text().split(f"### `{view}`", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_has_exactly_the_columns_the_documentation_lists(services: Services, view: str) -> None:
    with services.engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT * FROM {view} WHERE 1 = 0"))  # noqa: S608 (a constant)
        assert list(result.keys()) == documented_columns(view)


def test_the_views_show_the_latest_values_and_add_hours_up_into_utc_days(services: Services) -> None:
    workspace, _ = make_workspace(services, "Views")
    channel = make_channel(services, workspace, "Viewed")
    post = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(days=1))
    published_at = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with services.sessions.begin() as session:
        delivery = session.get_one(Delivery, post.deliveries[0].id)
        delivery.state, delivery.published_at, delivery.external_url = (
            DeliveryState.PUBLISHED,
            published_at,
            "https://sandbox.invalid/@viewed/1",
        )
        session.add(
            DeliveryMetrics(
                delivery_id=delivery.id,
                workspace_id=workspace.id,
                post_id=post.id,
                channel_id=channel.id,
                network="sandbox",
                published_at=published_at,
                collected_at=published_at + timedelta(hours=1),
                likes=4,
                views=100,
                interactions=4,
            )
        )
        for hour, likes in (
            (datetime(2026, 5, 4, 22, tzinfo=UTC), 1),
            (datetime(2026, 5, 4, 23, tzinfo=UTC), 2),
        ):
            session.add(
                EngagementHour(
                    channel_id=channel.id,
                    hour=hour,
                    workspace_id=workspace.id,
                    network="sandbox",
                    likes=likes,
                )
            )
        session.add(
            EngagementHour(
                channel_id=channel.id,
                hour=datetime(2026, 5, 5, tzinfo=UTC),
                workspace_id=workspace.id,
                network="sandbox",
                likes=8,
                clicks=1,
            )
        )
        session.add(
            ChannelSnapshot(
                channel_id=channel.id, day=date(2026, 5, 4), taken_at=published_at, followers=70, raw={}
            )
        )

    with services.engine.connect() as connection:
        delivery_row = connection.execute(sa.text("SELECT * FROM crier_delivery_metrics")).mappings().one()
        days = connection.execute(
            sa.text("SELECT day, likes, clicks, interactions FROM crier_daily_engagement ORDER BY day")
        ).all()
        snapshot = connection.execute(sa.text("SELECT * FROM crier_channel_snapshots")).mappings().one()

    assert (delivery_row["workspace_name"], delivery_row["channel_name"], delivery_row["likes"]) == (
        "Views",
        "Viewed",
        4,
    )
    assert (delivery_row["views"], delivery_row["replies"], delivery_row["interactions"]) == (100, None, 4)
    assert delivery_row["external_url"] == "https://sandbox.invalid/@viewed/1"
    assert [(str(day), likes, clicks, interactions) for day, likes, clicks, interactions in days] == [
        ("2026-05-04", 3, None, 3),
        ("2026-05-05", 8, 1, 9),
    ]
    assert (snapshot["channel_name"], snapshot["network"], snapshot["followers"]) == ("Viewed", "sandbox", 70)


@pytest.fixture
def fresh_engine(backend: str, tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'fresh.db'}" if backend == "sqlite" else create_postgres_database()
    engine = create_db_engine(url)
    yield engine
    engine.dispose()
    if backend == "postgresql":
        drop_postgres_database(url)


def test_a_later_migration_may_rebuild_a_table_the_views_read(
    fresh_engine: sa.Engine, tmp_path: Path
) -> None:
    # On SQLite a batch migration copies the table and renames the copy into place, which SQLite refuses
    # while a view names the table, unless migrations run with legacy_alter_table (shared/migrations/env.py).
    upgrade(fresh_engine)
    config = alembic_config(fresh_engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    later = tmp_path / "versions"
    later.mkdir()
    (later / "later_rebuilds_deliveries.py").write_text(
        textwrap.dedent(
            f'''
            """A later migration of someone's that rebuilds the deliveries table."""
            import sqlalchemy as sa
            from alembic import op

            revision = "later"
            down_revision = "{head}"
            branch_labels = None
            depends_on = None


            def rebuild() -> str:
                # PostgreSQL alters in place; SQLite, told to, copies the table as it must for most changes.
                return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


            def upgrade() -> None:
                with op.batch_alter_table("deliveries", recreate=rebuild()) as batch:
                    batch.add_column(sa.Column("note", sa.Text(), nullable=True))


            def downgrade() -> None:
                with op.batch_alter_table("deliveries", recreate=rebuild()) as batch:
                    batch.drop_column("note")
            '''
        )
    )
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join([str(MIGRATIONS_DIR / "versions"), str(later)])
    )

    command.upgrade(config, "later")
    with fresh_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM crier_delivery_metrics")).scalar() == 0
    command.downgrade(config, head or "base")
