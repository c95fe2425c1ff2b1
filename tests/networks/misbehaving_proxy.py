"""A reverse proxy that misbehaves on request: real HTTP on 127.0.0.1, in front of any of the fakes.

Between Crier and a network's server there is usually nginx, a load balancer or Cloudflare, and they fail
in ways the server behind them does not. This proxy forwards every request to its upstream (a fake of a
network) and hands back the answer untouched, except for the requests a test singles out by method and path
prefix. For those it can do what real proxies do:

- `Mode.ANSWER`: answer by itself, without forwarding; the server never sees the request. So a proxy that
  could not reach its upstream answers (nginx's 502 Bad Gateway when the connection is refused, its 503
  when `limit_req` or a maintenance switch turns the request away, a 429 when `limit_req_status 429` is set),
  and so a test stands in for any refusal of the server's own.
- `Mode.ANSWER_AFTER_FORWARDING`: forward the request, let the server act on it, then answer something else
  instead of what it said. The proxy lost the answer, but the write landed: nginx answers 504 Gateway
  Time-out when the upstream has not answered within `proxy_read_timeout` (60 s by default) and 502 Bad
  Gateway when the upstream closed the connection or answered something unreadable; Cloudflare answers 524
  "A timeout occurred" when the origin accepted the connection and the request but sent no answer within
  100 s, and 520 to 523 for the origin's other failures. nginx with `error_page 502 504 =200 /maint.html`
  even turns such a failure into a 200 with its own page.
- `Mode.CLOSE_AFTER_FORWARDING`: forward the request, then close the connection without answering: a proxy
  or server that crashed, was restarted by a deploy, or was killed after reading the request.

The error pages are those the proxies write: nginx's from its `ngx_http_error_pages` (the status line as
title and heading, "nginx" under a rule, CRLF line ends) and Cloudflare's titled "<host> | <code>: <reason>"
with the Ray ID it also sends as the CF-RAY header.
"""

from __future__ import annotations

import enum
import secrets
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from werkzeug.wrappers import Request, Response

from tests.networks.fake_servers import FakeServer

# Headers of one connection, not of the message: a proxy never passes them on (RFC 9110 section 7.6.1).
# Content-Length is recomputed for the body as forwarded, and httpx has already undone Content-Encoding.
_NOT_PASSED_ON = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        # The proxy's own server stamps these on every answer; two of each would be wrong.
        "server",
        "date",
    }
)

# nginx's status lines, as its error pages carry them (src/http/ngx_http_special_response.c).
NGINX_STATUS_LINES = {
    301: "301 Moved Permanently",
    400: "400 Bad Request",
    401: "401 Authorization Required",
    403: "403 Forbidden",
    404: "404 Not Found",
    408: "408 Request Time-out",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}
# Cloudflare's errors for an origin that misbehaved (Cloudflare's documentation, "Cloudflare 5xx errors").
CLOUDFLARE_REASONS = {
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    523: "Origin is unreachable",
    524: "A timeout occurred",
}


class Mode(enum.Enum):
    """What the proxy does with a request a rule singles out."""

    ANSWER = "answer without forwarding"
    ANSWER_AFTER_FORWARDING = "forward, then answer instead of the server"
    CLOSE_AFTER_FORWARDING = "forward, then close the connection without answering"


@dataclass(frozen=True)
class Answer:
    """An answer the proxy gives of its own."""

    status: int
    body: str = ""
    content_type: str = "text/html"
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(self.body, status=self.status, content_type=self.content_type, headers=self.headers)


@dataclass
class Rule:
    """Requests with this method whose path starts with `path_prefix`, and what to do with them.

    `times` is how many more requests it takes (None: every one until the proxy is reset); `hits` counts
    those it took.
    """

    method: str
    path_prefix: str
    mode: Mode
    answer: Answer | None = None
    times: int | None = 1
    hits: int = 0

    def __post_init__(self) -> None:
        if (self.answer is None) != (self.mode is Mode.CLOSE_AFTER_FORWARDING):
            raise ValueError(f"{self.mode.value}: an answer is needed exactly when the proxy answers")

    def takes(self, method: str, path: str) -> bool:
        return (
            method == self.method
            and path.startswith(self.path_prefix)
            and (self.times is None or self.hits < self.times)
        )


