"""Talking to INN without the adapter's client, and a proxy that loses INN's answer to an article."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence

from tests.networks.nntp.inn import GROUP


class Reader:
    """A bare NNTP reader over a socket, so what INN holds is read without the code under test."""

    def __init__(self, port: int) -> None:
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=5)
        self._file = self._socket.makefile("rb")
        self._line()
        self.command("MODE READER")

    def _line(self) -> bytes:
        return self._file.readline().rstrip(b"\r\n")

    def command(self, line: str) -> str:
        self._socket.sendall(line.encode() + b"\r\n")
        return self._line().decode()

    def block(self) -> list[bytes]:
        lines = []
        while (line := self._line()) != b".":
            lines.append(line)
        return lines

    def article(self, message_id_: str) -> tuple[dict[str, str], list[bytes]] | None:
        """The article's header (unfolded, by name) and its body's raw lines as they came over the wire."""
        if not self.command(f"ARTICLE {message_id_}").startswith("220"):
            return None
        lines = self.block()
        blank = lines.index(b"")
        headers: dict[str, str] = {}
        name = ""
        for raw in lines[:blank]:
            text = raw.decode("ascii")
            if text[:1] in (" ", "\t"):
                headers[name] += text
            else:
                name, _, value = text.partition(": ")
                headers[name] = value
        return headers, lines[blank + 1 :]

    def post(
        self,
        message_id_: str,
        references: Sequence[str] = (),
        *,
        sender: str = "reader@elsewhere.test",
        newsgroups: str = GROUP,
        subject: str = "Re: something",
        body: str = "I agree.",
        extra: Sequence[str] = (),
    ) -> None:
        """Post an article as another newsreader would: these headers, INN adding the rest."""
        assert self.command("POST").startswith("340")
        headers = [
            f"From: {sender}",
            f"Newsgroups: {newsgroups}",
            f"Subject: {subject}",
            f"Message-ID: {message_id_}",
            *([f"References: {' '.join(references)}"] if references else []),
            *extra,
            "Content-Type: text/plain; charset=UTF-8",
        ]
        lines = [*headers, "", *body.split("\n")]
        wire = "".join(("." + line if line.startswith(".") else line) + "\r\n" for line in lines)
        answer = self.command(wire + ".")
        assert answer.startswith("240"), answer

    def group(self, group: str) -> tuple[int, int]:
        """The group's low and high marks."""
        fields = self.command(f"GROUP {group}").split()
        return int(fields[2]), int(fields[3])

    def count(self, group: str) -> int:
        return int(self.command(f"GROUP {group}").split()[1])

    def close(self) -> None:
        self.command("QUIT")
        self._socket.close()


def body_of(lines: list[bytes]) -> str:
    """The body as text, dot-stuffing undone as a reader would."""
    return "\n".join((line[1:] if line.startswith(b"..") else line).decode("utf-8") for line in lines)


def post_raw(port: int, message_id_: str, references: list[str]) -> None:
    reader = Reader(port)
    reader.post(message_id_, references)
    reader.close()


class AnswerLosingProxy:
    """Between the adapter and INN: it forwards everything, but once the client has sent an article's
    final dot, it waits for INN's answer to it, drops that answer and hangs up: INN has the article, the
    adapter never hears so."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = int(self._listener.getsockname()[1])
        self.answers_dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._target))
            article_sent = threading.Event()
            threading.Thread(target=self._upstream, args=(client, server, article_sent), daemon=True).start()
            threading.Thread(
                target=self._downstream, args=(server, client, article_sent), daemon=True
            ).start()

    def _upstream(self, client: socket.socket, server: socket.socket, article_sent: threading.Event) -> None:
        seen = b""
        while data := _recv(client):
            seen = (seen + data)[-5:]
            if b"\r\n.\r\n" in seen:
                article_sent.set()
            server.sendall(data)

    def _downstream(
        self, server: socket.socket, client: socket.socket, article_sent: threading.Event
    ) -> None:
        while data := _recv(server):
            if article_sent.is_set():
                self.answers_dropped += 1
                break
            client.sendall(data)
        for end in (client, server):
            # shutdown, not only close: the other pump is blocked reading this socket.
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self._listener.close()


def _recv(connection: socket.socket) -> bytes:
    try:
        return connection.recv(65536)
    except OSError:
        return b""
