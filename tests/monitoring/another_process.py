"""What a second Crier process does in the cross-process tests: started fresh, as a worker would be."""

from __future__ import annotations

from shared.bootstrap import bootstrap
from shared.config import Settings
from tests.monitoring.conftest import publish_everything_due


def publish_everything_due_and_exit(settings: Settings) -> None:
    services = bootstrap(settings)
    publish_everything_due(services)
    services.close()
