"""Making each occurrence of a recurring post as its time nears.

A series is not expanded when it is scheduled: its deliveries are made here, a horizon ahead of their
time, by the scheduler. After downtime, occurrences older than the lateness limit are recorded as missed,
one by one, and never fired together (Postiz PR #1936: every missed occurrence re-fired at once).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.deliveries.creating import add_occurrence
from shared.posts.models import Post, PostStage
from shared.posts.recurrence import Recurrence, split_overdue
from shared.timezones import check_timezone

# How far ahead an occurrence's deliveries are made: enough for the calendar and the claims to see them,
# little enough that editing the series' text still changes what goes out.
RECURRENCE_HORIZON = timedelta(hours=1)


def make_due_occurrences(
    session: Session, now: datetime, *, horizon: timedelta, grace: timedelta, limit: int = 100
) -> int:
    """Deliveries for every occurrence due before now + horizon; returns how many occurrences were made."""
    series = session.scalars(
        select(Post)
        .where(Post.next_occurrence_at <= now + horizon, Post.stage == PostStage.SCHEDULED)
        .order_by(Post.next_occurrence_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    made = 0
    for post in series:
        assert post.next_occurrence_at is not None
        recurrence = recurrence_of(post)
        occurrences = recurrence.occurrences_between(post.next_occurrence_at, now + horizon)
        if not occurrences:
            continue
        missed = set(split_overdue(occurrences, now, grace)[0])
        index = post.occurrences_created
        for occurrence_at in occurrences:
            add_occurrence(session, post, index, occurrence_at, missed=occurrence_at in missed)
            index += 1
        following = recurrence.first_after(occurrences[-1])
        # Not through the ORM: the sweep is not an edit, so the post's version (its ETag) stays.
        session.execute(
            update(Post)
            .where(Post.id == post.id)
            .values(next_occurrence_at=following, occurrences_created=index)
            .execution_options(synchronize_session=False)
        )
        made += len(occurrences)
    session.flush()
    return made


def recurrence_of(post: Post) -> Recurrence:
    """The post's series: its rule, repeated from its first time's wall clock in its timezone."""
    assert post.scheduled_at is not None
    assert post.recurrence_rule is not None
    zone = check_timezone(post.timezone)
    return Recurrence(post.recurrence_rule, post.scheduled_at.astimezone(zone).replace(tzinfo=None), zone)
