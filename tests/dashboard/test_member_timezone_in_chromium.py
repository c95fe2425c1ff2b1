"""A member's own time zone in a real browser: chosen on the team page, then the calendar shows a post at
its wall time on that clock, with no `tz` asked for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page

from shared.bootstrap import Services
from shared.db import utcnow
from tests.dashboard.browsing import check_accessible, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.factories import make_post

TOKYO = ZoneInfo("Asia/Tokyo")  # +09:00 all year: the local time differs from UTC by the date too


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def test_a_member_chooses_their_zone_on_the_team_page_and_the_calendar_shows_the_local_time(
    page: Page, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    # 20:30 UTC is 05:30 the next morning in Tokyo.
    day = utcnow().date() + timedelta(days=8)
    moment = datetime.combine(day, time(20, 30), tzinfo=UTC)
    post = make_post(services, team.workspace, [team.channels[1]], text="Late in Europe", scheduled_at=moment)
    local = moment.astimezone(TOKYO)
    sign_in(page, live_server, team.editor_token)
    assert page.locator("[data-test=zone-hint]").is_visible()

    page.get_by_role("link", name="Team").click()
    page.get_by_label("Your time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save your settings").click()
    page.wait_for_selector("text=Your times show in Asia/Tokyo now.")
    check_accessible(page)
    page.screenshot(path=artifacts / "team-your-settings.png")
    assert page.locator("[data-test=zone-hint]").count() == 0

    page.get_by_role("link", name="Calendar").click()
    page.wait_for_selector("#calendar")
    assert "tz=" not in page.url
    page.goto(f"{live_server}/dashboard/calendar?view=week&date={local.date().isoformat()}")
    entry = page.locator(f"li.cal-post[data-post-id='{post.id}']")
    entry.wait_for()
    page.screenshot(path=artifacts / "calendar-in-the-members-zone.png", full_page=True)

    assert page.locator("[data-test=calendar-timezone]").inner_text() == "Asia/Tokyo"
    assert entry.locator("time").inner_text() == "05:30"
    day_of_entry = entry.locator("xpath=ancestor::li[contains(@class, 'cal-day')]")
    assert day_of_entry.get_attribute("data-date") == local.date().isoformat()
    assert local.date() == day + timedelta(days=1)
