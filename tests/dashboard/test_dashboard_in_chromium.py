"""The dashboard in a real browser: signed in through its form, every number it shows is the API's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from shared.deliveries.models import DeliveryState
from shared.deliveries.overview import TROUBLED_STATES
from tests.dashboard.seeding import FAILED_ERROR, NEEDS_REVIEW_ERROR, OTHER_WORKSPACE_ERROR, SeededWorkspace

TIMEZONE = "Europe/Paris"


@pytest.fixture
def api(live_server: str, seeded: SeededWorkspace) -> Iterator[httpx.Client]:
    """The JSON API, asked over the same server with the owner's bearer token."""
    headers = {"Authorization": f"Bearer {seeded.owner_token}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def get_json(api: httpx.Client, path: str, **params: Any) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_dashboard_shows_what_the_api_returns_and_keeps_a_screenshot(
    page: Page,
    live_server: str,
    api: httpx.Client,
    seeded: SeededWorkspace,
    other_workspace: SeededWorkspace,
    artifacts: Path,
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server}/dashboard?tz={TIMEZONE}")
    assert page.url.startswith(f"{live_server}/dashboard/sign-in")
    page.fill("#token", seeded.reader_token)
    page.click("button[type=submit]")
    page.wait_for_selector("#upcoming")
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)

    assert page.locator("[data-test=workspace]").inner_text() == seeded.workspace.name
    check_upcoming_posts_and_free_slots(page, api)
    check_delivery_states_and_errors(page, api, seeded)
    check_engagement_over_time(page, api, seeded)
    check_best_time_grid(page, api, seeded)
    assert OTHER_WORKSPACE_ERROR not in page.content()
    # Everything the page needed came from this server: no CDN, no font service, nothing else.
    assert requested
    assert all(url.startswith(f"{live_server}/") for url in requested), requested


def check_upcoming_posts_and_free_slots(page: Page, api: httpx.Client) -> None:
    section = page.locator("#upcoming")
    assert section.get_attribute("data-timezone") == TIMEZONE
    expected = get_json(
        api,
        "/v1/calendar",
        **{
            "from": section.get_attribute("data-from"),
            "to": section.get_attribute("data-to"),
            "tz": TIMEZONE,
        },
    )

    shown_entries = [
        (
            entry.get_attribute("data-post-id"),
            entry.get_attribute("data-channel-id"),
            entry.locator("time").inner_text(),
            entry.locator(".state").inner_text(),
        )
        for entry in section.locator("li.entry").all()
    ]
    assert shown_entries == [
        (entry["post_id"], entry["channel_id"], entry["at"][11:16], entry["state"].replace("_", " "))
        for entry in expected["entries"]
    ]
    assert int(section.locator("[data-test=upcoming-count]").inner_text()) == len(expected["entries"])
    assert len(expected["entries"]) >= 4  # the three posts to come, one of them on two channels

    shown_slots = [
        (slot.get_attribute("data-channel-id"), slot.locator("time").inner_text())
        for slot in section.locator(".slot").all()
    ]
    assert shown_slots == [(slot["channel_id"], slot["at"][11:16]) for slot in expected["free_slots"]]
    assert int(section.locator("[data-test=free-slot-count]").inner_text()) == len(expected["free_slots"])
    assert expected["free_slots"]


def check_delivery_states_and_errors(page: Page, api: httpx.Client, seeded: SeededWorkspace) -> None:
    section = page.locator("#deliveries")
    for state in DeliveryState:
        listed = get_json(api, "/v1/deliveries", state=state.value, limit=500)["items"]
        shown = int(section.locator(f"td[data-state={state.value}]").inner_text())
        assert shown == len(listed), state
    assert int(section.locator("td[data-state=published]").inner_text()) == len(seeded.published)

    troubled = [
        item
        for state in TROUBLED_STATES
        for item in get_json(api, "/v1/deliveries", state=state.value, limit=500)["items"]
    ]
    troubled.sort(key=lambda item: item["id"])
    troubled.sort(key=lambda item: item["due_at"], reverse=True)
    shown_rows = [
        (row.get_attribute("data-delivery-id"), row.locator(".error-text").inner_text())
        for row in section.locator("tr[data-delivery-id]").all()
    ]
    assert shown_rows == [(item["id"], item["error"]) for item in troubled]
    assert {error for _, error in shown_rows} == {FAILED_ERROR, NEEDS_REVIEW_ERROR}


