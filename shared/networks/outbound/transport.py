"""The transport every outbound call goes through: httpx's over httpcore, connecting only where the address
policy allows, keeping each call to its deadline and reading at most so much of its answer.

How much. An answer is read as a stream and refused past its limit (CRIER_NETWORK_ANSWER_MAX_BYTES); an
unsuccessful answer is only read as far as a short excerpt needs. Answers are asked for uncompressed and an
answer compressed all the same is refused, so no small answer can grow into a large one as it is read.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from shared.networks.outbound.addresses import AddressPolicy, AddressRefused
from shared.networks.outbound.deadlines import call_ends_at, time_left, until

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


class AnswerTooLarge(httpx.ReadError):
    """The answer was longer than the limit; what was read is dropped."""


class AnswerCompressed(httpx.ReadError):
    """The answer was compressed though Crier asked for it plain; it is not read."""


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and handshake ends by the deadline of the call using it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_SLICE):
            self._stream.write(
                buffer[start : start + _WRITE_SLICE], time_left(timeout, httpcore.WriteTimeout)
            )

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, time_left(timeout, httpcore.ConnectTimeout))
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
                    timeout=time_left(timeout, httpcore.ConnectTimeout),
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
        ends_at = call_ends_at(self._upload_deadline if upload else self._deadline)
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
        with until(ends_at), _as_httpx_errors():
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
            with until(self._ends_at), _as_httpx_errors():
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
