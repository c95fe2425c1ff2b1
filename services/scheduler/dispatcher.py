"""The dispatch loop: claim what is due, commit, then send. Never one Celery ETA per post."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from services.scheduler.periodic import PeriodicJob, periodic_jobs
from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due, expire_stalled_attempts, mark_missed, reclaim_lost
from shared.monitoring.recording import count_expired_attempts, count_missed_deliveries
from shared.periodic.services import take_due_run
from shared.task_names import PUBLISH_DELIVERIES
from shared.wording import counted
from shared.workflow.recurring import RECURRENCE_HORIZON, make_due_occurrences
from shared.workflow.services import expire_unapproved

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    claimed: int
    reclaimed: int
    missed: int
    expired: int
    occurrences: int
    unapproved_expired: int
    periodic: tuple[str, ...]
    sent: int
    batch_was_full: bool


class Dispatcher:
    """One scheduler replica's work, one tick at a time."""

    def __init__(
        self,
        services: Services,
        jobs: Sequence[PeriodicJob] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.jobs = list(jobs) if jobs is not None else periodic_jobs(services.settings)
        self.clock = clock

    def tick(self) -> TickReport:
        """Claim due deliveries and periodic runs in one transaction; send their tasks after it commits.

        A send that fails after the commit loses nothing: the claim's lease expires and a later tick
        re-claims the delivery under a new number (reclaim_lost).
        """
        settings = self.services.settings
        now = self.clock()
        lease = timedelta(seconds=settings.enqueue_lease_seconds)
        lookahead = timedelta(seconds=settings.scheduler_lookahead_seconds)
        max_lateness = timedelta(seconds=settings.max_lateness_seconds)
        with self.services.sessions.begin() as session:
            # Before the claims, so an occurrence made now is claimed in this same tick when it is due.
            occurrences = make_due_occurrences(
                session, now, horizon=max(RECURRENCE_HORIZON, lookahead), grace=max_lateness
            )
            unapproved_expired = len(expire_unapproved(session, now))
            missed = mark_missed(
                session,
                now=now,
                lookahead=lookahead,
                max_lateness=max_lateness,
            )
            claims = claim_due(
                session, now=now, lookahead=lookahead, batch_size=settings.claim_batch_size, lease=lease
            )
            reclaimed = reclaim_lost(session, now=now, batch_size=settings.claim_batch_size, lease=lease)
            expired = expire_stalled_attempts(session, now=now)
            due_jobs = [
                job.task_name
                for job in self.jobs
                if take_due_run(session, job.task_name, every=job.every, now=now)
            ]
        sent = self._send_publishes([*claims, *reclaimed])
        for task_name in due_jobs:
            sent += self._send(task_name, {})
        count_expired_attempts(expired)
        count_missed_deliveries(missed)
        if expired:
            log.warning("%s outlived the lease: now unknown", counted(expired, "publish attempt"))
        if missed:
            log.warning(
                "%s came due too late to publish: marked missed", counted(missed, "delivery", "deliveries")
            )
        return TickReport(
            claimed=len(claims),
            reclaimed=len(reclaimed),
            missed=missed,
            expired=expired,
            occurrences=occurrences,
            unapproved_expired=unapproved_expired,
            periodic=tuple(due_jobs),
            sent=sent,
            batch_was_full=len(claims) >= settings.claim_batch_size,
        )

    def _send_publishes(self, claims: Sequence[Claim]) -> int:
        """One message per batch of claims: a burst of thousands is hundreds of messages, not thousands.

        Claims are made up to a lookahead early; the worker holds each call until its delivery's time.
        """
        size = self.services.settings.publish_batch_size
        sent = 0
        for start in range(0, len(claims), size):
            batch = [[str(claim.delivery_id), claim.attempt] for claim in claims[start : start + size]]
            sent += self._send(PUBLISH_DELIVERIES, {"claims": batch}) * len(batch)
        return sent

    def _send(self, task_name: str, kwargs: dict[str, object]) -> int:
        try:
            self.services.tasks.send(task_name, kwargs)
        except Exception:
            log.exception("could not send %s; its lease will expire and it will be sent again", task_name)
            return 0
        return 1

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set. A full batch means more is due: tick again at once."""
        interval = self.services.settings.scheduler_tick_seconds
        while not stop.is_set():
            try:
                report = self.tick()
            except SQLAlchemyError:
                log.exception("the database is unavailable; retrying in %.1f s", interval)
                stop.wait(interval)
                continue
            if report.claimed or report.reclaimed or report.periodic:
                log.info(
                    "claimed %d, reclaimed %d, periodic %s, sent %d",
                    report.claimed,
                    report.reclaimed,
                    ",".join(report.periodic) or "-",
                    report.sent,
                )
            if not report.batch_was_full:
                stop.wait(interval)
