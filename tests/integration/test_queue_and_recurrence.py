"""Queues and recurrences keep their wall-clock times across DST, and downtime never fires a backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.deliveries.claiming import claim_due
from shared.deliveries.models import Delivery, DeliveryState
from shared.errors import InvalidInput
from shared.posts.models import Post, Timing
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.recurring import make_due_occurrences
from shared.workflow.services import cancel_post, create_post
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_workspace

WEEKDAYS_AT_NINE = {day: ["09:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
GRACE = timedelta(minutes=15)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


def queue(services: Services, channel: Channel, now: datetime, *, share_next: bool = False) -> Post:
    request = PostRequest(
        text="Queued", targets=[TargetRequest(channel.id)], timing=Timing.QUEUE, share_next=share_next
    )
    with services.sessions.begin() as session:
        return create_post(session, services.networks, Actor.system(channel.workspace_id), request, now=now)


def repeat(
    services: Services, channel: Channel, first: datetime, rule: str, zone: str, now: datetime
) -> Post:
    request = PostRequest(
        text="Weekly tips",
        targets=[TargetRequest(channel.id)],
        timing=Timing.RECURRENCE,
        timezone=zone,
        scheduled_at=first,
        recurrence_rule=rule,
    )
    with services.sessions.begin() as session:
        return create_post(session, services.networks, Actor.system(channel.workspace_id), request, now=now)


def slot_of(post: Post) -> datetime:
    [delivery] = post.deliveries
    return delivery.scheduled_at


def deliveries_of(services: Services, post: Post) -> list[Delivery]:
    with services.sessions() as session:
        return list(
            session.scalars(select(Delivery).where(Delivery.post_id == post.id).order_by(Delivery.occurrence))
        )


def test_queued_posts_take_the_next_free_slots_in_the_channels_zone_across_spring_forward(
    services: Services, workspace: Workspace
) -> None:
    paris = make_channel(services, workspace, timezone="Europe/Paris", posting_schedule=WEEKDAYS_AT_NINE)
    now = utc(2026, 3, 27, 12)  # Friday; clocks go forward on Sunday 29 March

    slots = [slot_of(queue(services, paris, now)) for _ in range(3)]

    assert slots == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)]


def test_share_next_takes_the_first_slot_and_moves_the_queue_down_one(
    services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, posting_schedule=WEEKDAYS_AT_NINE)
    now = utc(2026, 5, 4, 12)
    first, second = queue(services, channel, now), queue(services, channel, now)

    urgent = queue(services, channel, now, share_next=True)

    assert slot_of(urgent) == utc(2026, 5, 5, 9)
    assert [d.scheduled_at for p in (first, second) for d in deliveries_of(services, p)] == [
        utc(2026, 5, 6, 9),
        utc(2026, 5, 7, 9),
    ]


def test_cancelling_a_queued_post_frees_its_slot_for_the_next_one(
    services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, posting_schedule=WEEKDAYS_AT_NINE)
    now = utc(2026, 5, 4, 12)
    first = queue(services, channel, now)
    queue(services, channel, now)
    with services.sessions.begin() as session:
        cancel_post(session, Actor.system(workspace.id), session.get_one(Post, first.id), now=now)

    third = queue(services, channel, now)

    assert slot_of(third) == utc(2026, 5, 5, 9)


@pytest.mark.parametrize(
    ("zone", "first_local", "expected_utc"),
    [
        # Paris springs forward on 29 March 2026 and falls back on 25 October.
        (
            "Europe/Paris",
            "2026-03-28T09:00",
            [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)],
        ),
        (
            "Europe/Paris",
            "2026-10-24T09:00",
            [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)],
        ),
        # New York springs forward on 8 March 2026.
        (
            "America/New_York",
            "2026-03-07T09:00",
            [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)],
        ),
        # Sydney falls back on 5 April 2026 (southern autumn) and springs forward on 4 October.
        (
            "Australia/Sydney",
            "2026-04-04T09:00",
            [utc(2026, 4, 3, 22), utc(2026, 4, 4, 23), utc(2026, 4, 5, 23)],
        ),
        (
            "Australia/Sydney",
            "2026-10-03T09:00",
            [utc(2026, 10, 2, 23), utc(2026, 10, 3, 22), utc(2026, 10, 4, 22)],
        ),
    ],
)
def test_a_daily_recurrence_keeps_its_wall_clock_time_across_dst(
    services: Services,
    workspace: Workspace,
    zone: str,
    first_local: str,
    expected_utc: list[datetime],
) -> None:
    channel = make_channel(services, workspace)
    first = datetime.fromisoformat(first_local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    post = repeat(services, channel, first, "FREQ=DAILY;COUNT=3", zone, now=first - timedelta(days=1))

    made = 0
    for occurrence in expected_utc:  # the scheduler running all along, an hour ahead of each occurrence
        with services.sessions.begin() as session:
            made += make_due_occurrences(
                session, occurrence - timedelta(minutes=30), horizon=timedelta(hours=1), grace=GRACE
            )

    assert made == 3
    assert [d.scheduled_at for d in deliveries_of(services, post)] == expected_utc
    assert [d.occurrence for d in deliveries_of(services, post)] == [0, 1, 2]
    with services.sessions() as session:
        assert session.get_one(Post, post.id).next_occurrence_at is None


def test_after_downtime_old_occurrences_are_missed_one_by_one_and_only_the_recent_one_goes_out(
    services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace)
    first = utc(2026, 6, 1, 9)
    post = repeat(services, channel, first, "FREQ=HOURLY;COUNT=24", "UTC", now=first - timedelta(hours=1))
    back_at = utc(2026, 6, 1, 14, 5)  # down from before 09:00 until 14:05

    with services.sessions.begin() as session:
        make_due_occurrences(session, back_at, horizon=timedelta(hours=1), grace=GRACE)
        claims = claim_due(
            session, now=back_at, lookahead=timedelta(0), batch_size=100, lease=timedelta(minutes=1)
        )

    states = [(d.scheduled_at.hour, d.state) for d in deliveries_of(services, post)]
    assert states == [
        (9, DeliveryState.MISSED),
        (10, DeliveryState.MISSED),
        (11, DeliveryState.MISSED),
        (12, DeliveryState.MISSED),
        (13, DeliveryState.MISSED),
        (14, DeliveryState.ENQUEUED),
        (15, DeliveryState.SCHEDULED),
    ]
    assert len(claims) == 1
    assert all(
        d.last_error and "not running" in d.last_error
        for d in deliveries_of(services, post)
        if d.state is DeliveryState.MISSED
    )


def test_an_endless_rule_is_refused_on_its_field(services: Services, workspace: Workspace) -> None:
    channel = make_channel(services, workspace)
    first = utc(2026, 6, 1, 9)

    with pytest.raises(InvalidInput) as refused:
        repeat(services, channel, first, "FREQ=WEEKLY", "UTC", now=first - timedelta(hours=1))

    assert [problem.pointer for problem in refused.value.problems] == ["/recurrence/rule"]
