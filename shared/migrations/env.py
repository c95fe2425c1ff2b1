"""Alembic's entry: runs migrations on the engine passed in, or on the one the settings name."""

from __future__ import annotations

from alembic import context

from shared.config import Settings
from shared.db import create_db_engine
from shared.models import Base

config = context.config
engine = config.attributes.get("engine") or create_db_engine(Settings().resolved_database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
