from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.bootstrap import Services
from shared.config import Settings
from shared.taskqueue import MemoryTaskQueue
from tests.integration.fake_networks import bootstrap_with_scripted_network


@pytest.fixture
def scripted(services: Services, settings: Settings, task_queue: MemoryTaskQueue) -> Iterator[Services]:
    """Services whose registry also has the scripted network; `services` empties the tables afterwards."""
    built = bootstrap_with_scripted_network(settings, task_queue, engine=services.engine)
    yield built
    built.close()
