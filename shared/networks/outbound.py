"""Every call Crier makes on a user's behalf goes through here: where it may connect, and for how long and
how much it may read.

Where. A workspace admin chooses the server a channel or a webhook talks to, so an address could point
Crier at itself or at the network it runs in (a Redis on 127.0.0.1:6379, a cloud's metadata service at
169.254.169.254). A connection is made only to a public address, or to one the operator allowed
(CRIER_ALLOWED_PRIVATE_HOSTS): the name is resolved once, every address it has is checked (one refused
address refuses the name, since whoever runs its DNS chooses the order), and the connection goes to an
address that was checked, never to the name, so a second lookup cannot answer differently (DNS
rebinding). TLS is still verified for the name: the Host header and SNI are the name's. Addresses are read
with `ipaddress` from what the resolver answered, so 2130706433, 0x7f.1 or 017700000001 (which the resolver
reads as 127.0.0.1) are caught like 127.0.0.1 itself; an IPv6 address carrying an IPv4 one (::ffff:a.b.c.d,
6to4, NAT64) is judged by the IPv4 one. Plain http is refused except to a host the operator named.

How long. Every call has a deadline from its first lookup to its answer's last byte: each read, write and
handshake is given at most the time left, so a server trickling a byte every few seconds is cut off at the
deadline, not kept for as long as each read stays under its timeout. The lookup counts too. A caller may
set a shorter deadline for every call it makes (an API request: `calls_within`).

How much. An answer is read as a stream and refused past CRIER_NETWORK_ANSWER_MAX_BYTES; an unsuccessful
answer is only read as far as a short excerpt needs. Answers are asked for uncompressed and an answer
compressed all the same is refused, so no small answer can grow into a large one as it is read.

Failures are httpx's own errors, so adapters sort them as they always have (shared.networks.http); a refused
address is an httpx.ConnectError like a closed port, so that nobody learns from Crier what listens where.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

if TYPE_CHECKING:
    from shared.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The addresses a name has, for a connection to a port: the system resolver, or a test's own.
Resolver = Callable[[str, int], Sequence[str]]

USER_AGENT = "Crier (self-hosted social media scheduler)"
# Connecting is quick or it is not happening; a receiver may take a while to answer once it has the post.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
DEFAULT_DEADLINE_SECONDS = 30.0
DEFAULT_UPLOAD_DEADLINE_SECONDS = 300.0
DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024
# What is read of an unsuccessful answer: enough for the words an error quotes (300 characters of them).
REFUSAL_READ_BYTES = 16 * 1024
# The request extension that gives a call the upload deadline: `extensions=UPLOAD`.
UPLOAD = {"crier.upload": True}
# As httpx's own default: a process's network threads share one client.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# Bytes written per send, so that a slow reader cannot stretch one large write past the deadline.
_WRITE_SLICE = 64 * 1024
# Lookups run on these threads, so that a name server that never answers costs a caller no more than its
# deadline (the thread itself waits out the system resolver's own timeout).
_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="crier-lookup")

# When the calls made in this context must be over (time.monotonic()), and the caller's bounds if any.
_deadline: ContextVar[float | None] = ContextVar("crier_outbound_deadline", default=None)
_budget: ContextVar[_Budget | None] = ContextVar("crier_outbound_budget", default=None)


class AddressRefused(httpcore.ConnectError):
    """The address (or one of a name's addresses) is not one Crier may connect to; no connection was made."""


class AnswerTooLarge(httpx.ReadError):
    """The answer was longer than the limit; what was read is dropped."""


class AnswerCompressed(httpx.ReadError):
    """The answer was compressed though Crier asked for it plain; it is not read."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a name, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(address[0]) for *_, address in found))


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not this machine, nor a private, shared (CGNAT),
    link-local, multicast, reserved or unspecified one, nor an IPv6 address standing for such an IPv4 one."""
    carried = _carried_ipv4(address)
    if carried is not None:
        return is_public(carried)
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, compatible (::a.b.c.d), 6to4 or NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = address.packed
    if address in _NAT64 or (packed[:12] == bytes(12) and int(address) > 1):
        return ipaddress.IPv4Address(packed[12:])
    return None


def _plain(address: IPAddress) -> IPAddress:
    return _carried_ipv4(address) or address


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _name(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class AddressPolicy:
    """Where Crier may connect on a user's behalf: public addresses, and those the operator allowed."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolve: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        hosts, networks = settings.allowed_private
        return cls(allowed_hosts=hosts, allowed_networks=networks)

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether a connection for `host` may go to `address`."""
        if is_public(address) or _name(host) in self.allowed_hosts:
            return True
        return self._in_allowed_network(address)

    def allows_plain_http(self, host: str) -> bool:
        """http only to a server the operator named: a token sent over it then crosses their network only."""
        if _name(host) in self.allowed_hosts:
            return True
        address = _literal(host)
        return address is not None and self._in_allowed_network(address)

    def _in_allowed_network(self, address: IPAddress) -> bool:
        # An IPv6 address carrying an IPv4 one is in a network the operator wrote either way.
        return any(address in network or _plain(address) in network for network in self.allowed_networks)

    def refuses_as_written(self, host: str) -> bool:
        """Whether `host` is known to be refused without a lookup: an address written out that may not be
        connected to, or a name of the `localhost.` domain, which always leads to this machine (RFC 6761)."""
        address = _literal(host)
        if address is not None:
            return not self.allows(host, address)
        name = _name(host)
        return (name == "localhost" or name.endswith(".localhost")) and name not in self.allowed_hosts

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for `host`: looked up once, each one allowed, else AddressRefused."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            found = [ipaddress.ip_address(address) for address in self._look_up(host, port)]
        refused = [str(address) for address in found if not self.allows(host, address)]
        if refused or not found:
            raise AddressRefused(
                f"{host} is, or resolves to, {', '.join(refused) or 'no address'}: not an address Crier "
                "connects to (CRIER_ALLOWED_PRIVATE_HOSTS allows private ones)"
            )
        return found

    def _look_up(self, host: str, port: int) -> Sequence[str]:
        lookup = _LOOKUPS.submit(self.resolve, host, port)
        try:
            return lookup.result(timeout=_bounded(None, httpcore.ConnectTimeout))
        except LookupTimeout:
            raise httpcore.ConnectTimeout(f"looking {host} up took longer than the call's deadline") from None
        except (OSError, UnicodeError, ValueError) as error:
            raise httpcore.ConnectError(f"{host} could not be looked up: {error}") from error


# No private address allowed: the policy of an operator who allowed none, and the safe default.
PUBLIC_ONLY = AddressPolicy()


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


@dataclass
class _Budget:
    """The bounds a caller puts on every call made inside `calls_within`."""

    ends_at: float
    before_first: Callable[[], None] | None
    started: bool = False

    def admit(self) -> None:
        if not self.started and self.before_first is not None:
            self.before_first()
        self.started = True


@contextmanager
def calls_within(seconds: float, *, before_first: Callable[[], None] | None = None) -> Iterator[None]:
    """Every call made inside ends within `seconds` from now; `before_first` runs before the first of them
    (and may raise to refuse it), so a caller that makes none takes nothing."""
    token = _budget.set(_Budget(time.monotonic() + seconds, before_first))
    try:
        yield
    finally:
        _budget.reset(token)


@contextmanager
def _until(ends_at: float) -> Iterator[None]:
    token = _deadline.set(ends_at)
    try:
        yield
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """The timeout of one socket operation, cut to the time left before the call's deadline."""
    ends_at = _deadline.get()
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and handshake ends by the deadline of the call using it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_SLICE):
            self._stream.write(buffer[start : start + _WRITE_SLICE], _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to an address the policy allowed, found by one lookup of the name: never to the name."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self._policy.addresses(host, port):
            try:
                stream = self._sockets.connect_tcp(
                    str(address),
                    port,
                    timeout=_bounded(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error  # the name's next address, as a browser would
                continue
            return _DeadlineStream(stream)
        assert failure is not None  # addresses() gives at least one address
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise AddressRefused("Crier connects to no Unix socket on a user's behalf")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# httpcore's errors as httpx's, the most specific first (httpx's transport does the same mapping).
_AS_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except tuple(core for core, _ in _AS_HTTPX) as error:
        kind = next(mapped for core, mapped in _AS_HTTPX if isinstance(error, core))
        raise kind(str(error)) from error


class GuardedTransport(httpx.BaseTransport):
    """httpx's transport over httpcore, with the address policy, a deadline and a size limit on every call."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        upload_deadline_seconds: float = DEFAULT_UPLOAD_DEADLINE_SECONDS,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        limits: httpx.Limits = POOL_LIMITS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context` verifies servers' certificates (default: the system's and certifi's authorities)."""
        self._policy = policy
        self._deadline = deadline_seconds
        self._upload_deadline = upload_deadline_seconds
        self._max_answer = max_answer_bytes
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if request.url.scheme == "http" and not self._policy.allows_plain_http(host):
            raise httpx.ConnectError(
                f"plain http to {host}, which CRIER_ALLOWED_PRIVATE_HOSTS does not name", request=request
            )
        extensions = dict(request.extensions)
        upload = extensions.pop("crier.upload", False)
        ends_at = time.monotonic() + (self._upload_deadline if upload else self._deadline)
        budget = _budget.get()
        if budget is not None:
            budget.admit()
            ends_at = min(ends_at, budget.ends_at)
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=extensions,
        )
        with _until(ends_at), _as_httpx_errors():
            answer = self._pool.handle_request(core_request)
        return self._bounded_answer(answer, ends_at)

    def _bounded_answer(self, answer: httpcore.Response, ends_at: float) -> httpx.Response:
        assert isinstance(answer.stream, Iterable)  # a synchronous pool's answer
        headers = httpx.Headers(answer.headers)
        succeeded = 200 <= answer.status < 300
        limit = self._max_answer if succeeded else min(self._max_answer, REFUSAL_READ_BYTES)
        stream = _BoundedBody(answer.stream, ends_at, limit, cut_quietly=not succeeded)
        encoding = headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            if succeeded:
                stream.close()
                raise AnswerCompressed(f"the answer came compressed ({encoding}) though asked for plain")
            # A refusal is read for its status; its words are not worth decompressing.
            del headers["Content-Encoding"]
            stream = _BoundedBody(answer.stream, ends_at, 0, cut_quietly=True)
        declared = headers.get("Content-Length", "")
        if succeeded and declared.isdigit() and int(declared) > limit:
            stream.close()
            raise AnswerTooLarge(f"the answer says it is {declared} bytes long; Crier reads at most {limit}")
        if not succeeded:
            headers.pop("Content-Length", None)  # what is read may be shorter
        return httpx.Response(
            status_code=answer.status, headers=headers, stream=stream, extensions=answer.extensions
        )

    def close(self) -> None:
        self._pool.close()


class _BoundedBody(httpx.SyncByteStream):
    """An answer's body read by its call's deadline and to at most `limit` bytes: beyond them a successful
    answer fails (it would be read incomplete), and an unsuccessful one just ends (its start is quoted)."""

    def __init__(self, stream: Iterable[bytes], ends_at: float, limit: int, *, cut_quietly: bool) -> None:
        self._stream = stream
        self._ends_at = ends_at
        self._limit = limit
        self._cut_quietly = cut_quietly

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        chunks = iter(self._stream)
        while True:
            with _until(self._ends_at), _as_httpx_errors():
                chunk = next(chunks, None)
            if chunk is None:
                return
            received += len(chunk)
            if received > self._limit:
                if self._cut_quietly:
                    yield chunk[: len(chunk) - (received - self._limit)]
                    return
                raise AnswerTooLarge(f"the answer is longer than the {self._limit} bytes Crier reads")
            yield chunk

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with _as_httpx_errors():
                close()
