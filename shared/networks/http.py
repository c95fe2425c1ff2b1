"""What every HTTP network adapter shares: sorting transport failures into "not sent" and "may have been
sent", reading when a 429 says to come back, checking a server's address, and keeping secrets out of
messages and logs. Where a call may connect and how long it may take is shared.networks.outbound; what an
HTTP answer means is read in shared.networks.answers."""

from __future__ import annotations

import logging
import math
import re
import urllib.parse
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from shared.networks.outbound import AddressPolicy, AnswerTooLarge
from shared.networks.ports import NetworkError, OutcomeUnknown, Transient

log = logging.getLogger(__name__)

# Failures that happen before any byte of the request can have been read by the receiver: the connection
# was never made, or the pool never handed one out. Anything else may have delivered the post.
NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


# A webhook URL's last path segment is its secret (Discord's token, Slack's key).
_SECRET_IN_PATH = re.compile(r"(/webhooks/\d+/|/services/T\w+/B\w+/)[^/?#\s\"']+")


class RedactWebhookSecrets(logging.Filter):
    """Blanks webhook secrets in the URLs httpx logs at INFO for every request it makes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_IN_PATH.sub(r"\1[redacted]", message)
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


def retry_at(headers: httpx.Headers, now: datetime, seconds: float | None = None) -> datetime | None:
    """When a 429 says to come back: `seconds` (from a body) if given, else the Retry-After header."""
    if seconds is None:
        value = headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return now + timedelta(seconds=seconds)


def redact(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret replaced, so an error message can be stored and shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


# A channel setting older channels carry, read and ignored: whether a server may be reached over plain http
# is the operator's to say (CRIER_ALLOWED_PRIVATE_HOSTS), no longer each channel's.
LEGACY_LOOPBACK_SETTING = "allow_insecure_loopback"


def check_server_url(
    value: object, *, setting: str, example: str, secret: str, policy: AddressPolicy
) -> tuple[str | None, list[str]]:
    """A server's address from a channel setting, normalised, or the problems with it.

    https only: `secret` (an access token, an app password) would be readable on the way over plain http.
    http is allowed only to a server the operator named in CRIER_ALLOWED_PRIVATE_HOSTS. An address written
    out that Crier may not connect to is refused here; a name is looked up on each call (see
    shared.networks.outbound), since what it leads to may change after the channel is saved.
    """
    if not isinstance(value, str) or not value.strip():
        return None, [f"{setting} is required: the server's address, e.g. {example}"]
    try:
        parts = urllib.parse.urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None, [f"{setting} must be an address such as {example}"]
    if not readable_url(value.strip()):
        return None, [f"{setting} must be an address such as {example}"]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, [f"{setting} must be an address such as {example}"]
    if parts.query or parts.fragment or parts.username or parts.password:
        return None, [f"{setting} must be the server's address only, without a query, fragment or login"]
    problem = address_problem(parts.scheme, parts.hostname, policy, secret=secret)
    if problem:
        return None, [f"{setting} {problem}"]
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", []


def readable_url(url: str) -> bool:
    """Whether the HTTP client can read the URL at all: it refuses some that urllib takes (0177.0.0.1),
    and such a URL must be refused where it is given, not fail when it is called."""
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return True


def address_problem(scheme: str, host: str, policy: AddressPolicy, *, secret: str) -> str | None:
    """Why a URL's scheme and host may not be called, as far as is known without looking the name up."""
    if policy.refuses_as_written(host):
        return (
            "is an address on this machine or a private network, which this Crier does not connect to "
            "(its operator may allow one with CRIER_ALLOWED_PRIVATE_HOSTS)"
        )
    if scheme == "http" and not policy.allows_plain_http(host):
        return (
            f"must use https: {secret} sent over plain http can be read on the way (http is allowed only "
            "to a server the operator names in CRIER_ALLOWED_PRIVATE_HOSTS)"
        )
    return None
