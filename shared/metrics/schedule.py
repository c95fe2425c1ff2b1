"""When a published delivery's metrics are read: often while a post is young, then less, then never."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Due(StrEnum):
    """What the collector does with a delivery whose metrics_due_at has come."""

    NOT_YET = "not_yet"  # just published: its first step is still to come
    COLLECT = "collect"
    OVER = "over"  # past its last step (and the grace after it): nothing more to read


@dataclass(frozen=True)
class CollectionSchedule:
    """Collections at fixed ages after publication (`steps`), each taken once, then none.

    A delivery carries one time, `metrics_due_at`, and how many collections were made; the steps are
    read from the settings each time, so a changed schedule applies to deliveries already published.
    """

    steps: tuple[timedelta, ...]
    # After a failed read (the network down, its rate limit, a channel to reconnect), when to try again.
    retry_after: timedelta = timedelta(minutes=10)
    # How long past the last step a failing read is still worth retrying.
    grace: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not self.steps or list(self.steps) != sorted(set(self.steps)) or self.steps[0] <= timedelta(0):
            raise ValueError(f"a schedule needs increasing, positive steps, not {self.steps!r}")

    def first(self, published_at: datetime) -> datetime:
        return published_at + self.steps[0]

    def ends(self, published_at: datetime) -> datetime:
        """After this, a delivery's metrics are no longer read, even to retry."""
        return published_at + self.steps[-1] + self.grace

    def decide(self, published_at: datetime, now: datetime) -> Due:
        if now < self.first(published_at):
            return Due.NOT_YET
        if now > self.ends(published_at):
            return Due.OVER
        return Due.COLLECT

    def after_collection(self, published_at: datetime, now: datetime) -> datetime | None:
        """The next step after now, or None: done. Steps missed while the collector was down are skipped."""
        return next((published_at + step for step in self.steps if published_at + step > now), None)

    def after_failure(
        self, published_at: datetime, now: datetime, *, wait: timedelta | None = None
    ) -> datetime | None:
        """When to try again after a failed read, or None: give up.

        `wait` is what a rate limit asks for, and is kept to; otherwise soon, or at the next step if sooner.
        """
        retry = now + (wait if wait is not None else self.retry_after)
        if retry > self.ends(published_at):
            return None
        following = self.after_collection(published_at, now)
        if wait is not None or following is None:
            return retry
        return min(retry, following)
