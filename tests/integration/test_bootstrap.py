"""What closing the services bootstrap built releases: the network-call threads, and an engine it made."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import create_db_engine
from shared.taskqueue import MemoryTaskQueue


def started_network_thread(services: Services) -> threading.Thread:
    """A thread of the services' network-call pool, which starts its threads when first given work."""
    return services.network_calls.submit(threading.current_thread).result()


def pooled_connections(engine: sa.Engine) -> int:
    """Connections the engine's pool keeps open, ready for the next checkout."""
    pool = engine.pool
    assert isinstance(pool, sa.QueuePool)
    return pool.checkedin()


def test_closing_stops_the_network_threads_and_closes_the_connections_of_the_engine_it_made(
    settings: Settings,
) -> None:
    built = bootstrap(settings, tasks=MemoryTaskQueue())
    thread = started_network_thread(built)
    with built.engine.connect():
        pass
    assert thread.is_alive()
    assert pooled_connections(built.engine) == 1

    built.close()

    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="after shutdown"):
        built.network_calls.submit(threading.current_thread)
    assert pooled_connections(built.engine) == 0


def test_closing_leaves_an_engine_passed_in_open_for_its_owner(settings: Settings) -> None:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        built = bootstrap(settings, tasks=MemoryTaskQueue(), engine=engine)
        thread = started_network_thread(built)
        with built.engine.connect():
            pass

        built.close()

        assert not thread.is_alive()
        assert pooled_connections(engine) == 1
    finally:
        engine.dispose()
