"""A small NNTP client (RFC 3977) over a socket: what Crier needs to post, look up and read articles.

Why Crier has its own: Python's `nntplib` is deprecated and gone in 3.13 (PEP 594), and `pynntp` (the kept
one on PyPI) resolves and connects to the name itself and reads without a deadline. Crier must connect only
to an address its outbound policy checked (shared.networks.outbound: the name is looked up once and the
connection goes to an address that was allowed, never to the name), bound every exchange by a deadline so
a server trickling a byte at a time is cut off, bound how much a reply may be, and, above all, know whether
a lost connection came before or after the article's final dot: before it, the server cannot have the
article and a retry is safe; after it, it may, and only STAT may say. RFC 3977 is line-based, so the whole
client is a few commands over a buffered socket.

Every failure is an `NntpFailure` naming the `Stage` it happened at and the server's reply if there was
one; `shared.networks.nntp.answers` alone says what each means for Crier.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.networks.outbound import AddressPolicy

# RFC 3977 section 3.1: a reply's first line is at most 512 octets; a data line of an article at most 998
# plus CRLF and a dot. A server sending more than this in one line is not speaking NNTP.
MAX_LINE_BYTES = 64 * 1024
CONNECT_SECONDS = 5.0
# Commands sent at once when pipelining: their few kilobytes fit the socket's buffers, so the server never
# waits on a client that is itself still sending.
PIPELINED_COMMANDS = 50
# RFC 4643 section 2.2 / RFC 4642: the capabilities that say how to go on.
MODE_READER = "MODE-READER"
READER = "READER"
STARTTLS = "STARTTLS"


class Stage(enum.Enum):
    """How far a session had gone when it failed: what the server may have done with an article."""

    CONNECT = "connecting"  # no connection was made
    SESSION = "opening the session"  # greeting, capabilities, TLS, authentication: nothing posted
    POSTING = "asking to post"  # POST sent, the article not yet: nothing posted
    SENDING = "sending the article"  # the article was being written, its final dot not yet sent
    SENT = "after the article's final dot"  # the server may have the article
    READING = "reading"  # a command that changes nothing (STAT, GROUP, OVER, ARTICLE)


@dataclass(frozen=True)
class Reply:
    """A server's status line: its three-digit code and the words after it."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class NntpFailure(Exception):
    """An exchange that did not go as asked: the server's `reply` to it, or None when the connection
    broke, timed out, or the server answered with something that is not NNTP."""

    def __init__(
        self, stage: Stage, reason: str, reply: Reply | None = None, *, lasting: bool = False
    ) -> None:
        super().__init__(f"{reason} ({stage.value})")
        self.stage = stage
        self.reason = reason
        self.reply = reply
        # Without a reply, but not passing either: a certificate that does not prove the server's name.
        self.lasting = lasting


class Tls(enum.Enum):
    """How a channel's connection is encrypted (its `tls` setting)."""

    NONE = "none"  # never: a server on the operator's own network
    STARTTLS = "starttls"  # RFC 4642, required: a server that does not offer it is refused
    IMPLICIT = "implicit"  # TLS from the first byte, port 563 (RFC 8143)
    OFFERED = "offered"  # STARTTLS when CAPABILITIES lists it (the default)


@dataclass(frozen=True)
class Server:
    """Where a session connects, and how."""

    host: str
    port: int
    tls: Tls


