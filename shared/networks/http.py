"""What every HTTP network adapter shares: timeouts, sorting transport failures into "not sent" and "may
have been sent", reading when a 429 says to come back, and keeping secrets out of messages and logs.
What an HTTP answer means is read in shared.networks.answers."""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import urllib.parse
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from shared.networks.ports import NetworkError, OutcomeUnknown, Transient

# Connecting is quick or it is not happening; a receiver may take a while to answer once it has the post.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
USER_AGENT = "Crier (self-hosted social media scheduler)"
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
    """
    detail = redact(f"{type(error).__name__}: {error}".rstrip(": "), secrets)
    if isinstance(error, NOT_SENT):
        return Transient(f"{what}: could not reach the server ({detail}); nothing was sent.")
    if not sent_a_write:
        return Transient(f"{what}: no answer to a read ({detail}); it changed nothing.")
    # ReadTimeout, WriteTimeout, WriteError, ReadError, RemoteProtocolError and anything unforeseen: the
    # request went out, or part of it did, and no answer came back.
    return OutcomeUnknown(f"{what}: no answer after sending ({detail}); it may have gone through.")


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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server_url(
    value: object, *, setting: str, example: str, secret: str, allow_insecure_loopback: bool
) -> tuple[str | None, list[str]]:
    """A server's address from a channel setting, normalised, or the problems with it.

    https only: `secret` (an access token, an app password) would be readable on the way over plain http.
    http is allowed for a server on this machine, and only when the channel says so explicitly.
    """
    if not isinstance(value, str) or not value.strip():
        return None, [f"{setting} is required: the server's address, e.g. {example}"]
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, [f"{setting} must be an address such as {example}"]
    if parts.query or parts.fragment or parts.username or parts.password:
        return None, [f"{setting} must be the server's address only, without a query, fragment or login"]
    if parts.scheme == "http":
        if not is_loopback(parts.hostname):
            return None, [f"{setting} must use https: {secret} sent over plain http can be read on the way"]
        if not allow_insecure_loopback:
            return None, [
                f"{setting} uses http; that is allowed only for a server on this machine (a loopback "
                "address), and only with allow_insecure_loopback: true"
            ]
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", []
