"""Webhook endpoints, and the outbox of messages owed to them.

- `emit` adds one pending message per active endpoint subscribed to the event, in the caller's
  transaction: the message exists exactly when the action it tells about committed, and the action never
  waits for a receiver.
- A sender claims due messages under a lease (`claim_due_messages`), POSTs them outside any transaction
  (shared.notifications.sending), and records each attempt (`record_attempt`): delivered; pending again
  after a backoff; or failed, when the answer will not get better or the attempts are spent.
- A message whose sender died holding it is claimed again once its lease has passed, and goes out with
  the same id, so a receiver that dedupes on it sees it once.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.credentials import CredentialCipher
from shared.db import affected_rows, utcnow
from shared.errors import Conflict, InvalidInput, NotFound, Problem
from shared.masking import masked_url
from shared.networks.outbound import PUBLIC_ONLY, AddressPolicy, address_problem, readable_url
from shared.notifications.models import (
    ALL_EVENTS,
    SUBSCRIBABLE_EVENTS,
    AttemptOutcome,
    EventType,
    MessageState,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from shared.wording import counted
from shared.workspaces.access import Actor

# A prefix secret scanners and people recognise; the rest is 32 random bytes.
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000

# Waits after the first, second, … failed attempt; attempts beyond the schedule wait as long as its last.
RETRY_SCHEDULE = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
)
LONGEST_WAIT = RETRY_SCHEDULE[-1]
# Each wait is the schedule's, give or take this fraction, so one receiver's backlog does not come back
# in a single burst.
JITTER = 0.2

# Answers that may get better by themselves. 401 is among them although it is a refusal: a receiver
# answers it while its copy of the secret is being rotated, and accepts the same message once it has the
# new one. Any other 4xx, and any 3xx (redirects are not followed), will not get better.
RETRYABLE_STATUSES = frozenset({401, 408, 425, 429})

SUBJECT = "webhook"


@dataclass(frozen=True)
class EndpointSecret:
    """An endpoint with its signing secret in the clear: only when it is made or its secret rotated."""

    endpoint: WebhookEndpoint
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ClaimedMessage:
    """A message a sender holds until `lease_expires_at`, with everything sending it needs."""

    message_id: uuid.UUID
    endpoint_id: uuid.UUID
    workspace_id: uuid.UUID
    url: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    # The claim's own mark: recording compares it, so a sender whose lease ran out and was claimed again
    # meanwhile cannot overwrite the newer claim's outcome.
    lease_expires_at: datetime
    sealed_secret: bytes = field(repr=False)


@dataclass(frozen=True)
class AttemptResult:
    """What one POST of a message came to, as its sender saw it."""

    duration: timedelta
    status_code: int | None = None  # None: no HTTP answer came
    error: str | None = None  # why it was not delivered, with the secret redacted
    retry_after: datetime | None = None  # when a 429 or 503 said to come back
    refused: bool = False  # not sent, and trying again cannot help (the address is not allowed)


@dataclass(frozen=True)
class Event:
    """Something that happened in a workspace that its endpoints may want to hear about."""

    workspace_id: uuid.UUID
    type: EventType
    payload: Mapping[str, Any]


def emit_all(session: Session, events: Sequence[Event]) -> list[WebhookMessage]:
    """emit for many events at once, reading the endpoints once: publishing finishes deliveries in batches."""
    if not events:
        return []
    endpoints: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    for endpoint in session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.workspace_id.in_({event.workspace_id for event in events}),
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ):
        endpoints.setdefault(endpoint.workspace_id, []).append(endpoint)
    now = utcnow()
    messages = [
        _message(endpoint, event.type, json_ready(event.payload), now)
        for event in events
        for endpoint in endpoints.get(event.workspace_id, [])
        if endpoint.subscribes_to(event.type)
    ]
    session.add_all(messages)
    session.flush()
    return messages


def emit(
    session: Session, workspace_id: uuid.UUID, event: EventType, payload: Mapping[str, Any]
) -> list[WebhookMessage]:
    """Owe `event` to each of the workspace's active endpoints subscribed to it, in the caller's transaction.

    Nothing is sent here: a sender picks the messages up once the transaction has committed, and a
    rolled-back action leaves no message behind. `payload` may hold datetimes, UUIDs and enums besides
    JSON's own types.
    """
    return emit_all(session, [Event(workspace_id, event, payload)])


def ping_endpoint(session: Session, workspace_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookMessage:
    """Owe a `ping` to one endpoint, whatever it subscribes to: a person checking that it receives."""
    endpoint = get_endpoint(session, workspace_id, endpoint_id)
    if not endpoint.active:
        raise Conflict("The webhook is inactive: activate it, then ping it.")
    message = _message(endpoint, EventType.PING, {"webhook_id": str(endpoint.id)}, utcnow())
    session.add(message)
    session.flush()
    return message


def _message(
    endpoint: WebhookEndpoint, event: EventType, payload: dict[str, Any], now: datetime
) -> WebhookMessage:
    return WebhookMessage(
        endpoint_id=endpoint.id,
        workspace_id=endpoint.workspace_id,
        event_type=event.value,
        payload=payload,
        state=MessageState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        # Known to be empty, so the message can be shown after its session has closed.
        attempt_log=[],
    )


def json_ready(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON values; raises TypeError for a value with no obvious JSON form."""
    return cast(dict[str, Any], json.loads(json.dumps(dict(payload), default=_json_value)))


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"a webhook payload cannot carry {type(value).__name__} values")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def open_secret(cipher: CredentialCipher, sealed: bytes) -> str:
    """The endpoint's secret in the clear, for signing one message. Raises CredentialsUnreadable."""
    return str(cipher.open(sealed)["secret"])


