"""A member's own time zone without a browser: chosen on the team page (only theirs, audited, an unknown
zone refused beside the field), then every page that shows or takes a time uses it when no `tz` is asked:
the calendar across Paris's autumn change, a post's page, approvals, compose's default, the overview."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.db import utcnow
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Member
from shared.workspaces.services import choose_timezone
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.factories import make_post

PARIS = ZoneInfo("Europe/Paris")
DAY_OPENING = re.compile(r'<li class="cal-day[^"]*" data-date="([0-9-]+)">')


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def next_fall_back(after: date) -> date:
    """The next last Sunday of October (when Paris goes back to winter time) at least a week after `after`."""
    for year in (after.year, after.year + 1):
        last_of_october = date(year, 10, 31)
        sunday = last_of_october - timedelta(days=(last_of_october.weekday() + 1) % 7)
        if sunday > after + timedelta(days=7):
            return sunday
    raise AssertionError("unreachable: an October comes every year")


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def page(client: FlaskClient, path: str, **query: str) -> str:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def days_of(calendar: str) -> dict[str, str]:
    openings = list(DAY_OPENING.finditer(calendar))
    ends = [opening.start() for opening in openings[1:]] + [calendar.index("</ol>", openings[-1].end())]
    return {o.group(1): calendar[o.end() : end] for o, end in zip(openings, ends, strict=True)}


def post_times(day_html: str) -> list[str]:
    return re.findall(r'<li class="cal-post[^>]*>\s*<time datetime="[^"]+">(\d\d:\d\d)</time>', day_html)


def timezone_of(services: Services, member_id: uuid.UUID) -> str | None:
    with services.sessions() as session:
        return session.get_one(Member, member_id).timezone


def choose(services: Services, member_id: uuid.UUID, name: str | None) -> None:
    with services.sessions.begin() as session:
        choose_timezone(session.get_one(Member, member_id), name)


def save_settings(client: FlaskClient, timezone: str) -> tuple[int, str, str]:
    token = csrf_token_of(page(client, "/dashboard/team"))
    response = client.post("/dashboard/team/settings", data={"csrf_token": token, "timezone": timezone})
    return response.status_code, response.get_data(as_text=True), response.headers.get("Location", "")


def test_the_team_page_sets_the_members_own_zone_records_it_and_leaves_the_others(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    assert 'data-test="zone-hint"' in page(client, "/dashboard/team")

    status, _, location = save_settings(client, "Europe/Paris")

    assert (status, location) == (302, "/dashboard/team#settings")
    assert timezone_of(services, team.editor.id) == "Europe/Paris"
    assert timezone_of(services, team.contributor.id) is None
    after = page(client, "/dashboard/team")
    assert "Your times show in Europe/Paris now." in after
    assert "<option selected>Europe/Paris</option>" in after
    assert 'data-test="zone-hint"' not in after
    with services.sessions() as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "member.timezone_changed")
        ).all()
        assert (entry.subject_id, entry.member_id) == (team.editor.id, team.editor.id)
        assert entry.detail == {"before": None, "after": "Europe/Paris"}

    assert save_settings(client, "")[0] == 302
    assert timezone_of(services, team.editor.id) is None


def test_an_unknown_zone_is_refused_beside_the_field_keeping_what_was_chosen(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    choose(services, team.editor.id, "Asia/Tokyo")
    sign_in(client, team.editor_token)

    status, answered, _ = save_settings(client, "Mars/Olympus_Mons")

    assert status == 422
    found = re.search(
        r'<p class="field-error" id="settings-timezone-error" data-test="error-timezone">([^<]*)</p>',
        answered,
    )
    assert found is not None
    said = html.unescape(found.group(1))
    assert "'Mars/Olympus_Mons' is not an IANA time zone name such as 'Europe/Paris'" in said
    assert "<option selected>Mars/Olympus_Mons</option>" in answered, "what was sent is still chosen"
    assert 'aria-invalid="true"' in answered
    assert timezone_of(services, team.editor.id) == "Asia/Tokyo"


def test_a_viewer_with_a_read_token_chooses_their_zone_too(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.viewer_token)

    assert save_settings(client, "America/Sao_Paulo")[0] == 302

    with services.sessions() as session:
        viewer = session.scalars(select(Member).where(Member.role == Role.VIEWER)).one()
    assert viewer.timezone == "America/Sao_Paulo"
    assert timezone_of(services, team.editor.id) is None


def test_the_week_is_on_the_members_clock_across_the_autumn_change_unless_tz_asks_otherwise(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sunday = next_fall_back(utcnow().date())
    saturday = sunday - timedelta(days=1)
    news = team.channels[1]
    make_post(services, team.workspace, [news], text="Before the change", scheduled_at=paris(saturday, 14))
    make_post(services, team.workspace, [news], text="After the change", scheduled_at=paris(sunday, 14))
    # 02:30 happens twice that night in Paris; the second (CET, 01:30Z) is the one this post is at.
    doubled = datetime(sunday.year, sunday.month, sunday.day, 1, 30, tzinfo=UTC)
    make_post(services, team.workspace, [news], text="In the doubled hour", scheduled_at=doubled)
    choose(services, team.editor.id, "Europe/Paris")
    sign_in(client, team.editor_token)

    mine = page(client, "/dashboard/calendar", date=sunday.isoformat())
    days = days_of(mine)
    in_utc = days_of(page(client, "/dashboard/calendar", date=sunday.isoformat(), tz="UTC"))

    assert '<strong data-test="calendar-timezone">Europe/Paris</strong>' in mine
    assert 'data-test="zone-hint"' not in mine
    # 14:00 in Paris is 12:00Z in summer time and 13:00Z in winter time: the wall time stays put.
    assert post_times(days[saturday.isoformat()]) == ["14:00"]
    assert post_times(days[sunday.isoformat()]) == ["02:30", "14:00"]
    assert post_times(in_utc[saturday.isoformat()]) == ["12:00"]
    assert post_times(in_utc[sunday.isoformat()]) == ["01:30", "13:00"]
    # The sandbox's 09:00Z slot is 11:00 on Saturday and 10:00 on Sunday in Paris.
    slots = r'<li class="cal-slot"[^>]*><time datetime="[^"]+">(\d\d:\d\d)</time>'
    assert re.findall(slots, days[saturday.isoformat()]) == ["11:00", "19:00"]
    assert re.findall(slots, days[sunday.isoformat()]) == ["10:00", "18:00"]
    assert 'name="tz" value="Europe/Paris"' in mine, "a move is read on the same clock"


def test_without_a_chosen_zone_pages_are_in_utc_with_a_hint_linking_to_the_setting(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    calendar = page(client, "/dashboard/calendar")

    assert '<strong data-test="calendar-timezone">UTC</strong>' in calendar
    hint = re.search(r'<p class="quiet zone-hint" data-test="zone-hint">(.*?)</p>', calendar)
    assert hint is not None
    assert 'href="/dashboard/team#settings"' in hint.group(1)
    assert "Times are shown in UTC." in hint.group(1)


def test_a_posts_page_shows_its_times_on_the_members_clock_with_the_zones_name(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    when = (utcnow() + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    post = make_post(services, team.workspace, [team.channels[1]], scheduled_at=when)
    choose(services, team.editor.id, "Asia/Kolkata")  # +05:30 all year
    sign_in(client, team.editor_token)

    shown = page(client, f"/dashboard/posts/{post.id}")

    local = when.astimezone(ZoneInfo("Asia/Kolkata"))
    expected = (
        f'<time datetime="{local.isoformat()}">{local.strftime("%a %d %b %Y")} 17:30 Asia/Kolkata</time>'
    )
    assert f'<span data-test="post-when">{expected}</span>' in shown
    assert "(12:00 in UTC, the post's own zone)" in shown
    assert f"{local.strftime('%a %d %b %Y')} 17:30 Asia/Kolkata" in page(
        client, "/dashboard/posts/" + str(post.id), tz="Asia/Kolkata"
    )
    in_utc = page(client, f"/dashboard/posts/{post.id}", tz="UTC")
    assert f"{when.strftime('%a %d %b %Y')} 12:00 UTC" in in_utc


def test_approvals_show_the_waiting_posts_time_on_the_approvers_clock(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    when = (utcnow() + timedelta(days=4)).replace(hour=9, minute=15, second=0, microsecond=0)
    request = PostRequest(
        text="Waiting for a yes", targets=[TargetRequest(team.channels[1].id)], scheduled_at=when
    )
    contributor = Actor.of(
        team.workspace.id, team.contributor.id, Role.CONTRIBUTOR, Scope.WRITE, team.contributor.name
    )
    with services.sessions.begin() as session:
        create_post(session, services.networks, contributor, request, now=utcnow())
    choose(services, team.editor.id, "America/New_York")
    sign_in(client, team.editor_token)

    approvals = page(client, "/dashboard/approvals")

    local = when.astimezone(ZoneInfo("America/New_York"))
    assert f"{local.strftime('%a %d %b %Y %H:%M')} America/New_York" in approvals


def test_compose_offers_the_members_zone_for_a_time_unless_tz_asks_another(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    choose(services, team.editor.id, "Europe/Lisbon")
    sign_in(client, team.editor_token)

    assert "<option selected>Europe/Lisbon</option>" in page(client, "/dashboard/compose")
    assert "<option selected>Asia/Tokyo</option>" in page(client, "/dashboard/compose", tz="Asia/Tokyo")


def test_the_overview_uses_the_members_zone_and_a_tz_parameter_still_wins(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    choose(services, team.editor.id, "Australia/Sydney")
    sign_in(client, team.editor_token)

    assert 'data-timezone="Australia/Sydney"' in page(client, "/dashboard")
    assert 'data-timezone="Asia/Tokyo"' in page(client, "/dashboard", tz="Asia/Tokyo")
    assert client.get("/dashboard", query_string={"tz": "Nowhere/Land"}).status_code == 400
