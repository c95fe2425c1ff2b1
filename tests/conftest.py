"""Fixtures shared by every test: real databases on both backends, settings, and bootstrapped services.

Tests that touch the database run twice, on SQLite (the embedded default) and on PostgreSQL, each over a
real connection. PostgreSQL must be reachable (`make test` checks); a test never skips because it is not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import create_db_engine
from shared.migrations import upgrade
from shared.models import Base
from shared.taskqueue import MemoryTaskQueue

POSTGRES_ADMIN_URL = os.environ.get(
    "CRIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CRIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ["sqlite", "postgresql"]


def redis_database_of_this_worker(first: int) -> int:
    """A Redis database number of this test process's own, counting down from `first`: the suite runs on
    every core (pytest-xdist, PYTEST_XDIST_WORKER gw0, gw1…), and a test that empties its database must not
    empty another process's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return first - 2 * int(worker.removeprefix("gw") or 0)


def _admin_engine() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error.orig}). "
            "Start it, or point CRIER_TEST_POSTGRES_URL at one; `make test` does this check first.",
            pytrace=False,
        )
    return engine


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database for this test run; the URL to reach it."""
    name = f"crier_test_{uuid.uuid4().hex[:12]}"
    with _admin_engine().connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    with _admin_engine().connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database on the backend under test, shared by the session's tests."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'crier.db'}"
    else:
        url = create_postgres_database()
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    if backend == "postgresql":
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    """One engine on the session's database for every test's services: its pool keeps connections open from
    one test to the next, where an engine per test opened new ones (a PostgreSQL backend each) every time."""
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({error}). Start it, or set CRIER_TEST_REDIS_URL.",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url="memory://",
        # A test makes hundreds of requests a minute from one address and token; the limits have their
        # own tests (tests/api/test_rate_limits.py).
        rate_limits_enabled=False,
        data_dir=tmp_path / "var",
        sandbox_store_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
    )


@pytest.fixture
def task_queue() -> MemoryTaskQueue:
    return MemoryTaskQueue()


@pytest.fixture
def services(
    settings: Settings, task_queue: MemoryTaskQueue, database_url: str, engine: sa.Engine
) -> Iterator[Services]:
    """The services a process would build, with sent tasks recorded; every table is emptied afterwards."""
    # A test whose settings name another database gets an engine of its own.
    shared = engine if settings.resolved_database_url == database_url else None
    built = bootstrap(settings, tasks=task_queue, engine=shared)
    yield built
    left_checked_out = engine.pool.checkedout() if shared is not None else 0  # type: ignore[attr-defined]
    with built.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # One round trip of DELETEs, children first: TRUNCATE gives each of the ~40 tables new files,
            # which took 0.15 s a test, minutes of the suite, for tables that hold a few rows.
            connection.exec_driver_sql(
                "; ".join(
                    str(table.delete().compile(dialect=connection.dialect))
                    for table in reversed(Base.metadata.sorted_tables)
                )
            )
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    built.close()
    # The pool outlives the test: a connection it kept would carry its transaction, and locks, into the next.
    assert left_checked_out == 0, f"the test left {left_checked_out} database connection(s) checked out"
