"""The calendar in a real browser: an editor moves a post with its form, then by dragging it onto a free
slot and onto another day; on a phone the days stack and nothing scrolls sideways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from tests.dashboard.browsing import PHONE_WIDTH, check_accessible, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.dashboard.test_calendar_forms import deliveries_of
from tests.factories import make_post


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


def next_tuesday() -> date:
    """A Tuesday at least six days ahead: it, the Wednesday and the Thursday after are one week's days."""
    today = utcnow().date()
    return today + timedelta(days=7 - today.weekday() + 1)


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def due_times(services: Services, post_id: uuid.UUID) -> list[tuple[DeliveryState, datetime]]:
    return [(delivery.state, delivery.scheduled_at) for delivery in deliveries_of(services, post_id)]


def open_week(page: Page, live_server: str, day: date) -> None:
    page.get_by_role("link", name="Calendar").click()
    page.wait_for_selector("#calendar")
    page.goto(f"{live_server}/dashboard/calendar?view=week&date={day.isoformat()}&tz=UTC")
    page.wait_for_selector(f"li.cal-day[data-date='{day.isoformat()}']")


def test_an_editor_moves_a_post_with_its_form(
    page: Page, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    tuesday = next_tuesday()
    post = make_post(
        services, team.workspace, [team.channels[1]], text="Move me by hand", scheduled_at=at(tuesday, 10)
    )
    sign_in(page, live_server, team.editor_token)
    open_week(page, live_server, tuesday)

    entry = page.locator(f"li.cal-post[data-post-id='{post.id}']")
    entry.locator("summary").click()
    check_accessible(page)  # with the form open: a closed one's controls are not shown, so not named
    entry.get_by_label("New time (UTC)").fill(f"{tuesday + timedelta(days=2)}T15:45")
    entry.get_by_role("button", name="Move").click()
    page.wait_for_selector("p.notice:has-text('Moved to')")
    page.screenshot(path=artifacts / "calendar-moved-by-form.png", full_page=True)

    thursday = (tuesday + timedelta(days=2)).isoformat()
    assert (
        page.locator(
            f"li.cal-day[data-date='{thursday}'] li.cal-post[data-post-id='{post.id}'] time"
        ).inner_text()
        == "15:45"
    )
    assert due_times(services, post.id) == [
        (DeliveryState.SCHEDULED, at(tuesday + timedelta(days=2), 15) + timedelta(minutes=45))
    ]


def test_an_editor_drags_a_post_onto_a_free_slot_and_onto_another_day(
    page: Page, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    tuesday = next_tuesday()
    wednesday, thursday = tuesday + timedelta(days=1), tuesday + timedelta(days=2)
    post = make_post(
        services, team.workspace, [team.channels[1]], text="Drag me", scheduled_at=at(tuesday, 10)
    )
    sign_in(page, live_server, team.editor_token)
    open_week(page, live_server, tuesday)
    entry = f"li.cal-post[data-post-id='{post.id}']"

    # The sandbox channel's free slots are at 09:00 and 17:00 UTC each day.
    page.locator(entry).drag_to(
        page.locator(f"li.cal-day[data-date='{wednesday}'] li.cal-slot[data-at='{wednesday}T17:00']")
    )
    page.wait_for_selector(f"li.cal-day[data-date='{wednesday}'] {entry}")
    on_the_slot = due_times(services, post.id)
    page.locator(entry).drag_to(page.locator(f"li.cal-day[data-date='{thursday}'] h2"))
    page.wait_for_selector(f"li.cal-day[data-date='{thursday}'] {entry}")
    page.screenshot(path=artifacts / "calendar-moved-by-drag.png", full_page=True)

    assert on_the_slot == [(DeliveryState.SCHEDULED, at(wednesday, 17))]
    # Onto a day, the post keeps its time of day.
    assert due_times(services, post.id) == [(DeliveryState.SCHEDULED, at(thursday, 17))]
    assert page.locator(f"{entry} time").inner_text() == "17:00"


def test_the_week_and_the_month_fit_a_phone(
    browser: Browser, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    tuesday = next_tuesday()
    make_post(
        services, team.workspace, team.channels, text="A rather long text " * 8, scheduled_at=at(tuesday, 10)
    )
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        phone.set_default_timeout(15_000)
        sign_in(phone, live_server, team.editor_token)
        for view in ("week", "month"):
            phone.goto(f"{live_server}/dashboard/calendar?view={view}&date={tuesday}&tz=Europe/Paris")
            phone.locator("li.cal-post summary").first.click()
            check_accessible(phone)
            days = phone.locator("li.cal-day")
            # Stacked: the second day starts below the first, not beside it.
            first, second = days.nth(0).bounding_box(), days.nth(1).bounding_box()
            assert first is not None
            assert second is not None
            assert second["y"] > first["y"]
            phone.screenshot(path=artifacts / f"calendar-{view}-phone.png", full_page=True)
    finally:
        context.close()