@dataclass(frozen=True)
class Forwarded:
    """A request the upstream received."""

    method: str
    path: str


def nginx_page(status: int, **headers: str) -> Answer:
    """The error page nginx writes for `status`."""
    line = NGINX_STATUS_LINES[status]
    page = (
        f"<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Answer(status, page, "text/html", headers)


def cloudflare_page(status: int, host: str = "social.example") -> Answer:
    """The error page Cloudflare writes when the origin behind it misbehaved (520 to 524)."""
    reason = CLOUDFLARE_REASONS[status]
    ray = secrets.token_hex(8)
    page = (
        f'<!DOCTYPE html>\n<html lang="en-US">\n<head><title>{host} | {status}: {reason}</title>\n'
        '<meta charset="UTF-8" /><style>body{font-family:sans-serif}</style></head>\n'
        f'<body><div id="cf-error-details"><h1><span>{reason}</span> <span>Error code {status}</span></h1>\n'
        f"<p>Visit cloudflare.com for more information.</p>\n"
        f"<p>Cloudflare Ray ID: <strong>{ray}</strong></p></div></body>\n</html>\n"
    )
    return Answer(status, page, "text/html; charset=UTF-8", {"CF-RAY": f"{ray}-AMS"})


def proxy_error_page(status: int) -> Answer:
    """A proxy's page for `status`: nginx's, or Cloudflare's for 520 to 524."""
    return cloudflare_page(status) if status in CLOUDFLARE_REASONS else nginx_page(status)


class MisbehavingProxy(FakeServer):
    """The proxy, served in a thread on a free port of 127.0.0.1 until stop()."""

    def __init__(self, upstream: str, *, timeout: float = 10.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.forwarded: list[Forwarded] = []
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        super().__init__(self._serve)

    def stop(self) -> None:
        super().stop()
        self._http.close()

    # -- What a test tells it ------------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        """Apply `rule` to the requests it names, before the rules added earlier."""
        with self._lock:
            self._rules.insert(0, rule)
        return rule

    def reset(self) -> None:
        """Forward everything again, and forget what was forwarded."""
        with self._lock:
            self._rules.clear()
            self.forwarded.clear()

    def forwarded_to(self, method: str, path_prefix: str) -> list[Forwarded]:
        """The requests the upstream received with this method and path prefix."""
        with self._lock:
            return [f for f in self.forwarded if f.method == method and f.path.startswith(path_prefix)]

    # -- The proxy -----------------------------------------------------------------------------------

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        rule = self._rule_for(request.method, request.path)
        if rule is not None and rule.mode is Mode.ANSWER:
            assert rule.answer is not None
            return rule.answer.response()(environ, start_response)
        answer = self._forward(request)
        if rule is None:
            return answer(environ, start_response)
        if rule.mode is Mode.ANSWER_AFTER_FORWARDING:
            assert rule.answer is not None
            return rule.answer.response()(environ, start_response)
        # The request has been read whole and acted on: closing now is a clean hang-up (a FIN, not a reset)
        # before a byte of any answer. werkzeug takes a ConnectionError as the client having gone away.
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("closed after forwarding, as the test asked")

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.takes(method, path):
                    rule.hits += 1
                    return rule
        return None

    def _forward(self, request: Request) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_PASSED_ON]
        upstream = self._http.request(
            request.method,
            self.upstream + request.environ["RAW_URI"],
            headers=headers,
            content=request.get_data(),
        )
        with self._lock:
            self.forwarded.append(Forwarded(request.method, request.path))
        passed_on = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in _NOT_PASSED_ON]
        return Response(upstream.content, status=upstream.status_code, headers=passed_on)
