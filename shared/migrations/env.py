"""Alembic's entry: runs migrations on the engine passed in, or on the one the settings name."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from shared.config import Settings
from shared.db import create_db_engine
from shared.models import Base


def _set_legacy_alter_table(connection: Connection, on: bool) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None  # an open connection has one
    driver.execute(f"PRAGMA legacy_alter_table={'ON' if on else 'OFF'}")


config = context.config
engine = config.attributes.get("engine") or create_db_engine(Settings().resolved_database_url)

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Batch mode rebuilds a table as a copy renamed into place. Since SQLite 3.26 a rename first checks
        # every view, and the BI views of 0014 would name the table while it is dropped; the legacy rename
        # leaves views alone, and they read the rebuilt table by its name afterwards.
        # Straight to the driver: through SQLAlchemy it would begin the transaction Alembic must begin.
        _set_legacy_alter_table(connection, True)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "sqlite":
        _set_legacy_alter_table(connection, False)
