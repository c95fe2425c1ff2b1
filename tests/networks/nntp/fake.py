"""A small news server over a real socket, for what a real INN cannot be made to do on cue.

It follows RFC 3977 (NNTP) for the commands the adapter sends: the greeting (200), CAPABILITIES (101),
MODE READER (200), POST (340, then 240 / 441), STAT (223 / 430), GROUP (211 / 411), OVER (224, section
8.3), HEAD by article number (221 / 423, section 6.2.2), ARTICLE by Message-ID (220 / 430, section 6.2.1),
QUIT (205), and RFC 4643's AUTHINFO USER/PASS (381, 281 / 481). Article numbers are the order in which
articles arrived, from 1. Articles are kept by Message-ID; a second one
under the same Message-ID is answered as INN answers it, "441 435 Duplicate".

The main tests run against a real INN (tests/networks/nntp/inn.py). This fake is only for misbehaviours:
a hang-up or a stall after the article's final dot (the article stored, or not), a 400 in mid-session,
garbage instead of a reply, a greeting that refuses, a chosen reply to POST or after the article.

`serving_one_account()` starts one with a channel ready to post: for a test that publishes to every
network at once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.networks.raw_servers import RawServer

GROUP = "local.crier.test"


@dataclass
class FakeNewsServer:
    """The server's state and its switches; `port` is where it listens on 127.0.0.1."""

    greeting: str = "200 fake.crier.test ready (posting ok)"
    # A reply to POST instead of 340 (e.g. "440 Posting not permitted").
    reply_to_post: str | None = None
    # After the article's final dot: "store" and answer 240; "hang up" (after storing it, or not);
    # "stall" (store it and never answer); "garbage"; or a reply line of the test's choosing.
    after_dot: str = "240 Article received"
    store_before_failing: bool = True
    # A reply to every command after this many commands (e.g. "400 server going down").
    fail_after_commands: int | None = None
    fail_with: str = "400 Service temporarily unavailable"
    credentials: tuple[str, str] | None = None
    # False: a server from before RFC 3977, which knows OVER only as XOVER (RFC 2980).
    knows_over: bool = True
    # False: a server that keeps no overview database, and knows neither OVER nor XOVER (500).
    keeps_overview: bool = True
    articles: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: RawServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

    def start(self) -> FakeNewsServer:
        self._server = RawServer(self._serve)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def channel(self, **settings: Any) -> dict[str, Any]:
        """A channel's settings for this server."""
        return {
            "server": "127.0.0.1",
            "port": self.port,
            "tls": "none",
            "newsgroups": [GROUP],
            "from": "Crier Tests <tests@crier.test>",
            **settings,
        }

    # -- The protocol ---------------------------------------------------------------------------------

    def _serve(self, server: RawServer, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        send = connection.sendall
        send(self.greeting.encode() + b"\r\n")
        if not self.greeting.startswith("20"):
            return
        user: str | None = None
        authenticated = self.credentials is None
        count = 0
        selected = GROUP
        while not server.stopping:
            raw = reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            with self._lock:
                self.commands.append(line)
            count += 1
            if self.fail_after_commands is not None and count > self.fail_after_commands:
                send(self.fail_with.encode() + b"\r\n")
                return
            if verb == "CAPABILITIES":
                send(b"101 Capability list:\r\nVERSION 2\r\nREADER\r\nPOST\r\nOVER\r\nAUTHINFO USER\r\n.\r\n")
            elif verb == "MODE":
                send(b"200 Posting allowed\r\n")
            elif verb == "AUTHINFO" and argument.upper().startswith("USER "):
                user = argument[5:]
                send(b"381 Password required\r\n")
            elif verb == "AUTHINFO" and argument.upper().startswith("PASS "):
                authenticated = self.credentials == (user, argument[5:])
                send(
                    b"281 Authentication accepted\r\n" if authenticated else b"481 Authentication failed\r\n"
                )
            elif not authenticated:
                send(b"480 Authentication required\r\n")
            elif verb == "POST":
                if not self._post(reader, send):
                    return
            elif verb == "STAT":
                with self._lock:
                    found = argument in self.articles
                send(f"223 0 {argument}\r\n".encode() if found else b"430 No such article\r\n")
            elif verb == "GROUP":
                selected = argument
                send(f"211 {len(self.articles)} 1 {len(self.articles)} {selected}\r\n".encode())
            elif (verb == "OVER" and not self.knows_over) or (
                verb in ("OVER", "XOVER") and not self.keeps_overview
            ):
                send(b"500 What?\r\n")
            elif verb in ("OVER", "XOVER"):
                send(b"224 Overview follows\r\n" + self._overview() + b".\r\n")
            elif verb == "HEAD":
                send(self._head(argument))
            elif verb == "ARTICLE":
                send(self._article(argument))
            elif verb == "QUIT":
                send(b"205 Bye\r\n")
                return
            else:
                send(b"500 Unknown command\r\n")

    def _post(self, reader: Any, send: Any) -> bool:
        """One POST; False when the connection is to end."""
        if self.reply_to_post:
            send(self.reply_to_post.encode() + b"\r\n")
            return True
        send(b"340 Send article\r\n")
        lines: list[str] = []
        while True:
            raw = reader.readline()
            if not raw:
                return False
            if raw == b".\r\n":
                break
            data = raw.rstrip(b"\r\n")
            lines.append((data[1:] if data.startswith(b"..") else data).decode("utf-8", errors="replace"))
        message_id = next((line[12:].strip() for line in lines if line.lower().startswith("message-id:")), "")
        with self._lock:
            duplicate = message_id in self.articles
            if not duplicate and (self.after_dot.startswith("240") or self.store_before_failing):
                self.articles[message_id] = lines
        if duplicate:
            send(b"441 435 Duplicate\r\n")
        elif self.after_dot == "hang up":
            return False
        elif self.after_dot == "stall":
            threading.Event().wait(30)
            return False
        elif self.after_dot == "garbage":
            send(b"\x00\xffHTTP/1.1 502 Bad Gateway\r\n")
        else:
            send(self.after_dot.encode() + b"\r\n")
        return True

    def _head(self, number: str) -> bytes:
        with self._lock:
            articles = list(self.articles.items())
        if not number.isdigit() or not 1 <= int(number) <= len(articles):
            return b"423 No article with that number\r\n"
        message_id, lines = articles[int(number) - 1]
        header = lines[: lines.index("")] if "" in lines else lines
        return f"221 {number} {message_id}\r\n".encode() + _block(header)

    def _article(self, message_id: str) -> bytes:
        with self._lock:
            lines = self.articles.get(message_id)
        if lines is None:
            return b"430 No such article\r\n"
        return f"220 0 {message_id}\r\n".encode() + _block(lines)

    def _overview(self) -> bytes:
        with self._lock:
            articles = list(self.articles.items())
        rows = []
        for number, (message_id, lines) in enumerate(articles, start=1):
            references = next((line[11:].strip() for line in lines if line.startswith("References:")), "")
            rows.append(f"{number}\tsubject\tfrom\tdate\t{message_id}\t{references}\t0\t0\r\n")
        return "".join(rows).encode()


def _block(lines: list[str]) -> bytes:
    """A multi-line block: each line dot-stuffed (RFC 3977 section 3.1.1), then the "." line."""
    stuffed = ("." + line if line.startswith(".") else line for line in lines)
    return "".join(f"{line}\r\n" for line in stuffed).encode() + b".\r\n"


@contextmanager
def serving(**switches: Any) -> Iterator[FakeNewsServer]:
    server = FakeNewsServer(**switches).start()
    try:
        yield server
    finally:
        server.close()


def serving_one_account() -> tuple[FakeNewsServer, dict[str, Any]]:
    """A started fake news server and a channel to post to it with: {"settings": ..., "credentials": {}}.

    The caller closes the server. The channel posts without TLS to 127.0.0.1, which the operator must
    allow (CRIER_ALLOWED_PRIVATE_HOSTS=127.0.0.1).
    """
    server = FakeNewsServer().start()
    return server, {"settings": server.channel(), "credentials": {}}
