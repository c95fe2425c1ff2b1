"""The calendar without a browser: a week and a month of posts and free slots in the viewer's timezone
(across Paris's spring-forward change), and posts moved by the form with PATCH /v1/posts's own rules."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, PostStage, Timing
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor, Role, Scope
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.driving import publish_what_is_due
from tests.factories import make_post, only_delivery_id, read_delivery

PARIS = ZoneInfo("Europe/Paris")
DAY_OPENING = re.compile(r'<li class="cal-day[^"]*" data-date="([0-9-]+)">')


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def next_spring_forward(after: date) -> date:
    """The next last Sunday of March (when Paris moves to summer time) at least a week after `after`."""
    for year in (after.year, after.year + 1):
        last_of_march = date(year, 3, 31)
        sunday = last_of_march - timedelta(days=(last_of_march.weekday() + 1) % 7)
        if sunday > after + timedelta(days=7):
            return sunday
    raise AssertionError("unreachable: a March comes every year")


def paris(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).astimezone(UTC)


def days_of(page: str) -> dict[str, str]:
    """Each day's part of the page, by its ISO date."""
    openings = list(DAY_OPENING.finditer(page))
    ends = [opening.start() for opening in openings[1:]] + [page.index("</ol>", openings[-1].end())]
    return {opening.group(1): page[opening.end() : end] for opening, end in zip(openings, ends, strict=True)}


def times_in(day_html: str, kind: str) -> list[str]:
    """The times the day lists for its posts ("cal-post") or its free slots ("cal-slot")."""
    return re.findall(rf'<li class="{kind}[^>]*>\s*<time datetime="[^"]+">(\d\d:\d\d)</time>', day_html)


