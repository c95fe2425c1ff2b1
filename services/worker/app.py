"""The worker's Celery app. `celery --app services.worker.app:celery_app worker` runs it."""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import Any

from celery import Celery, Task, signals

from shared.bootstrap import Services, bootstrap, keep_new_files_private
from shared.broker import TASK_TIME_LIMIT_SECONDS, celery_config, prepare_broker
from shared.config import Settings
from shared.monitoring.logs import configure_logging

TASK_MODULES = [
    "services.worker.tasks.channels",
    "services.worker.tasks.inbox",
    "services.worker.tasks.deliveries",
    "services.worker.tasks.idempotency",
    "services.worker.tasks.metrics",
    "services.worker.tasks.notifications",
]


class CrierCelery(Celery):
    """A Celery app that carries the process's settings and builds its services once, on first use."""

    def __init__(self, settings: Settings, services: Services | None = None, **kwargs: Any) -> None:
        super().__init__("crier", **kwargs)
        self.settings = settings
        self._given_services = services

    @cached_property
    def services(self) -> Services:
        return self._given_services or bootstrap(self.settings)

    def close_services(self) -> None:
        """Close the services this app built (never those it was given): at the worker's shutdown."""
        built = self.__dict__.get("services")
        if built is not None and built is not self._given_services:
            built.close()


class CrierTask(Task):
    """Base of every Crier task: gives the task the worker's services."""

    @property
    def services(self) -> Services:
        app: CrierCelery = self.app
        return app.services


def create_celery_app(settings: Settings, services: Services | None = None) -> CrierCelery:
    app = CrierCelery(settings, services, set_as_current=False)
    app.conf.update(celery_config(settings))
    app.conf.update(
        include=TASK_MODULES,
        task_cls=CrierTask,
        # Acknowledge after the task ran, and give the message back if the worker dies under it: a lost
        # message would otherwise wait for the scheduler's lease sweep. Duplicates this causes are harmless
        # because every task starts with a compare-and-set that a repeated message cannot pass.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message in hand per thread: a worker that prefetches holds due posts back from idle ones.
        worker_prefetch_multiplier=1,
        # What `celery worker` runs without --concurrency, so CRIER_WORKER_CONCURRENCY sizes every worker.
        worker_concurrency=settings.worker_concurrency,
        # Well under the broker's visibility timeout. Celery enforces these in a prefork pool only; in the
        # thread pool `crier up` and compose use, what bounds a hung network call is the adapter's own
        # timeout and the publish lease, after which the sweep marks the attempt unknown.
        task_soft_time_limit=TASK_TIME_LIMIT_SECONDS - 60,
        task_time_limit=TASK_TIME_LIMIT_SECONDS,
    )
    # Tasks are declared with @shared_task, so importing them registers them on every app built here,
    # tests' apps included.
    for module in TASK_MODULES:
        importlib.import_module(module)
    return app


@signals.worker_init.connect
def _prepare_embedded_broker(sender: Any, **_: Any) -> None:
    # When the worker starts, not when this module is imported: importing it must not touch the disk.
    if isinstance(sender.app, CrierCelery):
        keep_new_files_private()
        prepare_broker(sender.app.settings)


@signals.setup_logging.connect
def _configure_logging(loglevel: int | str | None = None, **_: Any) -> None:
    # Connected, this keeps Celery from installing handlers of its own: the worker's lines take the format
    # the settings ask for, like the API's and the scheduler's. The level is the one --loglevel gave.
    configure_logging(celery_app.settings, level=loglevel)


celery_app = create_celery_app(Settings())


@signals.worker_shutdown.connect
def _close_services(sender: Any, **_: Any) -> None:
    # The worker's last network calls finish and its database connections close, rather than being cut.
    app = getattr(sender, "app", None)
    if isinstance(app, CrierCelery):
        app.close_services()
