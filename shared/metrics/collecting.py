"""Collecting metrics: claim what is due, ask each network outside any transaction, store the answers.

Also the two other periodic jobs of the feature: each channel's daily snapshot of its followers, and the
retention sweep of raw samples.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from shared.channels.opening import Opening, account_with_credentials
from shared.channels.reads import take_read
from shared.db import utcnow
from shared.dependencies import HasLimits, HasNetworkCalls, HasNetworks, HasSettings
from shared.metrics.schedule import CollectionSchedule
from shared.metrics.services import (
    CollectionBatch,
    batches_for_post,
    claim_due_collections,
    note_collection,
    postpone_collections,
    prune_samples,
    record_engagement,
)
from shared.metrics.snapshots import SnapshotJob, channels_to_snapshot, record_snapshot
from shared.monitoring.recording import count_collection_error, count_token_refresh_failure
from shared.networks.ports import (
    Audience,
    AuthExpired,
    Engagement,
    NetworkError,
    NetworkInfo,
    PostGone,
    RateLimited,
    ReportsAudience,
)
from shared.networks.registry import UnknownNetwork

log = logging.getLogger(__name__)

# Deliveries claimed by one run; a run that takes them all is followed by the next tick's.
DUE_PER_RUN = 2000
# How long a claimed delivery is held by the run that claimed it; a run that dies lets go after this.
CLAIM_LEASE = timedelta(minutes=10)
# Posts per request for a network that sets no batch size of its own.
DEFAULT_BATCH_SIZE = 100
PRUNE_BATCH = 5000
PRUNE_ROUNDS = 100


class Collecting(Opening, HasSettings, HasNetworks, HasNetworkCalls, HasLimits, Protocol):
    """What collecting metrics and audiences uses of its process."""


@dataclass(frozen=True)
class ReadFailed:
    """A read that did not happen or did not succeed; `wait` is how long a rate limit asked for.

    A rate limit (the network's or Crier's own) is a pause, not a fault: only the others are kept as the
    channel's last collection error.
    """

    reason: str
    wait: timedelta | None = None
    limited: bool = False


def collect_metrics(services: Collecting, post_id: uuid.UUID | None = None) -> int:
    """Collect the metrics that are due (or all of one post's, now). Returns the number of samples stored.

    One request per channel and batch of the network's size, the requests side by side on the process's
    network threads, each within the network's read limits. A channel whose read fails is tried again
    later and keeps no other channel's numbers from being stored.
    """
    schedule = CollectionSchedule(services.settings.metrics_steps)
    with services.sessions.begin() as session:
        if post_id is None:
            batches = claim_due_collections(
                session, now=utcnow(), schedule=schedule, limit=DUE_PER_RUN, lease=CLAIM_LEASE
            )
        else:
            batches = batches_for_post(session, post_id)
    requests = [request for batch in batches for request in _requests(services, batch)]
    answers = list(services.network_calls.map(lambda request: _read(services, request), requests))
    stored = 0
    for request, answer in zip(requests, answers, strict=True):
        channel_id = uuid.UUID(request.account.channel_id)
        with services.sessions.begin() as session:
            if not isinstance(answer, ReadFailed):
                scheduled = schedule if post_id is None else None
                stored += record_engagement(session, request, answer, now=utcnow(), schedule=scheduled)
                note_collection(session, channel_id, now=utcnow())
                continue
            if post_id is None:
                postpone_collections(session, request, now=utcnow(), schedule=schedule, wait=answer.wait)
            if not answer.limited:
                note_collection(session, channel_id, now=utcnow(), error=f"Engagement: {answer.reason}")
    return stored


def _requests(services: Collecting, batch: CollectionBatch) -> list[CollectionBatch]:
    """The batch in parts the network takes in one request each."""
    try:
        size = services.networks.get(batch.network).info.engagement_batch_size
    except UnknownNetwork:
        size = None  # the read fails below, with the reason
    return batch.split(size or DEFAULT_BATCH_SIZE)


def _read(services: Collecting, request: CollectionBatch) -> Mapping[str, Engagement | PostGone] | ReadFailed:
    context = {"channel_id": request.account.channel_id, "network": request.network}
    if not request.readable:
        return ReadFailed("the channel must be reconnected before its metrics can be read")
    try:
        network = services.networks.get(request.network)
        if not network.info.metrics:
            return {}  # a network Crier cannot read back: only the clicks on Crier's own links are stored
        refused = _within_read_limits(services, network.info, request.account.channel_id)
        if refused is not None:
            return refused
        account = account_with_credentials(
            services, request.account, request.sealed_credentials, network=network
        )
        return network.fetch_engagement(account, list(request.delivery_by_external_id))
    except RateLimited as error:
        log.warning("the network limits metric reads: %s", error, extra=context)
        wait = (error.reset_at - utcnow()) if error.reset_at is not None else None
        return ReadFailed(str(error), wait, limited=True)
    except (NetworkError, UnknownNetwork) as error:
        return _network_failed(request.network, error, "could not collect metrics", context)
    except Exception as error:
        # A bug in one adapter must not keep the other networks' numbers from being stored.
        return _adapter_failed(request.network, error, "collecting metrics", context)


def _within_read_limits(services: Collecting, info: NetworkInfo, channel_id: str) -> ReadFailed | None:
    """Take a read from the channel's and the network's buckets; how long to wait if one is empty."""
    wait = take_read(services.limits, info, channel_id)
    if wait is None:
        return None
    return ReadFailed(str(wait), timedelta(seconds=wait.seconds), limited=True)


def take_snapshots(services: Collecting) -> int:
    """Read the followers, follows and posts of each channel not yet read today. Returns how many were kept.

    Run every hour: a channel whose network failed is tried again at the next run, and one read today is
    not read again (a snapshot a day, whatever the number of runs or of schedulers).
    """
    now = utcnow()
    networks = [name for name in services.networks.names() if _reports_audience(services, name)]
    with services.sessions.begin() as session:
        jobs = channels_to_snapshot(session, day=now.date(), networks=networks)
    kept = 0
    audiences = list(services.network_calls.map(lambda job: _audience(services, job), jobs))
    for job, audience in zip(jobs, audiences, strict=True):
        if audience is None:
            continue
        with services.sessions.begin() as session:
            if isinstance(audience, ReadFailed):
                note_collection(session, job.channel_id, now=utcnow(), error=f"Followers: {audience.reason}")
                continue
            kept += record_snapshot(session, job.channel_id, audience, now=utcnow())
            note_collection(session, job.channel_id, now=utcnow())
    return kept


def _reports_audience(services: Collecting, name: str) -> bool:
    try:
        return isinstance(services.networks.get(name), ReportsAudience)
    except Exception:
        log.exception("the network %s could not be loaded", name)
        return False


def _audience(services: Collecting, job: SnapshotJob) -> Audience | ReadFailed | None:
    """The account's counts; the failure to keep as the channel's error; None when held back by a limit."""
    network = services.networks.get(job.network)
    if not isinstance(network, ReportsAudience) or _within_read_limits(
        services, network.info, str(job.channel_id)
    ):
        return None
    context = {"channel_id": str(job.channel_id), "network": job.network}
    try:
        account = account_with_credentials(services, job.account, job.sealed_credentials, network=network)
        return network.fetch_audience(account)
    except RateLimited as error:
        log.warning("the network limits reading followers: %s", error, extra=context)
        return None
    except NetworkError as error:
        return _network_failed(job.network, error, "could not read the channel's followers", context)
    except Exception as error:
        return _adapter_failed(job.network, error, "reading followers", context)


def _network_failed(
    network: str, error: NetworkError | UnknownNetwork, failure: str, context: Mapping[str, str]
) -> ReadFailed:
    """Count and log a read the network (or a missing adapter) refused; its reason is the channel's error."""
    count_collection_error(network)
    if isinstance(error, AuthExpired):
        count_token_refresh_failure(network)
    log.warning("%s: %s", failure, error, extra=context)
    return ReadFailed(str(error))


def _adapter_failed(network: str, error: Exception, doing: str, context: Mapping[str, str]) -> ReadFailed:
    """Count and log an adapter's bug; called in the `except` block, so the log has the traceback."""
    count_collection_error(network)
    log.exception("adapter %s raised an unexpected error while %s", network, doing, extra=context)
    return ReadFailed(f"{type(error).__name__}: {error}")


def prune_metric_samples(services: Collecting) -> int:
    """Delete raw samples past the retention period, in batches. Returns how many were deleted."""
    before = utcnow() - timedelta(days=services.settings.metrics_retention_days)
    deleted = 0
    for _ in range(PRUNE_ROUNDS):
        with services.sessions.begin() as session:
            pruned = prune_samples(session, before=before, limit=PRUNE_BATCH)
        deleted += pruned
        if pruned < PRUNE_BATCH:
            break
    return deleted