def calendar_page(client: FlaskClient, **query: str) -> str:
    response = client.get("/dashboard/calendar", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def move(
    client: FlaskClient, post: Post, at: str, *, version: int | None = None, tz: str = "UTC"
) -> tuple[int, str]:
    """Submit the post's move form as the week view around its time shows it."""
    assert post.scheduled_at is not None
    day = post.scheduled_at.astimezone(ZoneInfo(tz)).date().isoformat()
    token = csrf_token_of(calendar_page(client, date=day, tz=tz))
    response = client.post(
        f"/dashboard/calendar/posts/{post.id}/move",
        data={
            "csrf_token": token,
            "version": str(post.version if version is None else version),
            "at": at,
            "tz": tz,
            "view": "week",
            "date": day,
        },
    )
    return response.status_code, response.headers.get("Location") or response.get_data(as_text=True)


def stored(services: Services, post_id: uuid.UUID) -> Post:
    with services.sessions() as session:
        post = session.get_one(Post, post_id)
        session.expunge(post)
        return post


def deliveries_of(services: Services, post_id: uuid.UUID) -> list[Delivery]:
    with services.sessions() as session:
        found = session.scalars(
            select(Delivery).where(Delivery.post_id == post_id).order_by(Delivery.scheduled_at)
        ).all()
        session.expunge_all()
        return list(found)


def test_the_week_shows_posts_and_free_slots_in_the_chosen_timezone_across_a_dst_change(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sunday = next_spring_forward(utcnow().date())
    saturday = sunday - timedelta(days=1)
    sandbox, news = team.channels
    make_post(
        services, team.workspace, [sandbox, news], text="Before the change", scheduled_at=paris(saturday, 9)
    )
    make_post(services, team.workspace, [news], text="After the change", scheduled_at=paris(sunday, 12))
    sign_in(client, team.viewer_token)

    in_paris = days_of(calendar_page(client, date=sunday.isoformat(), tz="Europe/Paris"))
    in_utc = days_of(calendar_page(client, date=sunday.isoformat()))

    assert list(in_paris) == [(sunday - timedelta(days=offset)).isoformat() for offset in range(6, -1, -1)]
    # One post on two channels is listed once; the sandbox's 09:00 and 17:00 UTC slots are an hour later
    # in Paris before the change and two hours later after it.
    assert times_in(in_paris[saturday.isoformat()], "cal-post") == ["09:00"]
    [channels] = re.findall(r'<span class="channels">on ([^<]+)</span>', in_paris[saturday.isoformat()])
    assert sorted(channels.split(", ")) == sorted([sandbox.name, news.name])
    assert times_in(in_paris[saturday.isoformat()], "cal-slot") == ["10:00", "18:00"]
    assert times_in(in_paris[sunday.isoformat()], "cal-post") == ["12:00"]
    assert times_in(in_paris[sunday.isoformat()], "cal-slot") == ["11:00", "19:00"]
    assert times_in(in_utc[saturday.isoformat()], "cal-post") == ["08:00"]
    assert times_in(in_utc[sunday.isoformat()], "cal-post") == ["10:00"]
    assert times_in(in_utc[sunday.isoformat()], "cal-slot") == ["09:00", "17:00"]
    assert "Before the change" in in_paris[saturday.isoformat()]
    assert "scheduled" in in_paris[sunday.isoformat()]


def test_the_month_shows_its_weeks_with_the_posts_in_the_chosen_timezone(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sunday = next_spring_forward(utcnow().date())
    monday = sunday + timedelta(days=1)
    post = make_post(
        services, team.workspace, [team.channels[1]], text="Spring", scheduled_at=paris(monday, 0)
    )
    sign_in(client, team.viewer_token)

    page = calendar_page(client, view="month", date=sunday.isoformat(), tz="Europe/Paris")
    days = days_of(page)
    in_utc = days_of(calendar_page(client, view="month", date=sunday.isoformat()))

    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    assert (first.weekday(), last.weekday()) == (0, 6)
    assert first <= sunday.replace(day=1)
    assert last >= date(sunday.year, 3, 31)
    # Midnight in Paris on Monday is still Sunday in UTC.
    assert times_in(days[monday.isoformat()], "cal-post") == ["00:00"]
    assert times_in(in_utc[sunday.isoformat()], "cal-post") == ["22:00"]
    assert f'href="/dashboard/posts/{post.id}"' in page
    assert "Previous month" in page
    assert "Next month" in page


def test_the_move_form_reschedules_the_post_and_its_delivery_follows(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sunday = next_spring_forward(utcnow().date())
    post = make_post(services, team.workspace, [team.channels[0]], scheduled_at=paris(sunday, 12))
    sign_in(client, team.editor_token)

    status, location = move(client, post, f"{sunday + timedelta(days=1)}T09:30", tz="Europe/Paris")
    after = client.get(location).get_data(as_text=True)

    assert status == 302
    moved_to = paris(sunday + timedelta(days=1), 9) + timedelta(minutes=30)
    assert stored(services, post.id).scheduled_at == moved_to
    # Rescheduling withdraws the waiting delivery and makes one due at the new time.
    assert [(delivery.state, delivery.scheduled_at) for delivery in deliveries_of(services, post.id)] == [
        (DeliveryState.SCHEDULED, moved_to)
    ]
    assert "Moved to" in after
    assert times_in(days_of(after)[(sunday + timedelta(days=1)).isoformat()], "cal-post") == ["09:30"]


def test_a_move_from_a_stale_page_is_refused_with_412_and_changes_nothing(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    at = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    post = make_post(services, team.workspace, [team.channels[0]], scheduled_at=at)
    sign_in(client, team.editor_token)

    status, page = move(
        client, post, (at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), version=post.version - 1
    )

    assert status == 412
    assert "Someone changed this post since the calendar was drawn: nothing was moved." in page
    assert 'id="calendar"' in page
    assert stored(services, post.id).scheduled_at == at
    assert read_delivery(services, only_delivery_id(post)).scheduled_at == at


def test_a_time_in_the_past_is_refused_beside_the_field_with_what_was_typed(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    at = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    post = make_post(services, team.workspace, [team.channels[0]], scheduled_at=at)
    sign_in(client, team.editor_token)
    past = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    status, page = move(client, post, past)

    assert status == 422
    assert re.search(r'data-test="move-error">The time is in the past', page)
    assert f'value="{past}" aria-invalid="true"' in page
    assert stored(services, post.id).scheduled_at == at


def test_a_post_whose_delivery_started_is_not_moved_and_says_why_beside_it(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    at = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    post = make_post(services, team.workspace, [team.channels[0]], scheduled_at=at)
    sign_in(client, team.editor_token)
    day = at.date().isoformat()
    token = csrf_token_of(calendar_page(client, date=day))
    # The worker claims it between the page and the move.
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery).where(Delivery.post_id == post.id).values(state=DeliveryState.PUBLISHING)
        )

    response = client.post(
        f"/dashboard/calendar/posts/{post.id}/move",
        data={"csrf_token": token, "version": str(post.version), "at": f"{day}T23:00", "date": day},
    )

    assert response.status_code == 409
    assert re.search(
        r'data-test="move-error">Some of the post.{1,5}s deliveries have started',
        response.get_data(as_text=True),
    )
    assert stored(services, post.id).scheduled_at == at


def test_a_viewer_sees_no_move_form_and_cannot_move(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    at = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    post = make_post(services, team.workspace, [team.channels[0]], scheduled_at=at)
    sign_in(client, team.viewer_token)

    page = calendar_page(client, date=at.date().isoformat())
    response = client.post(
        f"/dashboard/calendar/posts/{post.id}/move",
        data={"csrf_token": csrf_token_of(page), "version": str(post.version), "at": "2099-01-01T10:00"},
    )

    assert f'data-post-id="{post.id}"' in page
    assert "/move" not in page
    assert 'draggable="true"' not in page
    assert response.status_code == 403
    assert stored(services, post.id).scheduled_at == at


def test_a_contributor_moves_only_their_own_post_which_goes_back_for_approval(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    at = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    theirs = make_post(services, team.workspace, [team.channels[0]], text="Not yours", scheduled_at=at)
    contributor = Actor.of(
        team.workspace.id, team.contributor.id, Role.CONTRIBUTOR, Scope.WRITE, team.contributor.name
    )
    with services.sessions.begin() as session:
        own = create_post(
            session,
            services.networks,
            contributor,
            PostRequest(text="Mine", targets=[TargetRequest(team.channels[1].id)], scheduled_at=at),
            now=utcnow(),
        )
    sign_in(client, team.contributor_token)

    page = calendar_page(client, date=at.date().isoformat())
    refused, _ = move(client, theirs, (at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    status, _ = move(client, own, (at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))

    assert f"/dashboard/calendar/posts/{own.id}/move" in page
    assert f"/dashboard/calendar/posts/{theirs.id}/move" not in page
    assert refused == 403
    assert stored(services, theirs.id).scheduled_at == at
    assert status == 302
    moved = stored(services, own.id)
    assert (moved.scheduled_at, moved.stage) == (at + timedelta(hours=1), PostStage.PENDING_APPROVAL)


def test_the_calendar_is_in_the_navigation(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.viewer_token)

    page = calendar_page(client)

    assert '<a href="/dashboard/calendar" aria-current="page">Calendar</a>' in page


def test_a_series_and_a_post_already_published_are_shown_without_a_move_form(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    at = (utcnow() + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    with services.sessions.begin() as session:
        series = create_post(
            session,
            services.networks,
            Actor.system(team.workspace.id),
            PostRequest(
                text="Every day",
                targets=[TargetRequest(team.channels[0].id)],
                timing=Timing.RECURRENCE,
                scheduled_at=at,
                recurrence_rule="FREQ=DAILY;COUNT=3",
            ),
            now=utcnow(),
        )
    gone_out = make_post(services, team.workspace, [team.channels[1]], text="Out already")
    publish_what_is_due(services)
    sign_in(client, team.editor_token)

    this_week = calendar_page(client)
    series_week = calendar_page(client, date=at.date().isoformat())

    assert f'data-post-id="{gone_out.id}"' in this_week
    assert f"/dashboard/calendar/posts/{gone_out.id}/move" not in this_week
    assert f'data-post-id="{series.id}"' in series_week
    assert f"/dashboard/calendar/posts/{series.id}/move" not in series_week
