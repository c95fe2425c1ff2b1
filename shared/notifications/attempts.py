"""Each attempt to send a webhook message: claiming due messages, and the state machine after an answer.

- A sender claims due messages under a lease (`claim_due_messages`), POSTs them outside any transaction
  (shared.notifications.sending), and records each attempt (`record_attempt`): delivered; pending again
  after a backoff; or failed, when the answer will not get better or the attempts are spent.
- A message whose sender died holding it is claimed again once its lease has passed, and goes out with
  the same id, so a receiver that dedupes on it sees it once.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.db import affected_rows
from shared.notifications.endpoints import SUBJECT
from shared.notifications.models import (
    MessageState,
    WebhookAttempt,
    WebhookAttemptOutcome,
    WebhookEndpoint,
    WebhookMessage,
)
from shared.wording import counted
from shared.workspaces.access import Actor

# Waits after the first, second, … failed attempt; attempts beyond the schedule wait as long as its last.
WEBHOOK_RETRY_SCHEDULE = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
)
LONGEST_WAIT = WEBHOOK_RETRY_SCHEDULE[-1]
# Each wait is the schedule's, give or take this fraction, so one receiver's backlog does not come back
# in a single burst.
JITTER = 0.2

# Answers that may get better by themselves. 401 is among them although it is a refusal: a receiver
# answers it while its copy of the secret is being rotated, and accepts the same message once it has the
# new one. Any other 4xx, and any 3xx (redirects are not followed), will not get better.
RETRYABLE_STATUSES = frozenset({401, 408, 425, 429})


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
    gave_up = judged is WebhookAttemptOutcome.WILL_RETRY and attempts >= max_attempts
    outcome = WebhookAttemptOutcome.FAILED if gave_up else judged
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
    if outcome is WebhookAttemptOutcome.ENDPOINT_GONE:
        _deactivate_gone(session, claim, result)
    return values["state"] if affected_rows(moved) == 1 else None


def judge(result: AttemptResult) -> WebhookAttemptOutcome:
    """What an answer means for its message, before counting attempts."""
    status = result.status_code
    if status is None:
        return WebhookAttemptOutcome.FAILED if result.refused else WebhookAttemptOutcome.WILL_RETRY
    if 200 <= status < 300:
        return WebhookAttemptOutcome.DELIVERED
    if status == 410:
        return WebhookAttemptOutcome.ENDPOINT_GONE
    if status in RETRYABLE_STATUSES or status >= 500:
        return WebhookAttemptOutcome.WILL_RETRY
    return WebhookAttemptOutcome.FAILED


def _next_values(
    outcome: WebhookAttemptOutcome, result: AttemptResult, attempts: int, now: datetime, rng: random.Random
) -> dict[str, Any]:
    if outcome is WebhookAttemptOutcome.DELIVERED:
        return {
            "state": MessageState.DELIVERED,
            "delivered_at": now,
            "next_attempt_at": None,
            "last_error": None,
        }
    if outcome is WebhookAttemptOutcome.WILL_RETRY:
        wait = webhook_retry_delay(attempts, rng)
        if result.retry_after is not None:
            # The receiver's Retry-After is a floor: it never brings a retry sooner than the schedule's,
            # and never holds one back for longer than the schedule's longest wait.
            wait = max(wait, min(result.retry_after - now, LONGEST_WAIT))
        return {"state": MessageState.PENDING, "next_attempt_at": now + wait, "last_error": result.error}
    error = result.error
    if outcome is WebhookAttemptOutcome.ENDPOINT_GONE:
        error = f"{error} (the receiver says the endpoint is gone, so it was deactivated)"
    return {"state": MessageState.FAILED, "next_attempt_at": None, "last_error": error}


def webhook_retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: the schedule's wait, with jitter."""
    base = WEBHOOK_RETRY_SCHEDULE[min(attempts, len(WEBHOOK_RETRY_SCHEDULE)) - 1]
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
