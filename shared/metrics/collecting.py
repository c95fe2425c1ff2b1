"""Collecting metrics: read what is due, ask each network outside any transaction, store the answers."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from shared.bootstrap import Services
from shared.channels.opening import account_with_credentials
from shared.db import utcnow
from shared.metrics.services import batches_to_collect, record_engagement
from shared.networks.ports import NetworkError

log = logging.getLogger(__name__)


def collect_metrics(services: Services, post_id: uuid.UUID | None = None) -> int:
    """Collect due metrics (or all of one post's). Returns the number of samples stored.

    One channel's failure is logged and skipped: it must not keep the others' numbers from being stored.
    """
    settings = services.settings
    with services.sessions.begin() as session:
        batches = batches_to_collect(
            session,
            now=utcnow(),
            window=timedelta(days=settings.metrics_window_days),
            min_interval=timedelta(seconds=settings.metrics_interval_seconds),
            post_id=post_id,
        )
    stored = 0
    for batch in batches:
        try:
            network = services.networks.get(batch.network)
            account = account_with_credentials(services, batch.account, batch.sealed_credentials)
            readings = network.fetch_engagement(account, list(batch.delivery_by_external_id))
        except (NetworkError, LookupError) as error:
            log.warning(
                "could not collect metrics: %s",
                error,
                extra={"channel_id": batch.account.channel_id, "network": batch.network},
            )
            continue
        except Exception:
            # A bug in one adapter must not keep the other networks' numbers from being stored.
            log.exception(
                "adapter %s raised an unexpected error while collecting metrics",
                batch.network,
                extra={"channel_id": batch.account.channel_id, "network": batch.network},
            )
            continue
        with services.sessions.begin() as session:
            stored += record_engagement(session, batch, readings, now=utcnow())
    return stored
