"""The scheduler process: `crier-scheduler`. Reads its settings once, then dispatches until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from services.scheduler.dispatcher import Dispatcher
from shared.bootstrap import bootstrap, keep_new_files_private
from shared.config import Settings
from shared.monitoring.logs import configure_logging

log = logging.getLogger("crier.scheduler")


def main() -> None:
    keep_new_files_private()
    settings = Settings()
    configure_logging(settings)
    services = bootstrap(settings)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; finishing the current tick", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "scheduler started (tick %.2f s, lookahead %.1f s)",
        settings.scheduler_tick_seconds,
        settings.scheduler_lookahead_seconds,
    )
    try:
        Dispatcher(services).run(stop)
    finally:
        # Network-call threads finish what they hold, and the database's connections are closed cleanly.
        services.close()
    log.info("scheduler stopped")


if __name__ == "__main__":
    main()
