"""Servers on 127.0.0.1 that behave as what an attacker might point Crier at, over real sockets.

Each counts the connections it accepted, so a test can tell that Crier never connected at all. What it does
with a connection is a plain function of the socket: say nothing, answer like Redis, answer HTTP, trickle
an answer a byte at a time, or send one far larger than anyone should read. `tls_context` wraps one in TLS
with a certificate of its own authority, for the name a test chooses.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# What a server does with one connection; it may read the server's state (whether it is stopping).
Behaviour = Callable[["RawServer", socket.socket], None]


@dataclass
class RawServer:
    """A TCP server on 127.0.0.1 that hands each connection to `behaviour` on a thread of its own."""

    behaviour: Behaviour
    tls: ssl.SSLContext | None = None
    accepted: int = 0
    requests: list[bytes] = field(default_factory=list)  # what each connection sent first, when read
    sent_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._socket.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        try:
            if self.tls is not None:
                connection.settimeout(5)
                connection = self.tls.wrap_socket(connection, server_side=True)
            connection.settimeout(None)
            self.behaviour(self, connection)
        except (OSError, ssl.SSLError):
            pass  # the client gave up, as it should
        finally:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._socket.close()
        self._thread.join(timeout=5)


@contextmanager
def raw_server(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Iterator[RawServer]:
    server = RawServer(behaviour, tls)
    try:
        yield server
    finally:
        server.close()


def read_request(connection: socket.socket) -> bytes:
    """The request's head, read to its blank line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_whole_request(connection: socket.socket) -> bytes:
    """The request's head and its body (as long as Content-Length says), so that closing afterwards is a
    clean hang-up, not a reset."""
    data = read_request(connection)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def free_port() -> int:
    """A port nothing listens on (it was free a moment ago): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hanging_up(server: RawServer, connection: socket.socket) -> None:
    """Reads the request whole and closes the connection without answering: it arrived, no answer did."""
    server.requests.append(read_whole_request(connection))


def silent(server: RawServer, connection: socket.socket) -> None:
    """Accepts and says nothing, until the client leaves (a firewall that drops, a service that waits)."""
    connection.settimeout(30)
    while connection.recv(4096):
        pass


def like_redis(server: RawServer, connection: socket.socket) -> None:
    """What Redis says to a line it does not know, then it hangs up."""
    connection.recv(4096)
    connection.sendall(b"-ERR unknown command 'GET', with args beginning with: '/'\r\n")


def answering(status: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> Behaviour:
    """Answers every request with this status line, headers and body."""

    def behaviour(server: RawServer, connection: socket.socket) -> None:
        server.requests.append(read_request(connection))
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        connection.sendall(head.encode() + b"\r\n" + body)

    return behaviour


def trickling(head: bytes, every: float, for_at_most: float = 30.0) -> Behaviour:
    """Sends `head`, then one byte every `every` seconds: an answer that never ends, yet never pauses for
    as long as a read timeout."""

    def behaviour(server: RawServer, connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(head)
        ends = time.monotonic() + for_at_most
        while time.monotonic() < ends and not server.stopping:
            time.sleep(every)
            connection.sendall(b"x")

    return behaviour


def flooding(total: int, *, declare_length: bool = False, status: str = "200 OK") -> Behaviour:
    """Answers with `total` bytes of body, as fast as the client reads them, counting what it sent."""

    def behaviour(server: RawServer, connection: socket.socket) -> None:
        read_request(connection)
        length = f"Content-Length: {total}\r\n" if declare_length else "Connection: close\r\n"
        connection.sendall(f"HTTP/1.1 {status}\r\n{length}\r\n".encode())
        block = b"y" * 65536
        while server.sent_bytes < total and not server.stopping:
            connection.sendall(block)
            server.sent_bytes += len(block)

    return behaviour


@dataclass(frozen=True)
class Authority:
    """A certificate authority of a test's own, and a server certificate it signed for some names."""

    client: ssl.SSLContext
    server: ssl.SSLContext


def tls_for(*names: str) -> Authority:
    """TLS contexts: a server's, with a certificate for `names`; and a client's that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "cert.pem").write_bytes(pem)
        (Path(folder) / "key.pem").write_bytes(key_pem)
        server.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
    client = ssl.create_default_context(cadata=pem.decode())
    return Authority(client=client, server=server)