class Session:
    """One connection to a news server, in reader mode, authenticated if it was given credentials."""

    def __init__(self, sock: socket.socket, server: Server, *, seconds: float, max_answer_bytes: int) -> None:
        self._socket = sock
        self._server = server
        self._seconds = seconds
        self._max_answer_bytes = max_answer_bytes
        self._buffer = b""
        self._ends_at = 0.0
        self.capabilities: frozenset[str] = frozenset()
        self.encrypted = isinstance(sock, ssl.SSLSocket)

    @classmethod
    def open(
        cls,
        server: Server,
        policy: AddressPolicy,
        *,
        seconds: float,
        max_answer_bytes: int,
        tls_context: ssl.SSLContext,
        credentials: Mapping[str, str] | None = None,
        plain_password_allowed: bool = False,
    ) -> Session:
        """A session ready for commands: greeted, in reader mode, encrypted as `server.tls` says, and
        authenticated with AUTHINFO USER/PASS (RFC 4643) when `credentials` are given."""
        sock = _connect(server, policy, tls_context)
        session = cls(sock, server, seconds=seconds, max_answer_bytes=max_answer_bytes)
        try:
            session._start(tls_context, credentials, plain_password_allowed)
        except BaseException:
            session.close()
            raise
        return session

    def _start(
        self, tls_context: ssl.SSLContext, credentials: Mapping[str, str] | None, plain_password_allowed: bool
    ) -> None:
        self._ends_at = time.monotonic() + self._seconds
        greeting = self._reply(Stage.SESSION)
        if greeting.code not in (200, 201):
            raise NntpFailure(Stage.SESSION, "the server refused the connection", greeting)
        self.capabilities = self._capabilities()
        if MODE_READER in self.capabilities and READER not in self.capabilities:
            # A mode-switching server (INN's innd) hands the connection to its reader (nnrpd).
            self.command("MODE READER", Stage.SESSION, expect=(200, 201))
            self.capabilities = self._capabilities()
        wants_tls = self._server.tls is Tls.STARTTLS or (
            self._server.tls is Tls.OFFERED and STARTTLS in self.capabilities
        )
        if wants_tls and not self.encrypted:
            if STARTTLS not in self.capabilities:
                raise NntpFailure(
                    Stage.SESSION, "the server does not offer STARTTLS", Reply(483, "STARTTLS not offered")
                )
            self.command("STARTTLS", Stage.SESSION, expect=(382,))
            if self._buffer:
                # Whatever came before the handshake was not protected by it (an injected answer).
                raise NntpFailure(Stage.SESSION, "the server sent more than 382 before TLS began")
            self._socket = self._wrap(tls_context)
            self.encrypted = True
            self.capabilities = self._capabilities()
        if credentials:
            if not self.encrypted and not plain_password_allowed:
                raise NntpFailure(
                    Stage.SESSION,
                    "the server offers no TLS, and the password would cross the network unencrypted",
                    Reply(483, "encryption required for the password"),
                )
            self._authenticate(credentials["username"], credentials["password"])

    def _wrap(self, tls_context: ssl.SSLContext) -> ssl.SSLSocket:
        self._socket.settimeout(self._time_left(Stage.SESSION))
        try:
            return tls_context.wrap_socket(self._socket, server_hostname=self._server.host)
        except (OSError, ssl.SSLError) as error:
            raise _tls_failure(Stage.SESSION, error) from error

    def _capabilities(self) -> frozenset[str]:
        reply = self.command("CAPABILITIES", Stage.SESSION)
        if reply.code != 101:
            return frozenset()  # an RFC 977 server: no capabilities to read
        return frozenset(line.split(" ", 1)[0].upper() for line in self.lines(Stage.SESSION))

    def _authenticate(self, username: str, password: str) -> None:
        reply = self.command(f"AUTHINFO USER {username}", Stage.SESSION)
        if reply.code == 381:
            reply = self.command(f"AUTHINFO PASS {password}", Stage.SESSION)
        if reply.code != 281:
            raise NntpFailure(Stage.SESSION, "the server did not accept the username and password", reply)

    # -- Commands -------------------------------------------------------------------------------------

    def command(self, line: str, stage: Stage, *, expect: Iterable[int] = ()) -> Reply:
        """Send one command line and read its status line; a reply not in `expect` (when given) fails."""
        if any(character in line for character in "\r\n\0"):
            raise ValueError("an NNTP command is one line")
        self._ends_at = time.monotonic() + self._seconds
        self._send(line.encode("utf-8") + b"\r\n", stage)
        reply = self._reply(stage)
        expected = tuple(expect)
        if expected and reply.code not in expected:
            raise NntpFailure(stage, f"{line.split(' ', 1)[0]} was refused", reply)
        return reply

    def post(self, article_lines: Iterable[str]) -> Reply:
        """POST an article (RFC 3977 section 6.3.1), dot-stuffed; the server's reply to it (240, 441…).

        A failure says how far it got: before the final dot was sent the server cannot have the article
        (Stage.POSTING, Stage.SENDING); after it, it may (Stage.SENT).
        """
        self.command("POST", Stage.POSTING, expect=(340,))
        wire = b"".join(_stuffed(line) for line in article_lines) + b".\r\n"
        self._ends_at = time.monotonic() + self._seconds
        self._send(wire, Stage.SENDING)
        return self._reply(Stage.SENT)

    def stat(self, message_id: str) -> bool:
        """Whether the server has the article (STAT: 223), or certainly not (430)."""
        reply = self.command(f"STAT {message_id}", Stage.READING)
        if reply.code in (223, 430):
            return reply.code == 223
        raise NntpFailure(Stage.READING, "STAT was refused", reply)

    def group(self, name: str) -> tuple[int, int] | None:
        """The group's lowest and highest article numbers (GROUP, 211); None when the server has no such
        group (411)."""
        reply = self.command(f"GROUP {name}", Stage.READING)
        if reply.code == 411:
            return None
        fields = reply.text.split()
        if reply.code != 211 or len(fields) < 3 or not all(field.isdigit() for field in fields[:3]):
            raise NntpFailure(Stage.READING, "GROUP was refused", reply)
        return int(fields[1]), int(fields[2])

    def over(self, low: int, high: int) -> list[list[str]]:
        """The overview lines of articles `low`-`high` of the selected group (OVER, 224), split by tab;
        none when the range is empty (423).

        A server from before RFC 3977 knows the command by its older name (RFC 2980's XOVER); one that
        keeps no overview at all (neither, or 503) is read article by article with HEAD, into the same
        fields: RFC 3977 section 8.4's number, Subject, From, Date, Message-ID, References, :bytes and
        :lines, the last two left empty.
        """
        reply = self.command(f"OVER {low}-{high}", Stage.READING)
        if reply.code == 500:
            reply = self.command(f"XOVER {low}-{high}", Stage.READING)
        if reply.code in (500, 503):
            return self._head_rows(range(low, high + 1))
        if reply.code in (420, 423):
            return []
        if reply.code != 224:
            raise NntpFailure(Stage.READING, "OVER was refused", reply)
        return [line.split("\t") for line in self.lines(Stage.READING)]

    def _head_rows(self, numbers: Sequence[int]) -> list[list[str]]:
        names = ("subject", "from", "date", "message-id", "references")
        rows = []
        heads = self._pipelined([f"HEAD {number}" for number in numbers], found=221, missing=(420, 423))
        for number, head in zip(numbers, heads, strict=True):
            if head is not None:
                fields = header_fields(line.decode("utf-8", errors="replace") for line in head)
                rows.append([str(number), *(fields.get(name, "") for name in names), "", ""])
        return rows

    def articles(self, message_ids: Sequence[str]) -> list[bytes | None]:
        """Each article as the server holds it, lines joined by CRLF (ARTICLE, 220), or None when the
        server has no article with that Message-ID (430)."""
        commands = [f"ARTICLE {message_id}" for message_id in message_ids]
        return [
            None if lines is None else b"\r\n".join(lines) + b"\r\n"
            for lines in self._pipelined(commands, found=220, missing=(430,))
        ]

    def _pipelined(
        self, commands: Sequence[str], *, found: int, missing: Iterable[int]
    ) -> list[list[bytes] | None]:
        """Each command's multi-line answer (`found`), or None (`missing`), the commands pipelined
        (RFC 3977 section 3.5) a batch at a time.

        Asked one by one, each answer's status line and text go out as small writes that wait on the
        client's delayed acknowledgement (Nagle's algorithm): some 40 ms an answer on Linux.
        """
        absent = tuple(missing)
        if any(character in command for command in commands for character in "\r\n\0"):
            raise ValueError("an NNTP command is one line")
        answers: list[list[bytes] | None] = []
        for start in range(0, len(commands), PIPELINED_COMMANDS):
            batch = commands[start : start + PIPELINED_COMMANDS]
            self._ends_at = time.monotonic() + self._seconds
            self._send("".join(f"{command}\r\n" for command in batch).encode("utf-8"), Stage.READING)
            for command in batch:
                self._ends_at = time.monotonic() + self._seconds
                reply = self._reply(Stage.READING)
                if reply.code in absent:
                    answers.append(None)
                elif reply.code == found:
                    answers.append(self.raw_lines(Stage.READING))
                else:
                    raise NntpFailure(Stage.READING, f"{command.split(' ', 1)[0]} was refused", reply)
        return answers

    def quit(self) -> None:
        """Say goodbye (QUIT) and close; a server that hangs up first is no matter."""
        with contextlib.suppress(NntpFailure):
            self.command("QUIT", Stage.READING)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()

    # -- The wire ------------------------------------------------------------------------------------

    def lines(self, stage: Stage) -> list[str]:
        """A multi-line block's lines up to its terminating "." line, dot-unstuffed, bounded in size."""
        return [raw.decode("utf-8", errors="replace") for raw in self.raw_lines(stage)]

    def raw_lines(self, stage: Stage) -> list[bytes]:
        """`lines`, as the bytes that came: an article's body is in the charset its header names."""
        lines: list[bytes] = []
        total = 0
        while True:
            raw = self._line(stage)
            total += len(raw)
            if total > self._max_answer_bytes:
                raise NntpFailure(stage, f"the answer is larger than {self._max_answer_bytes} bytes")
            if raw == b".":
                return lines
            if raw.startswith(b"."):
                raw = raw[1:]  # RFC 3977 section 3.1.1: a leading dot is the stuffing's
            lines.append(raw)

    def _reply(self, stage: Stage) -> Reply:
        raw = self._line(stage)
        text = raw.decode("utf-8", errors="replace")
        code = text[:3]
        if len(code) < 3 or not code.isdigit() or text[3:4] not in ("", " "):
            raise NntpFailure(stage, f"the server answered something that is not NNTP: {text[:80]!r}")
        return Reply(int(code), text[4:].strip())

    def _line(self, stage: Stage) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise NntpFailure(stage, f"the server sent a line longer than {MAX_LINE_BYTES} bytes")
            self._socket.settimeout(self._time_left(stage))
            try:
                chunk = self._socket.recv(65536)
            except (OSError, ssl.SSLError) as error:
                raise NntpFailure(stage, _lost(error)) from error
            if not chunk:
                raise NntpFailure(stage, "the server closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.removesuffix(b"\r")

    def _send(self, data: bytes, stage: Stage) -> None:
        self._socket.settimeout(self._time_left(stage))
        try:
            self._socket.sendall(data)
        except (OSError, ssl.SSLError) as error:
            raise NntpFailure(stage, _lost(error)) from error

    def _time_left(self, stage: Stage) -> float:
        left = self._ends_at - time.monotonic()
        if left <= 0:
            raise NntpFailure(stage, f"the server did not answer within {self._seconds:g} seconds")
        return left


def header_fields(lines: Iterable[str]) -> dict[str, str]:
    """A header's fields by lower-case name, unfolded (RFC 5322 section 2.2.3), the first of each name;
    a tab becomes a space, as in the overview (RFC 3977 section 8.3.2)."""
    fields: dict[str, str] = {}
    name = ""
    for line in lines:
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        field_name, colon, value = line.partition(":")
        if not colon:
            name = ""
            continue
        name = field_name.strip().lower()
        if name in fields:
            name = ""  # a repeated field: the first one counts
            continue
        fields[name] = value.strip()
    return {key: value.replace("\t", " ") for key, value in fields.items()}


def _connect(server: Server, policy: AddressPolicy, tls_context: ssl.SSLContext) -> socket.socket:
    """A connection to one of the host's addresses the policy allows (never to the name itself)."""
    try:
        addresses = policy.addresses(server.host, server.port)
    except Exception as error:  # AddressRefused, a failed or slow lookup: no connection was made
        raise NntpFailure(Stage.CONNECT, str(error)) from error
    failure: OSError | None = None
    for address in addresses:
        try:
            sock = socket.create_connection((str(address), server.port), timeout=CONNECT_SECONDS)
        except OSError as error:
            failure = error
            continue
        if server.tls is not Tls.IMPLICIT:
            return sock
        try:
            return tls_context.wrap_socket(sock, server_hostname=server.host)
        except (OSError, ssl.SSLError) as error:
            sock.close()
            raise _tls_failure(Stage.CONNECT, error) from error
    raise NntpFailure(Stage.CONNECT, f"could not connect to {server.host}:{server.port}: {failure}")


def _tls_failure(stage: Stage, error: BaseException) -> NntpFailure:
    lasting = isinstance(error, ssl.SSLCertVerificationError)
    return NntpFailure(stage, f"TLS failed: {error}", lasting=lasting)


def _stuffed(line: str) -> bytes:
    """One line as sent: a leading dot doubled (RFC 3977 section 3.1.1), then CRLF."""
    data = line.encode("utf-8")
    return (b"." + data if data.startswith(b".") else data) + b"\r\n"


def _lost(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "the server stopped answering"
    return f"the connection broke: {error}"
