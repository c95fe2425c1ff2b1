"""The migrations build exactly the schema the models describe, on both backends, and run both ways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.db import create_db_engine
from shared.migrations import alembic_config, upgrade
from shared.models import Base, Workspace
from tests.conftest import create_postgres_database, drop_postgres_database


def schema_differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would write into a new migration for this database: nothing, when they agree."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: sa.Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.fixture
def fresh_engine(backend: str, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a new, empty database of the backend under test."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}" if backend == "sqlite" else create_postgres_database()
    engine = create_db_engine(url)
    yield engine
    engine.dispose()
    if backend == "postgresql":
        drop_postgres_database(url)


def test_the_migrated_schema_matches_the_models_exactly(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        assert current_revision(engine) == head_revision(engine)
        assert {table.name for table in Base.metadata.sorted_tables} <= table_names(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_comparison_reports_a_model_the_migrations_lack(fresh_engine: sa.Engine) -> None:
    # The control for the test above: an empty database must differ from the models by every table.
    added = {diff[1].name for diff in schema_differences(fresh_engine) if diff[0] == "add_table"}
    assert added == {table.name for table in Base.metadata.sorted_tables}


def test_upgrading_a_database_already_at_head_changes_nothing(fresh_engine: sa.Engine) -> None:
    upgrade(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.execute(sa.insert(Workspace).values(name="Kept"))

    upgrade(fresh_engine)

    assert current_revision(fresh_engine) == head_revision(fresh_engine)
    assert schema_differences(fresh_engine) == []
    with fresh_engine.connect() as connection:
        assert connection.scalars(sa.select(Workspace.name)).all() == ["Kept"]


def test_downgrading_to_base_then_upgrading_again_rebuilds_the_schema(fresh_engine: sa.Engine) -> None:
    upgrade(fresh_engine)

    command.downgrade(alembic_config(fresh_engine), "base")
    assert table_names(fresh_engine) == {"alembic_version"}
    assert current_revision(fresh_engine) is None

    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision(fresh_engine)
    assert schema_differences(fresh_engine) == []


def test_webhook_urls_the_audit_log_kept_whole_are_cut_to_their_host(fresh_engine: sa.Engine) -> None:
    command.upgrade(alembic_config(fresh_engine), "0018")
    workspace_id, secret_url = uuid.uuid4(), "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
    audit = sa.table(
        "audit_entries",
        *(sa.column(name, sa.Uuid()) for name in ("id", "workspace_id", "subject_id")),
        *(sa.column(name, sa.String()) for name in ("actor", "action", "subject_type")),
        sa.column("detail", sa.JSON()),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    with fresh_engine.begin() as connection:
        connection.execute(sa.insert(Workspace).values(id=workspace_id, name="Before"))
        for action, detail in [
            ("webhook.created", {"url": secret_url, "events": ["*"]}),
            ("webhook.updated", {"description": "no URL in this one"}),
            ("post.created", {"url": secret_url}),  # not a webhook's: left as it is
        ]:
            connection.execute(
                sa.insert(audit).values(
                    id=uuid.uuid4(),
                    workspace_id=workspace_id,
                    actor="Ana",
                    action=action,
                    subject_type="webhook",
                    subject_id=uuid.uuid4(),
                    detail=detail,
                    at=datetime.now(UTC),
                )
            )

    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        details = dict(connection.execute(sa.select(audit.c.action, audit.c.detail)).all())
    assert details["webhook.created"] == {"url": "https://hooks.slack.com/…", "events": ["*"]}
    assert details["webhook.updated"] == {"description": "no URL in this one"}
    assert details["post.created"] == {"url": secret_url}
