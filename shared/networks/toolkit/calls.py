"""Sending a network's requests: each through the outbound client (the address policy, a deadline, a cap on
the answer's size), each failure as the NetworkError it means, each refusal read by the one ladder.

A failure below HTTP is sorted here (`transport_failure`), an unsuccessful answer by the ladder of
shared.networks.toolkit.answers (`refusal`), whose docstring lists what each means for a retry; what only
the network can say is supplied by its `Dialect`: its own words, its own sign of dead credentials, its own
rate-limit header. Secrets (a webhook's token, a signing key) are kept out of every message, and out of
httpx's own request log.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import httpx

from shared.networks.outbound import DEFAULT_TIMEOUT, UPLOAD, AnswerTooLarge, Outbound
from shared.networks.ports import NetworkError, OutcomeUnknown, Transient
from shared.networks.toolkit.answers import answer_object, redact, refusal

log = logging.getLogger(__name__)

# A social network's server may take a while over a write (it fans the post out), longer over a file.
SERVER_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=120.0, pool=5.0)

# Failures that happen before any byte of the request can have been read by the receiver: the connection
# was never made, or the pool never handed one out. Anything else may have delivered the post.
NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


# A webhook URL's last path segment is its secret (Discord's token, Slack's key); a Telegram bot's token
# follows its id in every Bot API path (/bot<id>:<secret>/<method>).
_SECRET_IN_PATH = re.compile(r"(/webhooks/\d+/|/services/T\w+/B\w+/|/bot\d+:)[^/?#\s\"']+")
# Meta's OAuth endpoints (Threads', Instagram's Facebook Login) take tokens, the app secret and the code in
# the query of a GET.
_SECRET_IN_QUERY = re.compile(
    r"([?&](?:access_token|client_secret|code|fb_exchange_token|refresh_token)=)[^&#\s\"']+"
)


class RedactWebhookSecrets(logging.Filter):
    """Blanks secrets in the URLs httpx logs at INFO for every request it makes: a webhook's in its path,
    a token or an app secret in its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_IN_QUERY.sub(r"\1[redacted]", _SECRET_IN_PATH.sub(r"\1[redacted]", message))
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def keep_secrets_out_of_http_logs() -> None:
    """Install the filter on httpx's logger, once: a worker logging at INFO would otherwise store tokens."""
    http_log = logging.getLogger("httpx")
    if not any(isinstance(existing, RedactWebhookSecrets) for existing in http_log.filters):
        http_log.addFilter(RedactWebhookSecrets())


def transport_failure(
    error: httpx.TransportError, *, what: str, secrets: Iterable[str] = (), sent_a_write: bool = True
) -> NetworkError:
    """What a failure below HTTP means: safe to retry, or possibly done.

    `sent_a_write` is False for reads (a GET changes nothing, so any failure is only worth a retry).

    The message is the same whatever the failure was: the address a user gave may be someone else's
    port, and "connection refused", "TLS handshake failed" or "timed out" would tell them what listens
    there. What happened goes to the log, where the operator reads it.
    """
    detail = redact(f"{type(error).__name__}: {error}".rstrip(": "), secrets)
    log.warning("%s: %s", what, detail)
    if isinstance(error, NOT_SENT):
        return Transient(
            f"{what}: no connection could be made (nothing answered there, or it is an address this Crier "
            "does not connect to); nothing was sent."
        )
    if isinstance(error, AnswerTooLarge):
        said = f"{what}: the answer was longer than Crier reads"
    else:
        said = f"{what}: no complete answer came back"
    if not sent_a_write:
        return Transient(f"{said} to a read; it changed nothing.")
    # ReadTimeout, WriteTimeout, WriteError, ReadError, RemoteProtocolError and anything unforeseen: the
    # request went out, or part of it did, and no answer came back.
    return OutcomeUnknown(f"{said}; it may have gone through.")


class Dialect:
    """How one network words its answers, where the ladder needs the network's own reading of them.

    This one reads them the generic way: the words from the body (JSON `error_description`, `error` or
    `message`, else the text), dead credentials only from a 401 or words that say so, and a 429's reset
    from Retry-After. A network subclasses it in its package for what it says its own way.
    """

    def own_error(self, response: httpx.Response, what: str) -> NetworkError | None:
        """The error an answer means before the ladder is climbed (a post the network says is gone)."""
        return None

    def words(self, response: httpx.Response) -> str | None:
        """What the network said, safe to show; None leaves the ladder to read the body."""
        return None

    def credentials_refused(self, response: httpx.Response) -> bool:
        """Whether the network says, in its own way, that the credentials are dead."""
        return False

    def reset_at(self, response: httpx.Response) -> datetime | None:
        """When a 429 says to come back, from the network's own header; None leaves Retry-After to say."""
        return None


class Calls:
    """One adapter's HTTP calls, all through one client of the outbound policy and bounds.

    `what` names the server or the call in every error a person reads ("mastodon.social", "Discord edit");
    by default the URL's host. `write` is whether the request could make or change a post: a failure after
    sending one may have done so. `secrets` are blanked in every message (and kept out of tracebacks).
    """

    def __init__(
        self,
        outbound: Outbound,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        dialect: Dialect | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        """`http` replaces the client (a test's, with a transport of its own); it must keep to `outbound`."""
        keep_secrets_out_of_http_logs()
        self.outbound = outbound
        self.dialect = dialect or Dialect()
        self._http = http or outbound.client(timeout)

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str | None = None,
        write: bool = False,
        token: str | None = None,
        secrets: Sequence[str] = (),
        upload: bool = False,
        **request: Any,
    ) -> httpx.Response:
        """One request, its answer whatever its status; a failure below HTTP raises what it means.

        `token` goes as a bearer token; `upload` gives the call the upload timeout and deadline.
        """
        if token is not None:
            request["headers"] = {"Authorization": f"Bearer {token}", **request.get("headers", {})}
        if upload:
            request.update(timeout=UPLOAD_TIMEOUT, extensions=UPLOAD)
        try:
            return self._http.request(method, url, **request)
        except httpx.TransportError as error:
            failure = transport_failure(error, what=what or host_of(url), secrets=secrets, sent_a_write=write)
            # An httpx error quotes the URL, and a webhook's URL holds its secret: keep it out of tracebacks.
            raise failure from (None if secrets else error)

    def refusal(
        self, response: httpx.Response, *, what: str, write: bool, secrets: Sequence[str] = ()
    ) -> NetworkError:
        """The error an unsuccessful answer means: the network's own reading first, then the ladder."""
        own = self.dialect.own_error(response, what)
        if own is not None:
            return own
        return refusal(
            response,
            what=what,
            write=write,
            words=self.dialect.words(response),
            credentials_refused=self.dialect.credentials_refused(response),
            reset_at=self.dialect.reset_at(response),
            secrets=secrets,
        )

    def check(
        self, response: httpx.Response, *, what: str, write: bool = False, secrets: Sequence[str] = ()
    ) -> None:
        """Raise the error an unsuccessful answer means; nothing for a success."""
        if not response.is_success:
            raise self.refusal(response, what=what, write=write, secrets=secrets)

    def answer(self, response: httpx.Response, *, what: str, write: bool = False) -> dict[str, Any]:
        """A successful answer's JSON object; the error an unsuccessful one means (see answer_object)."""
        self.check(response, what=what, write=write)
        return answer_object(response, what=what, write=write)


def host_of(url: str) -> str:
    """The host (and port) of a URL, as errors name the server."""
    return urllib.parse.urlsplit(url).netloc
