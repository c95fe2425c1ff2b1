"""What a process gives its use cases, one protocol per dependency, so each use case names those it reads.

A use case that needs several declares a protocol of its own from these (shared.deliveries.publishing's
`Publishing` is the settings, the sessions, the networks, the limiter, the media storage, the network-call
threads and the credentials). The process passes the composition root's Services, which has every one; a
test may pass anything else that has those. So no feature imports the composition root, nor through it the
adapters the settings chose. The media storage's is in shared.media.ports, above the features that do
without it.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.credentials import CredentialCipher
from shared.limits.ports import RateLimiter
from shared.networks.outbound import Outbound
from shared.networks.registry import NetworkRegistry
from shared.taskqueue import TaskQueue


class HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


class HasSessions(Protocol):
    @property
    def sessions(self) -> sessionmaker[Session]: ...


class HasNetworks(Protocol):
    @property
    def networks(self) -> NetworkRegistry: ...


class HasNetworkCalls(Protocol):
    @property
    def network_calls(self) -> Executor:
        """Threads for network calls, shared by every use case of the process."""
        ...


class HasCredentials(Protocol):
    @property
    def credentials(self) -> CredentialCipher: ...


class HasLimits(Protocol):
    @property
    def limits(self) -> RateLimiter: ...


class HasTasks(Protocol):
    @property
    def tasks(self) -> TaskQueue: ...


class HasOutbound(Protocol):
    @property
    def outbound(self) -> Outbound:
        """Where calls made on a user's behalf may go, and their bounds."""
        ...
