"""A workspace with something in every section of the dashboard, at times the tests know."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.services import batches_for_post, record_engagement
from shared.networks.ports import Engagement
from shared.posts.models import Post
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_member_token, make_post, make_workspace, only_delivery_id

FAILED_ERROR = "Mastodon refused the post: Validation failed: Text character limit of 500 exceeded."
NEEDS_REVIEW_ERROR = "The network could not tell whether it has the post: check the channel and decide."
OTHER_WORKSPACE_ERROR = "An error only the other workspace may ever see."
WEEKDAY_SLOTS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@dataclass(frozen=True)
class PublishedSeed:
    delivery_id: uuid.UUID
    channel_id: uuid.UUID
    published_at: datetime
    likes: int
    reposts: int
    replies: int
    views: int


@dataclass(frozen=True)
class SeededWorkspace:
    workspace: Workspace
    owner_token: str
    reader_token: str  # a viewer's read-scoped token: the least that may see the dashboard
    channels: list[Channel]
    upcoming_post_ids: list[uuid.UUID]
    published: list[PublishedSeed]
    failed_delivery_id: uuid.UUID
    needs_review_delivery_id: uuid.UUID


def seed_workspace(services: Services, now: datetime, name: str = "Acme community team") -> SeededWorkspace:
    """Two channels; posts to come; posts published days ago with metrics; a failure and a doubt."""
    workspace, owner_token = make_workspace(services, name)
    reader_token = make_member_token(services, workspace, Role.VIEWER, Scope.READ)
    sandbox = make_channel(services, workspace, f"{name} sandbox", posting_schedule=WEEKDAY_SLOTS)
    news = make_channel(services, workspace, f"{name} news", timezone="Europe/Paris")
    channels = [sandbox, news]

    # At quarter past and quarter to the hour, so none of them takes one of the queue's slots.
    upcoming = [
        make_post(services, workspace, [sandbox], text="Meetup tomorrow", scheduled_at=_at(now, 1, 10, 15)),
        make_post(
            services, workspace, channels, text="Spring release notes", scheduled_at=_at(now, 3, 15, 45)
        ),
        make_post(services, workspace, [news], text="Ten days out", scheduled_at=_at(now, 10, 8, 15)),
    ]

    # Three a week apart at 09:xx on one weekday: enough for the best-time grid to suggest that slot.
    # Those younger than a week count in the engagement series but not yet in the best times.
    published = [
        _published(
            services, workspace, sandbox, _at(now, -2, 9, 5), likes=12, reposts=3, replies=2, views=400
        ),
        _published(
            services, workspace, sandbox, _at(now, -3, 17, 10), likes=30, reposts=8, replies=5, views=900
        ),
        _published(
            services, workspace, sandbox, _at(now, -8, 9, 10), likes=20, reposts=5, replies=3, views=500
        ),
        _published(
            services, workspace, sandbox, _at(now, -15, 9, 20), likes=16, reposts=4, replies=2, views=450
        ),
        _published(
            services, workspace, sandbox, _at(now, -22, 9, 40), likes=25, reposts=6, replies=4, views=700
        ),
        _published(
            services, workspace, sandbox, _at(now, -10, 17, 30), likes=40, reposts=10, replies=6, views=1200
        ),
        _published(services, workspace, news, _at(now, -3, 9, 20), likes=4, reposts=1, replies=0, views=150),
        _published(services, workspace, news, _at(now, -9, 12, 0), likes=7, reposts=2, replies=1, views=210),
        _published(services, workspace, news, _at(now, -11, 18, 0), likes=9, reposts=3, replies=2, views=300),
    ]
    failed = _ended(services, workspace, sandbox, now, DeliveryState.FAILED, FAILED_ERROR, hours_ago=5)
    doubtful = _ended(
        services, workspace, news, now, DeliveryState.NEEDS_REVIEW, NEEDS_REVIEW_ERROR, hours_ago=30
    )
    return SeededWorkspace(
        workspace=workspace,
        owner_token=owner_token,
        reader_token=reader_token,
        channels=channels,
        upcoming_post_ids=[post.id for post in upcoming],
        published=published,
        failed_delivery_id=failed,
        needs_review_delivery_id=doubtful,
    )


def seed_other_workspace(services: Services, now: datetime) -> SeededWorkspace:
    """Another team, whose posts, errors and numbers the first workspace's dashboard must never show."""
    other = seed_workspace(services, now, name="Other team")
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == other.failed_delivery_id)
            .values(last_error=OTHER_WORKSPACE_ERROR)
        )
    return other


def _at(now: datetime, days: int, hour: int, minute: int) -> datetime:
    return (now + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def _published(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    published_at: datetime,
    *,
    likes: int,
    reposts: int,
    replies: int,
    views: int,
) -> PublishedSeed:
    """A delivery published at `published_at`, its metrics collected twice: an hour after, and a day after."""
    post = make_post(services, workspace, [channel], text=f"Published at {published_at:%a %H:%M}")
    delivery_id = only_delivery_id(post)
    external_id = uuid.uuid4().hex
    with services.sessions.begin() as session:
        _backdate(session, post.id, delivery_id, published_at, DeliveryState.PUBLISHED, error=None)
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(external_id=external_id, external_url=f"https://sandbox.invalid/{external_id}")
        )
    early = Engagement(
        likes=likes // 2, reposts=reposts // 2, replies=replies // 2, quotes=0, views=views // 2
    )
    later = Engagement(likes=likes, reposts=reposts, replies=replies, quotes=0, views=views)
    readings = [(published_at + timedelta(hours=1), early), (published_at + timedelta(days=1), later)]
    for collected_at, engagement in readings:
        # Through the collector's own bookkeeping, so the latest values and the hourly rollups are kept.
        with services.sessions.begin() as session:
            [batch] = batches_for_post(session, post.id)
            record_engagement(session, batch, {external_id: engagement}, now=collected_at)
    return PublishedSeed(delivery_id, channel.id, published_at, likes, reposts, replies, views)


def _ended(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    now: datetime,
    state: DeliveryState,
    error: str,
    *,
    hours_ago: int,
) -> uuid.UUID:
    post = make_post(services, workspace, [channel], text=f"A post that ended {state.value}")
    delivery_id = only_delivery_id(post)
    with services.sessions.begin() as session:
        _backdate(session, post.id, delivery_id, now - timedelta(hours=hours_ago), state, error=error)
    return delivery_id


def _backdate(
    session: Session,
    post_id: uuid.UUID,
    delivery_id: uuid.UUID,
    at: datetime,
    state: DeliveryState,
    *,
    error: str | None,
) -> None:
    # The services refuse a time in the past, as they should: the tests write history directly.
    session.execute(update(Post).where(Post.id == post_id).values(scheduled_at=at))
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            state=state,
            scheduled_at=at,
            due_at=at,
            published_at=at if state is DeliveryState.PUBLISHED else None,
            last_error=error,
        )
    )
