"""Sending owed webhook messages: claim in one transaction, POST outside any, record in another.

The contract receivers implement. It signs the way the webhook network does
(shared/networks/post_receiver/signing.py), so a receiver of both implements one check:

- `POST <url>` with a JSON body `{"id", "type", "created_at", "occurred_at", "data"}`. `id` is the
  message's id, the same on every attempt, so a receiver can drop a repeat; `type` is the event type
  (`delivery.published`, …, or `ping`); `data` is the event's own document; `occurred_at` is when the event
  happened; `created_at` is when this request was made (UTC, ISO 8601), as in the webhook network.
- `X-Crier-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the endpoint's secret.
  `X-Crier-Timestamp: <unix seconds>` is `created_at` again, signed through the body, for receivers that
  refuse stale requests. `X-Crier-Event` repeats the type; `X-Crier-Delivery` and `Idempotency-Key` the id.
- A 2xx answer means delivered. 410 Gone deactivates the endpoint: nothing more is sent to it (its other
  messages wait) until a person activates it again. 401, 408, 425, 429, 5xx and no answer at all are tried
  again after 30 s, 2 min, 10 min, 1 h, 6 h and 24 h, each give or take a fifth (and never sooner than a
  Retry-After says), up to CRIER_WEBHOOK_MAX_ATTEMPTS attempts. Any other answer is final: redirects are
  not followed, and other 4xx will not get better.

Each POST keeps to the outbound policy (shared.networks.outbound): https, to a public address or one the
operator allowed, looked up once and connected to as checked; it ends by CRIER_WEBHOOK_TIMEOUT_SECONDS
whatever the receiver does, and no more of its answer is read than an excerpt needs. A URL that breaks the
policy as written (plain http, a private address written out) is refused for good; one whose name leads
somewhere refused fails like a receiver that does not answer, in the same words, and is tried again later.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx

from shared.credentials import CredentialCipher, CredentialsUnreadable
from shared.dependencies import HasCredentials, HasNetworkCalls, HasOutbound, HasSessions, HasSettings
from shared.networks.outbound import AddressPolicy
from shared.networks.post_receiver.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from shared.networks.toolkit.answers import body_words, redact, retry_at
from shared.networks.toolkit.calls import NOT_SENT
from shared.notifications.attempts import AttemptResult, ClaimedMessage, claim_due_messages, record_attempt
from shared.notifications.endpoints import open_secret, url_problems
from shared.notifications.models import MessageState

log = logging.getLogger(__name__)

EVENT_HEADER = "X-Crier-Event"
DELIVERY_HEADER = "X-Crier-Delivery"

SEND_BATCH_SIZE = 100
# Longer than a batch can take: each POST is bounded by its deadline, and a batch's POSTs run side by side
# on the process's network threads. A claim outlived by its sender is sent again, under the same id.
SEND_LEASE = timedelta(minutes=5)
# How much of a refusal's body is read, at most, to quote from it.
ANSWER_READ_LIMIT = 4096
CONNECT_TIMEOUT_SECONDS = 5.0


class SendingWebhooks(HasSettings, HasSessions, HasCredentials, HasNetworkCalls, HasOutbound, Protocol):
    """What sending webhook messages uses of its process."""


def send_due_webhooks(
    services: SendingWebhooks,
    now: datetime,
    *,
    limit: int = SEND_BATCH_SIZE,
    lease: timedelta = SEND_LEASE,
    rng: random.Random | None = None,
) -> int:
    """POST the messages due at `now`, and record each outcome. Returns how many were attempted."""
    settings = services.settings
    with services.sessions.begin() as session:
        claims = claim_due_messages(session, now=now, limit=limit, lease=lease)
    if not claims:
        return 0
    timeout = httpx.Timeout(
        settings.webhook_timeout_seconds,
        connect=min(CONNECT_TIMEOUT_SECONDS, settings.webhook_timeout_seconds),
    )
    outbound = services.outbound
    with outbound.client(timeout, deadline_seconds=settings.webhook_timeout_seconds) as client:
        sender = Sender(client, services.credentials, now, outbound.policy)
        results = list(services.network_calls.map(sender.send, claims))
    with services.sessions.begin() as session:
        states = [
            record_attempt(
                session, claim, result, now=now, max_attempts=settings.webhook_max_attempts, rng=rng
            )
            for claim, result in zip(claims, results, strict=True)
        ]
    for claim, result, state in zip(claims, results, states, strict=True):
        if state is MessageState.FAILED:
            log.warning(
                "webhook message %s to endpoint %s failed for good: %s",
                claim.message_id,
                claim.endpoint_id,
                result.error,
            )
    return len(claims)


@dataclass
class Sender:
    """POSTs claimed messages with one HTTP client; safe to use from several threads at once."""

    client: httpx.Client
    cipher: CredentialCipher
    now: datetime  # the run's clock, which a Retry-After in seconds is counted from
    policy: AddressPolicy

    def send(self, claim: ClaimedMessage) -> AttemptResult:
        """One attempt; whatever goes wrong comes back as a result, so one message cannot sink the batch."""
        started = time.monotonic()
        try:
            return self._send(claim, started)
        except Exception:
            log.exception("unexpected error sending webhook message %s", claim.message_id)
            return AttemptResult(
                duration=_since(started),
                error="Crier failed while sending (a bug: the worker's log has the details).",
            )

    def _send(self, claim: ClaimedMessage, started: float) -> AttemptResult:
        try:
            secret = open_secret(self.cipher, claim.sealed_secret)
        except CredentialsUnreadable:
            return AttemptResult(
                duration=_since(started),
                error="Not sent: the endpoint's secret cannot be opened with the configured "
                "CRIER_SECRET_KEY; restore the secret that sealed it, or rotate the endpoint's secret.",
            )
        refused = url_problems(claim.url, policy=self.policy, pointer="/url")
        if refused:
            return AttemptResult(
                duration=_since(started), error=f"Not sent: {refused[0].detail}", refused=True
            )
        body, headers = signed_request(claim, secret, datetime.now(UTC))
        try:
            with self.client.stream("POST", claim.url, content=body, headers=headers) as response:
                status = response.status_code
                quoted = "" if response.is_success else _quote_answer(response, secret)
        except httpx.TransportError as error:
            # The same words whatever happened, as for channels (toolkit.calls.transport_failure): the
            # endpoint's admin must not learn from them what listens at an address. The log has it.
            detail = redact(f"{type(error).__name__}: {error}".rstrip(": "), [secret])
            log.warning("webhook message %s to endpoint %s: %s", claim.message_id, claim.endpoint_id, detail)
            said = "No connection could be made" if isinstance(error, NOT_SENT) else "No complete answer"
            return AttemptResult(duration=_since(started), error=f"{said} (the server's log has why).")
        duration = _since(started)
        if response.is_success:
            return AttemptResult(duration=duration, status_code=status)
        said = f"HTTP {status}: {quoted}".rstrip(": ")
        if response.is_redirect:
            said += " (redirects are not followed: give the webhook its final URL)"
        retry_after = retry_at(response.headers, self.now) if status in (429, 503) else None
        return AttemptResult(duration=duration, status_code=status, error=said, retry_after=retry_after)


def signed_request(claim: ClaimedMessage, secret: str, sent_at: datetime) -> tuple[bytes, dict[str, str]]:
    """The exact body bytes and the headers of one attempt."""
    body = json.dumps(
        {
            "id": str(claim.message_id),
            "type": claim.event_type,
            "created_at": sent_at.isoformat(),
            "occurred_at": claim.created_at.isoformat(),
            "data": claim.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body),
        TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
        EVENT_HEADER: claim.event_type,
        DELIVERY_HEADER: str(claim.message_id),
        "Idempotency-Key": str(claim.message_id),
    }
    return body, headers


def _quote_answer(response: httpx.Response, secret: str) -> str:
    """The start of a refusal's body as words (an HTML page's text), secret redacted; a stall is cut."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= ANSWER_READ_LIMIT:
                break
    except httpx.TransportError:
        pass
    text = data[:ANSWER_READ_LIMIT].decode(errors="replace")
    return body_words(text, response.headers.get("Content-Type", ""), [secret])


def _since(started: float) -> timedelta:
    return timedelta(seconds=time.monotonic() - started)