def _seal(cipher: CredentialCipher, secret: str) -> bytes:
    # seal() answers None only for empty credentials, which these never are.
    return cast(bytes, cipher.seal({"secret": secret}))


def create_endpoint(
    session: Session,
    actor: Actor,
    cipher: CredentialCipher,
    *,
    url: str,
    events: Sequence[str],
    description: str = "",
    active: bool = True,
    policy: AddressPolicy = PUBLIC_ONLY,
) -> EndpointSecret:
    """Register an endpoint; the answer carries its new secret, which is never shown again."""
    _check(url_problems(url, policy=policy, pointer="/url") + event_problems(events, pointer="/events"))
    secret = new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=actor.workspace_id,
        url=url,
        description=description,
        events=list(dict.fromkeys(events)),
        sealed_secret=_seal(cipher, secret),
        active=active,
    )
    session.add(endpoint)
    session.flush()
    # The URL may be the receiver's credential: the log keeps its host alone (shared.masking).
    record(
        session, actor, "webhook.created", SUBJECT, endpoint.id, url=masked_url(url), events=endpoint.events
    )
    return EndpointSecret(endpoint, secret)


def list_endpoints(session: Session, workspace_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    """The workspace's endpoints, oldest first."""
    return session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).all()


def get_endpoint(session: Session, workspace_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.workspace_id != workspace_id:
        raise NotFound(SUBJECT, endpoint_id)
    return endpoint


def update_endpoint(
    session: Session,
    actor: Actor,
    endpoint_id: uuid.UUID,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    policy: AddressPolicy = PUBLIC_ONLY,
) -> WebhookEndpoint:
    """Change what is given (None leaves a field as it is). Activating clears Crier's reason for stopping."""
    endpoint = get_endpoint(session, actor.workspace_id, endpoint_id)
    problems: list[Problem] = []
    if url is not None:
        problems += url_problems(url, policy=policy, pointer="/url")
    if events is not None:
        problems += event_problems(events, pointer="/events")
    _check(problems)
    changes: dict[str, Any] = {}
    if url is not None and url != endpoint.url:
        endpoint.url = changes["url"] = url
    if events is not None and list(dict.fromkeys(events)) != endpoint.events:
        endpoint.events = changes["events"] = list(dict.fromkeys(events))
    if description is not None and description != endpoint.description:
        endpoint.description = changes["description"] = description
    if active is not None and active != endpoint.active:
        endpoint.active = changes["active"] = active
        endpoint.deactivated_reason = None
    if changes:
        if "url" in changes:
            changes["url"] = masked_url(changes["url"])
        record(session, actor, "webhook.updated", SUBJECT, endpoint.id, **changes)
    return endpoint


def delete_endpoint(session: Session, actor: Actor, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint with its messages and their log; messages still pending are never sent."""
    endpoint = get_endpoint(session, actor.workspace_id, endpoint_id)
    session.delete(endpoint)
    record(session, actor, "webhook.deleted", SUBJECT, endpoint_id, url=masked_url(endpoint.url))


def rotate_secret(
    session: Session, actor: Actor, cipher: CredentialCipher, endpoint_id: uuid.UUID
) -> EndpointSecret:
    """Give the endpoint a new secret, shown once. Every message sent from now on is signed with it,
    retries of older messages included."""
    endpoint = get_endpoint(session, actor.workspace_id, endpoint_id)
    secret = new_secret()
    endpoint.sealed_secret = _seal(cipher, secret)
    record(session, actor, "webhook.secret_rotated", SUBJECT, endpoint.id)
    return EndpointSecret(endpoint, secret)


def list_messages(
    session: Session,
    workspace_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[WebhookMessage]:
    """An endpoint's messages with their attempts, newest first; `before` is the (created_at, id) of the
    last message of the previous page."""
    get_endpoint(session, workspace_id, endpoint_id)
    query = select(WebhookMessage).where(
        WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.workspace_id == workspace_id
    )
    if before is not None:
        created_at, message_id = before
        query = query.where(
            (WebhookMessage.created_at < created_at)
            | ((WebhookMessage.created_at == created_at) & (WebhookMessage.id < message_id))
        )
    return session.scalars(
        query.order_by(WebhookMessage.created_at.desc(), WebhookMessage.id.desc()).limit(limit)
    ).all()


def _check(problems: list[Problem]) -> None:
    if problems:
        raise InvalidInput(problems)


def url_problems(url: str, *, policy: AddressPolicy, pointer: str) -> list[Problem]:
    """What is wrong with an endpoint's URL: https, a host, no login, and not a private address.

    A name is looked up when a message is sent (shared.networks.outbound), since what it leads to may
    change after the endpoint is saved; here only an address written out can be judged.
    """

    def problem(detail: str) -> list[Problem]:
        return [Problem(pointer, detail)]

    if len(url) > MAX_URL_LENGTH:
        return problem(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return problem("Not a valid URL.")
    if not readable_url(url):
        return problem("Not a valid URL.")
    if parts.scheme not in ("http", "https"):
        return problem("The URL must start with https://.")
    if not parts.hostname:
        return problem("The URL must name a host.")
    if parts.username or parts.password:
        return problem("The URL must not carry a user name or password: the signature authenticates Crier.")
    refused = address_problem(parts.scheme, parts.hostname, policy, secret="the signed message")
    if refused:
        return problem(f"The URL {refused}.")
    return []


def event_problems(events: Sequence[str], *, pointer: str) -> list[Problem]:
    if not events:
        return [
            Problem(
                pointer, f'Name at least one event, or "{ALL_EVENTS}" for all (to hear nothing, deactivate).'
            )
        ]
    known = ", ".join([ALL_EVENTS, *SUBSCRIBABLE_EVENTS])
    return [
        Problem(f"{pointer}/{index}", f"Not an event one can subscribe to; one of: {known}.")
        for index, event in enumerate(events)
        if event != ALL_EVENTS and event not in SUBSCRIBABLE_EVENTS
    ]


def claim_due_messages(
    session: Session, *, now: datetime, limit: int, lease: timedelta
) -> list[ClaimedMessage]:
    """Hold up to `limit` due messages of active endpoints until `now + lease`, oldest first.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets several senders claim disjoint batches at once; on SQLite,
    where SQLAlchemy drops that clause, every transaction starts with BEGIN IMMEDIATE, so claims take
    turns (see shared.db.create_db_engine). A message held by a sender that died is due again once its
    lease has passed. Messages of an inactive endpoint wait: they go out if it is activated again.
    """
    due = (
        select(WebhookMessage.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(
            WebhookMessage.state == MessageState.PENDING,
            WebhookMessage.next_attempt_at <= now,
            or_(WebhookMessage.lease_expires_at.is_(None), WebhookMessage.lease_expires_at <= now),
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookMessage.next_attempt_at)
        .limit(limit)
        .with_for_update(of=WebhookMessage, skip_locked=True)
    )
    ids = session.scalars(due).all()
    if not ids:
        return []
    lease_expires_at = now + lease
    session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id.in_(ids))
        .values(lease_expires_at=lease_expires_at)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(WebhookMessage, WebhookEndpoint.url, WebhookEndpoint.sealed_secret)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(WebhookMessage.id.in_(ids))
        .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    return [
        ClaimedMessage(
            message_id=message.id,
            endpoint_id=message.endpoint_id,
            workspace_id=message.workspace_id,
            url=url,
            event_type=message.event_type,
            payload=message.payload,
            created_at=message.created_at,
            attempts=message.attempts,
            lease_expires_at=lease_expires_at,
            sealed_secret=sealed_secret,
        )
        for message, url, sealed_secret in rows
    ]


def record_attempt(
    session: Session,
    claim: ClaimedMessage,
    result: AttemptResult,
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random | None = None,
) -> MessageState | None:
    """Log one attempt and move its message on. Returns the message's new state, or None when the claim
    had gone stale (its lease ran out and another sender claimed it): then only the log records it.

    A 410 deactivates the endpoint, whoever's claim it answered: the receiver said it is gone.
    """
    exists = session.scalar(
        # Locked, so deleting the endpoint cannot take the message away before its attempt is logged.
        select(WebhookMessage.id).where(WebhookMessage.id == claim.message_id).with_for_update()
    )
    if exists is None:
        return None  # the endpoint was deleted meanwhile, and its messages with it
    attempts = claim.attempts + 1
    judged = judge(result)
    gave_up = judged is AttemptOutcome.WILL_RETRY and attempts >= max_attempts
    outcome = AttemptOutcome.FAILED if gave_up else judged
    session.add(
        WebhookAttempt(
            message_id=claim.message_id,
            at=now,
            duration_ms=round(result.duration.total_seconds() * 1000),
            status_code=result.status_code,
            outcome=outcome,
            error=result.error,
        )
    )
    values = _next_values(outcome, result, attempts, now, rng or random.Random())
    if gave_up:
        values["last_error"] = f"Gave up after {counted(attempts, 'attempt')}. Last error: {result.error}"
    moved = session.execute(
        update(WebhookMessage)
        .where(
            WebhookMessage.id == claim.message_id,
            WebhookMessage.state == MessageState.PENDING,
            WebhookMessage.lease_expires_at == claim.lease_expires_at,
        )
        .values(attempts=attempts, lease_expires_at=None, last_status_code=result.status_code, **values)
        .execution_options(synchronize_session=False)
    )
    if outcome is AttemptOutcome.ENDPOINT_GONE:
        _deactivate_gone(session, claim, result)
    return values["state"] if affected_rows(moved) == 1 else None


def judge(result: AttemptResult) -> AttemptOutcome:
    """What an answer means for its message, before counting attempts."""
    status = result.status_code
    if status is None:
        return AttemptOutcome.FAILED if result.refused else AttemptOutcome.WILL_RETRY
    if 200 <= status < 300:
        return AttemptOutcome.DELIVERED
    if status == 410:
        return AttemptOutcome.ENDPOINT_GONE
    if status in RETRYABLE_STATUSES or status >= 500:
        return AttemptOutcome.WILL_RETRY
    return AttemptOutcome.FAILED


def _next_values(
    outcome: AttemptOutcome, result: AttemptResult, attempts: int, now: datetime, rng: random.Random
) -> dict[str, Any]:
    if outcome is AttemptOutcome.DELIVERED:
        return {
            "state": MessageState.DELIVERED,
            "delivered_at": now,
            "next_attempt_at": None,
            "last_error": None,
        }
    if outcome is AttemptOutcome.WILL_RETRY:
        wait = retry_delay(attempts, rng)
        if result.retry_after is not None:
            # The receiver's Retry-After is a floor: it never brings a retry sooner than the schedule's,
            # and never holds one back for longer than the schedule's longest wait.
            wait = max(wait, min(result.retry_after - now, LONGEST_WAIT))
        return {"state": MessageState.PENDING, "next_attempt_at": now + wait, "last_error": result.error}
    error = result.error
    if outcome is AttemptOutcome.ENDPOINT_GONE:
        error = f"{error} (the receiver says the endpoint is gone, so it was deactivated)"
    return {"state": MessageState.FAILED, "next_attempt_at": None, "last_error": error}


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: the schedule's wait, with jitter."""
    base = RETRY_SCHEDULE[min(attempts, len(RETRY_SCHEDULE)) - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def _deactivate_gone(session: Session, claim: ClaimedMessage, result: AttemptResult) -> None:
    reason = f"The receiver answered 410 Gone to message {claim.message_id}: {result.error}"
    deactivated = session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == claim.endpoint_id, WebhookEndpoint.active.is_(True))
        .values(active=False, deactivated_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(deactivated) == 1:
        record(
            session,
            Actor.system(claim.workspace_id),
            "webhook.deactivated",
            SUBJECT,
            claim.endpoint_id,
            reason=reason,
        )
