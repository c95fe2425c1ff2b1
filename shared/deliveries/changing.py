"""Applying changes to published deliveries (delete, edit): the use case that calls the networks.

As in publishing, the network calls happen between transactions: the claim (with its lease) is committed
first, so a worker that dies mid-call leaves a change that is taken again as uncertain and looked at.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Protocol

from shared.channels.opening import Opening, account_with_credentials
from shared.db import utcnow
from shared.deliveries.changes import ChangeJob, claim_due_changes, finish_changes
from shared.deliveries.models import ChangeKind, ChangeState
from shared.dependencies import HasNetworkCalls, HasNetworks, HasSettings
from shared.media.ports import HasMedia
from shared.networks.ports import (
    Account,
    EditsPosts,
    Network,
    NetworkError,
    OutcomeUnknown,
    PostGone,
    PublishedPart,
    Rejected,
    Transient,
)
from shared.networks.registry import UnknownNetwork

log = logging.getLogger(__name__)

CHANGES_PER_RUN = 100
CHANGE_LEASE = timedelta(minutes=5)


class Changing(Opening, HasSettings, HasNetworks, HasNetworkCalls, HasMedia, Protocol):
    """What applying changes to published deliveries uses of its process."""


def apply_due_changes(services: Changing) -> dict[uuid.UUID, ChangeState | None]:
    """Claim the changes that are due, apply each on its network, and record what each met."""
    settings = services.settings
    with services.sessions.begin() as session:
        jobs = claim_due_changes(
            session,
            now=utcnow(),
            limit=CHANGES_PER_RUN,
            lease=CHANGE_LEASE,
            public_url=settings.public_url,
            media=services.media,
        )
    if not jobs:
        return {}
    results = list(services.network_calls.map(lambda job: _apply(services, job), jobs))
    with services.sessions.begin() as session:
        states = finish_changes(
            session,
            list(zip(jobs, results, strict=True)),
            now=utcnow(),
            max_attempts=settings.max_publish_attempts,
            give_up_after=timedelta(seconds=settings.reconcile_give_up_seconds),
        )
    for job, result in zip(jobs, results, strict=True):
        about = {
            "delivery_id": str(job.delivery_id),
            "channel_id": job.account.channel_id,
            "network": job.network,
        }
        state = states.get(job.change_id)
        if isinstance(result, NetworkError) and not isinstance(result, PostGone):
            log.warning("%s attempt %d: %s: %s", job.kind, job.attempt, state, result, extra=about)
        else:
            log.info("%s attempt %d: %s", job.kind, job.attempt, state, extra=about)
    return states


def _apply(services: Changing, job: ChangeJob) -> PublishedPart | NetworkError | None:
    try:
        network = services.networks.get(job.network)
    except UnknownNetwork as error:
        return Transient(str(error))
    try:
        account = account_with_credentials(services, job.account, job.sealed_credentials, network=network)
        if job.kind is ChangeKind.DELETE:
            _delete(network, account, job)
            return None
        return _edit(network, account, job)
    except NetworkError as error:
        return error
    except Exception as error:
        log.exception("adapter %s raised an unexpected error while applying a %s", job.network, job.kind)
        return OutcomeUnknown(f"{type(error).__name__}: {error}")


def _delete(network: Network, account: Account, job: ChangeJob) -> None:
    """Every part, the thread's last reply first, so no reply is left answering nothing.

    Deleting is looked at by doing it: a part already gone answers PostGone, which is what was wanted,
    so an uncertain delete is simply sent again.
    """
    if not network.info.can_delete:
        raise Rejected(
            f"{network.info.display_name} offers no way for Crier to delete a post: delete it there."
        )
    for part in reversed(job.parts):
        try:
            network.delete(account, part.external_id)
        except PostGone:
            continue


def _edit(network: Network, account: Account, job: ChangeJob) -> PublishedPart:
    """The post's new text; an uncertain earlier attempt is looked at first, so the post is edited once."""
    if not network.info.can_edit or not isinstance(network, EditsPosts):
        raise Rejected(f"{network.info.display_name} does not let a published post be edited.")
    assert job.draft is not None  # an edit's job always carries the post as it reads now
    root = job.parts[0]
    try:
        if job.uncertain and network.reads_as(account, root.external_id, job.draft):
            return root
        return network.edit(account, root.external_id, job.draft)
    except PostGone as gone:
        raise Rejected(f"The post is no longer on {network.info.display_name}: {gone}") from gone
