"""Publishing claimed deliveries, and settling the uncertain ones: the use cases that call networks.

The network calls happen between transactions, never inside one: a transaction held open across a slow
network would hold locks (and, on SQLite, the whole database) for its duration, and the attempt rows must
be committed before the calls so that a crash mid-call leaves evidence that a post may exist.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from shared.channels.opening import Opening, account_with_credentials
from shared.db import utcnow
from shared.deliveries.attempts import (
    PublishJob,
    attempt_outcome,
    begin_attempts,
    defer,
    finish_attempts,
    read_claimed,
)
from shared.deliveries.models import AttemptOutcome, DeliveryState
from shared.deliveries.reconciling import (
    ReconcileJob,
    record_reconciliation,
    send_to_review,
    unknown_deliveries,
)
from shared.dependencies import HasLimits, HasNetworkCalls, HasNetworks, HasSettings
from shared.media.ports import HasMedia, HasPublicMedia
from shared.monitoring.recording import (
    count_publish_attempt,
    count_token_refresh_failure,
    observe_scheduling_lag,
)
from shared.networks.ports import AuthExpired, NetworkError, OutcomeUnknown, PublishedPost, Transient
from shared.networks.registry import UnknownNetwork
from shared.networks.toolkit.answers import storable_parts, storable_post

log = logging.getLogger(__name__)

RECONCILE_BATCH = 200


class Publishing(
    Opening, HasSettings, HasNetworks, HasNetworkCalls, HasLimits, HasMedia, HasPublicMedia, Protocol
):
    """What publishing and settling deliveries use of their process."""


def publish_deliveries(
    services: Publishing, claims: Sequence[tuple[uuid.UUID, int]]
) -> dict[uuid.UUID, DeliveryState | None]:
    """Attempt each claimed delivery once; the new state of each, or None for a stale claim.

    A claim Crier's own rate limit holds back is scheduled again, not attempted. The calls run side by side
    on the process's network threads, each waiting for its delivery's due time: deliveries are claimed up
    to a second early so that they go out on the second.
    """
    settings = services.settings
    with services.sessions.begin() as session:
        claimed = read_claimed(
            session,
            claims,
            public_url=settings.public_url,
            media=services.media,
            addresses=services.public_media,
        )
    # Outside any transaction: the database limiter runs transactions of its own.
    allowed, deferred = _within_limits(services, claimed)
    outcomes: dict[uuid.UUID, DeliveryState | None] = dict.fromkeys((claim[0] for claim in claims), None)
    with services.sessions.begin() as session:
        now = utcnow()
        for job, wait, reason in deferred:
            if defer(session, job, until=now + timedelta(seconds=wait), reason=reason, now=now):
                outcomes[job.delivery_id] = DeliveryState.SCHEDULED
        jobs = begin_attempts(
            session, allowed, now=now, lease=timedelta(seconds=settings.publish_lease_seconds)
        )
    if not jobs:
        return outcomes
    results = list(services.network_calls.map(lambda job: _call_network(services, job), jobs))
    finished = list(zip(jobs, results, strict=True))
    finished_at = utcnow()
    with services.sessions.begin() as session:
        states = finish_attempts(
            session, finished, now=finished_at, max_attempts=settings.max_publish_attempts
        )
    _report_attempts(finished, states, finished_at)
    return outcomes | states


def _report_attempts(
    finished: Sequence[tuple[PublishJob, PublishedPost | NetworkError]],
    states: dict[uuid.UUID, DeliveryState | None],
    finished_at: datetime,
) -> None:
    """Count and log what each attempt got, once finish_attempts has committed it."""
    for job, result in finished:
        outcome = attempt_outcome(result)
        count_publish_attempt(job.network, outcome)
        if isinstance(result, AuthExpired):
            count_token_refresh_failure(job.network)
        if states.get(job.delivery_id) == DeliveryState.PUBLISHED and isinstance(result, PublishedPost):
            # The published_at finish_attempts stored: the histogram agrees with the table.
            published_at = result.created_at or finished_at
            observe_scheduling_lag(job.network, (published_at - job.scheduled_at).total_seconds())
        if outcome in (AttemptOutcome.PUBLISHED, AttemptOutcome.RATE_LIMITED):
            log.info("publish attempt %d: %s", job.attempt, outcome.value, extra=_about(job))
        else:
            log.warning("publish attempt %d: %s: %s", job.attempt, outcome.value, result, extra=_about(job))


def _about(job: PublishJob | ReconcileJob) -> dict[str, str]:
    """The `extra` of a record about one delivery: its ids as top-level fields of a JSON log line."""
    return {"delivery_id": str(job.delivery_id), "channel_id": job.account.channel_id, "network": job.network}


def _within_limits(
    services: Publishing, jobs: Sequence[PublishJob]
) -> tuple[list[PublishJob], list[tuple[PublishJob, float, str]]]:
    """The jobs Crier's own rate limits let through now; the others with how long they must wait."""
    allowed: list[PublishJob] = []
    deferred: list[tuple[PublishJob, float, str]] = []
    for job in jobs:
        try:
            info = services.networks.get(job.network).info
        except UnknownNetwork:
            allowed.append(job)  # it fails as transient below, with the reason
            continue
        buckets = [
            (f"channel:{job.account.channel_id}", info.account_rate, "this channel"),
            (f"network:{job.network}", info.network_rate, f"{info.display_name} as a whole"),
        ]
        for key, rate, scope in buckets:
            if rate is None:
                continue
            wait = services.limits.try_acquire(key, rate)
            if wait > 0:
                deferred.append((job, wait, f"Waiting {wait:.1f} s for the posting limit on {scope}."))
                break
        else:
            allowed.append(job)
    return allowed, deferred


