"""The Celery broker: the configuration both ends of the queue share, and the queue that sends through it.

Built by each process's composition root; the core knows only the port, shared.taskqueue.TaskQueue.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue
from kombu.exceptions import OperationalError

from shared.config import Settings
from shared.errors import Unavailable
from shared.task_names import QUEUE_OF_TASK, QUEUES

VISIBILITY_TIMEOUT_SECONDS = 3600
TASK_TIME_LIMIT_SECONDS = 300


def celery_config(settings: Settings) -> dict[str, Any]:
    """The broker configuration both ends of the queue share: senders and the worker."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # One queue per kind of work, so a backlog of metrics never delays a post. Senders and the worker
        # declare the same queues, bound the same way.
        "task_queues": [Queue(name, Exchange(name), routing_key=name) for name in sorted(QUEUES)],
        "task_routes": {name: {"queue": queue} for name, queue in QUEUE_OF_TASK.items()},
        "enable_utc": True,
    }
    if settings.is_embedded_broker:
        folder = settings.broker_folder
        # `filesystem://` is kombu's file-system transport with Crier's channel, whose messages appear whole
        # (shared/embedded_broker.py). An explicit transport wins over the URL's scheme in kombu.
        config["broker_transport"] = "shared.embedded_broker:Transport"
        config["broker_transport_options"] = {
            # One folder both ways: every process on this machine reads and writes the same queue files.
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # The transport polls the folder; a tenth of a second keeps publishing close to its time.
            "polling_interval": 0.1,
        }
    else:
        # Redis hands an unacknowledged message to another worker after this long. Every task ends far
        # sooner (worker time limits, the publish lease), so a redelivery means a dead worker, not a slow one.
        config["broker_transport_options"] = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    return config


def prepare_broker(settings: Settings) -> None:
    """Create the embedded broker's folders (the file-system transport expects them to exist)."""
    if settings.is_embedded_broker:
        for name in ("queue", "control", "processed"):
            (settings.broker_folder / name).mkdir(parents=True, exist_ok=True)


class CeleryTaskQueue:
    """Sends tasks through Celery without importing them: `send_task` takes only the name."""

    def __init__(self, settings: Settings) -> None:
        prepare_broker(settings)
        self.app = Celery("crier-sender", set_as_current=False)
        self.app.conf.update(celery_config(settings))

    def send(self, task_name: str, kwargs: dict[str, Any]) -> None:
        try:
            self.app.send_task(task_name, kwargs=kwargs)
        except (OperationalError, OSError) as error:
            # A broker that does not answer is a 503 to a person who asked for work now, not a crash.
            raise Unavailable(f"The task queue could not be reached; try again shortly ({error}).") from error

    def check_reachable(self) -> None:
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
