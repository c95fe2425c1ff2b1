"""The composition root: each process calls `bootstrap` once and passes the result down."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.adapters import MEDIA_STORAGES, RATE_LIMITERS, TASK_QUEUES, adapter_factory
from shared.config import Settings
from shared.credentials import CredentialCipher, cipher_from_settings, configured_secrets
from shared.db import create_db_engine
from shared.limits.ports import RateLimiter
from shared.media.ports import MediaStorage
from shared.media.public_addresses import PublicAddresses
from shared.models import create_session_factory
from shared.monitoring.recording import use_folder
from shared.networks.outbound import Outbound
from shared.networks.registry import NetworkRegistry
from shared.taskqueue import TaskQueue

# What a process's new files and folders leave out: everything for anyone but the user Crier runs as.
PRIVATE_UMASK = 0o077


def keep_new_files_private() -> None:
    """Make every file this process creates from now on 0600, and every folder 0700; at process start.

    The data directory holds the SQLite databases, the secret that seals channel credentials, uploaded
    media, the broker's messages and the Prometheus counts. SQLite, kombu and prometheus_client create
    files with the process's umask (0644 under the usual 022), so the umask is where all of them are held,
    not each call. Processes started from this one inherit it.
    """
    os.umask(PRIVATE_UMASK)


def create_task_queue(settings: Settings) -> TaskQueue:
    """The task queue CRIER_TASK_QUEUE names: Celery unless told otherwise."""
    created: TaskQueue = adapter_factory(TASK_QUEUES, settings.task_queue)(settings)
    return created


def create_rate_limiter(settings: Settings, sessions: sessionmaker[Session]) -> RateLimiter:
    """The limiter CRIER_RATE_LIMITER names: unset, Redis when CRIER_REDIS_URL is set, else the database."""
    created: RateLimiter = adapter_factory(RATE_LIMITERS, settings.resolved_rate_limiter)(settings, sessions)
    return created


def create_media_storage(settings: Settings) -> MediaStorage:
    """The storage CRIER_MEDIA_STORAGE names: a folder in the data directory unless told otherwise."""
    created: MediaStorage = adapter_factory(MEDIA_STORAGES, settings.media_storage)(settings)
    return created


@dataclass(frozen=True)
class Services:
    """Everything a process needs, built once from its settings.

    The edge passes it to the use cases, each of which names only what it reads by a protocol of
    shared.dependencies (Publishing, Collecting…): any of them takes this.
    """

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    tasks: TaskQueue
    networks: NetworkRegistry
    limits: RateLimiter
    # Threads for network calls, shared by every publish in the process; started only when first used.
    network_calls: ThreadPoolExecutor
    credentials: CredentialCipher
    media: MediaStorage
    # Where calls made on a user's behalf may go, and their bounds (the network adapters build their own
    # from the same settings).
    outbound: Outbound
    # Signed, expiring addresses of media files under CRIER_PUBLIC_URL, for networks that fetch media.
    public_media: PublicAddresses
    # Whether close() disposes of the engine: not when the caller passed one in, as tests share one engine
    # across every test's services.
    owns_engine: bool = True

    def close(self) -> None:
        """Stop the network-call threads, and close the engine's connections if bootstrap made it."""
        self.network_calls.shutdown(wait=True)
        if self.owns_engine:
            self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    tasks: TaskQueue | None = None,
    networks: NetworkRegistry | None = None,
    limits: RateLimiter | None = None,
    outbound: Outbound | None = None,
    engine: Engine | None = None,
) -> Services:
    """Build the engine, the session factory, the task queue, the network registry and the limiter, and
    point the process's Prometheus counts at the host's folder.

    Tests pass their own `tasks`, `networks` or `limits` to observe what would be sent or published, and
    their own `outbound` to look names up with a resolver of their own, and their own `engine` to keep one
    pool of connections for a whole run (close() then leaves it open).
    """
    owns_engine = engine is None
    if engine is None:
        engine = create_db_engine(settings.resolved_database_url)
    sessions = create_session_factory(engine)
    # Where this process's Prometheus counts go; they are process-wide, as prometheus_client keeps them.
    use_folder(settings.prometheus_folder)
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        tasks=tasks if tasks is not None else create_task_queue(settings),
        networks=networks if networks is not None else NetworkRegistry(settings),
        limits=limits if limits is not None else create_rate_limiter(settings, sessions),
        network_calls=ThreadPoolExecutor(settings.network_call_threads, thread_name_prefix="crier-network"),
        credentials=cipher_from_settings(settings),
        media=create_media_storage(settings),
        outbound=outbound if outbound is not None else Outbound.from_settings(settings),
        public_media=PublicAddresses(settings.public_url, configured_secrets(settings)),
        owns_engine=owns_engine,
    )