def shown_count(text: str) -> int | None:
    """A count as the page shows it: a dash is unknown."""
    return None if text.strip() == "—" else int(text)


def check_engagement_over_time(page: Page, api: httpx.Client, seeded: SeededWorkspace) -> None:
    section = page.locator("#engagement")
    period = {
        "from": section.get_attribute("data-from"),
        "to": section.get_attribute("data-to"),
        "tz": section.get_attribute("data-timezone"),
        "bucket": "day",
    }
    workspace = get_json(api, "/v1/analytics/series", **period)
    by_channel = {
        str(channel.id): get_json(api, f"/v1/analytics/channels/{channel.id}/series", **period)
        for channel in seeded.channels
    }

    assert section.locator("svg.pygal-chart").count() == 1
    assert (
        shown_count(section.locator("[data-test=engagement-interactions]").inner_text())
        == (workspace["totals"]["interactions"])
    )
    assert (
        shown_count(section.locator("[data-test=engagement-views]").inner_text())
        == workspace["totals"]["views"]
    )
    # Every interaction seeded was seen within the period: the totals are not vacuous.
    seeded_interactions = sum(seed.likes + seed.reposts + seed.replies for seed in seeded.published)
    assert workspace["totals"]["interactions"] == seeded_interactions

    totals_rows = section.locator("table.engagement-totals tr[data-channel-id]").all()
    assert [row.get_attribute("data-channel-id") for row in totals_rows] == [*by_channel, "all"]
    for row in totals_rows:
        channel_id = row.get_attribute("data-channel-id")
        expected = workspace if channel_id == "all" else by_channel[str(channel_id)]
        for cell in row.locator("td[data-metric]").all():
            metric = cell.get_attribute("data-metric")
            assert shown_count(cell.inner_text()) == expected["totals"][metric], (channel_id, metric)

    day_rows = section.locator("table.engagement-days tbody tr").all()
    assert [row.get_attribute("data-day") for row in day_rows] == [
        point["start"][:10] for point in workspace["points"]
    ]
    for index, row in enumerate(day_rows):
        for cell in row.locator("td").all():
            channel_id = cell.get_attribute("data-channel-id")
            expected = workspace if channel_id == "all" else by_channel[str(channel_id)]
            assert shown_count(str(cell.text_content())) == expected["points"][index]["interactions"]


def check_best_time_grid(page: Page, api: httpx.Client, seeded: SeededWorkspace) -> None:
    section = page.locator("#best-times")
    channel_id = section.get_attribute("data-channel-id")
    assert channel_id == str(seeded.channels[0].id)
    expected = get_json(api, f"/v1/analytics/channels/{channel_id}/best-times")

    shown_cells = {
        (cell.get_attribute("data-weekday"), int(str(cell.get_attribute("data-hour")))): (
            float(cell.locator(".value").inner_text()),
            int(cell.locator(".samples").inner_text().removeprefix("n=")),
        )
        for cell in section.locator("td.cell").all()
    }
    assert shown_cells == {
        (cell["weekday"], cell["hour"]): (cell["mean_interactions"], cell["posts"])
        for cell in expected["cells"]
    }
    assert int(section.locator("[data-test=best-time-posts]").inner_text()) == expected["posts"]
    # Three posts a week apart at 09:xx make one cell, enough to be suggested.
    assert 3 in [posts for _, posts in shown_cells.values()]
    shown_suggestions = [
        (item.get_attribute("data-weekday"), int(str(item.get_attribute("data-hour"))))
        for item in section.locator(".suggestions li").all()
    ]
    assert shown_suggestions == [(item["weekday"], item["hour"]) for item in expected["suggestions"]]
    assert shown_suggestions
