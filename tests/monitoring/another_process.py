"""What a second Crier process does in the cross-process tests: started fresh, as a worker would be."""

from __future__ import annotations

from shared.bootstrap import bootstrap
from shared.config import Settings
from tests.driving import publish_what_is_due


def publish_what_is_due_and_exit(settings: Settings) -> None:
    services = bootstrap(settings)
    publish_what_is_due(services)
    services.close()
