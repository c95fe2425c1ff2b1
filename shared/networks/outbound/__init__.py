"""Every call Crier makes on a user's behalf goes through here: where it may connect, and for how long and
how much it may read.

Where (`addresses`). A workspace admin chooses the server a channel or a webhook talks to, so an address
could point Crier at itself or at the network it runs in (a Redis on 127.0.0.1:6379, a cloud's metadata
service at 169.254.169.254). A connection is made only to a public address, or to one the operator allowed
(CRIER_ALLOWED_PRIVATE_HOSTS), and always to an address that was checked, never to the name, so a second
lookup cannot answer differently (DNS rebinding). TLS is still verified for the name: the Host header and
SNI are the name's. Plain http is refused except to a host the operator named.

How long (`deadlines`). Every call has a deadline from its first lookup to its answer's last byte: each
read, write and handshake is given at most the time left, so a server trickling a byte every few seconds is
cut off at the deadline, not kept for as long as each read stays under its timeout. The lookup counts too.
A caller may set a shorter deadline for every call it makes (an API request: `calls_within`).

How much (`transport`). An answer is read as a stream and refused past CRIER_NETWORK_ANSWER_MAX_BYTES; an
unsuccessful answer is only read as far as a short excerpt needs, and a compressed one is refused.

Failures are httpx's own errors, so adapters sort them as they always have
(shared.networks.toolkit.calls); a refused address is an httpx.ConnectError like a closed port, so that
nobody learns from Crier what listens where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from shared.networks.outbound.addresses import (
    PUBLIC_ONLY,
    AddressPolicy,
    AddressRefused,
    address_problem,
    is_public,
    readable_url,
    split_url,
)
from shared.networks.outbound.deadlines import calls_within
from shared.networks.outbound.transport import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_UPLOAD_DEADLINE_SECONDS,
    UPLOAD,
    AnswerCompressed,
    AnswerTooLarge,
    GuardedTransport,
)

if TYPE_CHECKING:
    from shared.config import Settings

# What callers use; the rest is each submodule's own.
__all__ = [
    "DEFAULT_TIMEOUT",
    "PUBLIC_ONLY",
    "UPLOAD",
    "AddressPolicy",
    "AddressRefused",
    "AnswerCompressed",
    "AnswerTooLarge",
    "GuardedTransport",
    "Outbound",
    "address_problem",
    "calls_within",
    "is_public",
    "readable_url",
    "split_url",
]

USER_AGENT = "Crier (self-hosted social media scheduler)"
# Connecting is quick or it is not happening; a receiver may take a while to answer once it has the post.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)


@dataclass(frozen=True)
class Outbound:
    """How one process calls out: the address policy, and the bounds of every call."""

    policy: AddressPolicy = PUBLIC_ONLY
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    upload_deadline_seconds: float = DEFAULT_UPLOAD_DEADLINE_SECONDS
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> Outbound:
        return cls(
            policy=AddressPolicy.from_settings(settings),
            deadline_seconds=settings.network_call_deadline_seconds,
            upload_deadline_seconds=settings.network_upload_deadline_seconds,
            max_answer_bytes=settings.network_answer_max_bytes,
        )

    def client(
        self,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        deadline_seconds: float | None = None,
        user_agent: str = USER_AGENT,
    ) -> httpx.Client:
        """An HTTP client whose every call keeps to the policy and the bounds; it follows no redirect.

        It ignores HTTP(S)_PROXY: through a proxy, the address connected to is the proxy's, and the one
        behind it goes unchecked.
        """
        transport = GuardedTransport(
            self.policy,
            deadline_seconds=deadline_seconds or self.deadline_seconds,
            upload_deadline_seconds=self.upload_deadline_seconds,
            max_answer_bytes=self.max_answer_bytes,
        )
        return httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        )