def publish_delivery(services: Publishing, delivery_id: uuid.UUID, attempt: int) -> DeliveryState | None:
    """publish_deliveries for one claim."""
    return publish_deliveries(services, [(delivery_id, attempt)])[delivery_id]


def _call_network(services: Publishing, job: PublishJob) -> PublishedPost | NetworkError:
    try:
        network = services.networks.get(job.network)
    except UnknownNetwork as error:
        # Nothing was sent. Another worker, deployed with the plugin, may take the retry.
        return Transient(str(error))
    # Claimed up to a lookahead early: hold the call until its time, but never longer than the lookahead,
    # whatever the clocks say.
    early = min((job.due_at - utcnow()).total_seconds(), services.settings.scheduler_lookahead_seconds)
    if early > 0:
        time.sleep(early)
    what = network.info.display_name
    try:
        account = account_with_credentials(services, job.account, job.sealed_credentials, network=network)
        post = network.publish(account, job.draft, job.idempotency_key, published=job.published)
        return storable_post(post, what=what, write=True)
    except NetworkError as error:
        return _with_storable_parts(error, what)
    except Exception as error:
        # A bug in an adapter tells us nothing about whether the request went out.
        log.exception("adapter %s raised an unexpected error", job.network, extra=_about(job))
        return OutcomeUnknown(f"{type(error).__name__}: {error}")


def _with_storable_parts(error: NetworkError, what: str) -> NetworkError:
    """The error, or, when a part it says was made cannot be stored, an unknown outcome with the parts
    before it: that part may exist, and is looked for before anything is sent again."""
    parts, problem = storable_parts(error.published)
    if problem is None:
        return error
    said = f"{what} answered with a post Crier cannot keep: {problem}; it may exist, and Crier checks"
    return OutcomeUnknown(said, published=parts)


def reconcile_unknown(services: Publishing) -> dict[uuid.UUID, DeliveryState | None]:
    """Ask each uncertain delivery's network whether the post exists, and settle what it answers."""
    with services.sessions.begin() as session:
        jobs = unknown_deliveries(
            session, limit=RECONCILE_BATCH, public_url=services.settings.public_url, media=services.media
        )
    settled: dict[uuid.UUID, DeliveryState | None] = {}
    for job in jobs:
        settled[job.delivery_id] = _reconcile_one(services, job)
    return settled


def _reconcile_one(services: Publishing, job: ReconcileJob) -> DeliveryState | None:
    settings = services.settings
    try:
        network = services.networks.get(job.network)
    except UnknownNetwork as error:
        found: PublishedPost | NetworkError | None = Transient(str(error))
    else:
        if not network.info.can_find_published:
            with services.sessions.begin() as session:
                reviewed = send_to_review(
                    session,
                    job,
                    reason=f"{network.info.display_name} offers no way to check whether the uncertain "
                    "attempt published the post. Look on the network; then mark it published, or republish.",
                    now=utcnow(),
                )
            _report_settled(job, reviewed)
            return reviewed
        try:
            account = account_with_credentials(services, job.account, job.sealed_credentials, network=network)
            found = network.find_published(
                account,
                job.idempotency_key,
                draft=job.draft,
                attempted_at=job.first_attempted_at,
                last_attempted_at=job.attempt_started_at,
                published=job.published,
            )
            if found is not None:
                found = storable_post(found, what=network.info.display_name, write=False)
        except NetworkError as error:
            found = _with_storable_parts(error, network.info.display_name)
        except Exception as error:
            log.exception(
                "adapter %s raised an unexpected error while reconciling", job.network, extra=_about(job)
            )
            found = OutcomeUnknown(f"{type(error).__name__}: {error}")
    with services.sessions.begin() as session:
        settled = record_reconciliation(
            session,
            job,
            found,
            now=utcnow(),
            give_up_after=timedelta(seconds=settings.reconcile_give_up_seconds),
            max_attempts=settings.max_publish_attempts,
        )
    if isinstance(found, AuthExpired):
        count_token_refresh_failure(job.network)
    _report_settled(job, settled)
    return settled


def _report_settled(job: ReconcileJob, state: DeliveryState | None) -> None:
    if state is not None:
        log.info("uncertain publish attempt %d settled: %s", job.attempt, state.value, extra=_about(job))
