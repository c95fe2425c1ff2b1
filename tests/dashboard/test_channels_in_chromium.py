"""Channels in a real browser: a sandbox channel connected from the form, verified, paused and resumed, its
slots set, and the best-time suggestions applied, by pointer and keyboard, on a phone too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.services import ask_for_reconnection
from shared.db import utcnow
from shared.metrics.best_times import best_times
from tests.dashboard.browsing import FOCUS_OUTLINE, PHONE_WIDTH, check_accessible, sign_in
from tests.dashboard.seeding import SeededWorkspace


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def channel_named(services: Services, name: str) -> Channel:
    with services.sessions() as session:
        found = session.scalars(select(Channel).where(Channel.name == name)).one()
        session.expunge(found)
        return found


def test_a_sandbox_channel_is_connected_paused_and_resumed_from_the_page(
    page: Page, live_server: str, services: Services, seeded: SeededWorkspace, artifacts: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, live_server, seeded.owner_token)
    page.get_by_role("link", name="Channels").click()
    page.wait_for_selector("#channels")
    assert page.locator("table.channels tbody tr").count() == len(seeded.channels)

    # The form is built from the network's own description: the sandbox asks for no credentials.
    page.select_option("#choose-network", "sandbox")
    page.get_by_role("button", name="Choose", exact=True).click()
    page.wait_for_selector("[data-test=connect-form]")
    assert "Sandbox needs no credentials." in page.locator("[data-test=connect-form]").inner_text()
    check_accessible(page)
    page.fill("#connect-name", "Launch account")
    page.fill("#connect-handle", "launch")
    page.fill("#connect-setting-key-0", "latency_ms")
    page.fill("#connect-setting-value-0", "fast")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_selector("[data-test=error-settings]")
    assert "latency_ms must be a finite number" in page.locator("[data-test=error-settings]").inner_text()
    assert page.locator("#connect-name").input_value() == "Launch account"
    page.fill("#connect-setting-value-0", "20")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_selector("#channel")
    assert "is connected" in page.locator(".notice").inner_text()
    connected = channel_named(services, "Launch account")
    assert (connected.handle, connected.settings, connected.state) == (
        "launch",
        {"latency_ms": 20},
        ChannelState.ACTIVE,
    )
    page.screenshot(path=artifacts / "channel.png", full_page=True)

    # Verified with the network, then paused by keyboard alone, then resumed.
    page.get_by_role("button", name="Verify the credentials").click()
    page.wait_for_selector("text=Crier posts as launch")
    page.focus("button:has-text('Pause')")
    assert page.evaluate(FOCUS_OUTLINE) != "none", "keyboard focus is seen"
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Paused: nothing is published")
    assert page.locator("[data-test=channel-state]").inner_text() == "paused"
    assert channel_named(services, "Launch account").state is ChannelState.PAUSED
    page.get_by_role("link", name="Every channel").click()
    row = page.locator(f"tr[data-channel-id='{connected.id}']")
    assert row.locator("[data-test=channel-state]").inner_text() == "paused"
    page.screenshot(path=artifacts / "channels.png", full_page=True)
    row.get_by_role("link", name="Launch account").click()
    page.get_by_role("button", name="Resume", exact=True).click()
    page.wait_for_selector("text=Resumed")
    assert channel_named(services, "Launch account").state is ChannelState.ACTIVE

    # Its slots: a row typed, a bad time refused beside its row, then saved.
    page.select_option("#slot-day-0", "wed")
    page.fill("#slot-time-0", "7:30")
    page.get_by_role("button", name="Save slots").click()
    page.wait_for_selector("[data-test=error-slot-0]")
    assert page.locator("#slot-time-0").get_attribute("aria-invalid") == "true"
    page.fill("#slot-time-0", "07:30")
    page.get_by_role("button", name="Save slots").click()
    page.wait_for_selector("text=Slots saved")
    assert channel_named(services, "Launch account").posting_schedule["wed"] == ["07:30"]
    assert all(url.startswith(f"{live_server}/") for url in requested), requested


def test_best_times_are_applied_as_slots_and_a_channel_to_reconnect_is_named_on_every_page(
    page: Page, live_server: str, services: Services, seeded: SeededWorkspace, artifacts: Path
) -> None:
    sandbox, news = seeded.channels
    with services.sessions() as session:
        suggested = best_times(session, seeded.workspace.id, sandbox.id, now=utcnow())
    with services.sessions.begin() as session:
        ask_for_reconnection(session, [news.id])
    sign_in(page, live_server, seeded.owner_token)

    banner = page.locator("[data-test=reconnect-banner]")
    assert news.name in banner.inner_text()
    banner.get_by_role("link", name=news.name).click()
    page.wait_for_selector("#reconnect")
    assert page.locator("[data-test=channel-state]").inner_text() == "needs reauth"
    page.get_by_role("button", name="Reconnect with no credentials").click()
    page.wait_for_selector("text=Reconnected")
    assert page.locator("[data-test=reconnect-banner]").count() == 0

    page.goto(f"{live_server}/dashboard/channels/{sandbox.id}")
    shown = [item.inner_text() for item in page.locator("[data-test=suggested-slot]").all()]
    assert shown
    assert len(shown) == len(suggested.suggestions)
    page.get_by_role("button", name="Apply as slots").click()
    page.wait_for_selector("text=The suggested times are the channel's slots now.")
    assert channel_named(services, sandbox.name).posting_schedule == suggested.posting_schedule
    typed = [
        (page.locator(f"#slot-day-{index}").input_value(), page.locator(f"#slot-time-{index}").input_value())
        for index in range(len(shown))
    ]
    assert typed == [(day, at) for day, times in suggested.posting_schedule.items() for at in times]


def test_the_channel_pages_fit_a_phone(
    browser: Browser, live_server: str, seeded: SeededWorkspace, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    sign_in(phone, live_server, seeded.owner_token)
    phone.goto(f"{live_server}/dashboard/channels?network=discord")
    check_accessible(phone)
    phone.goto(f"{live_server}/dashboard/channels/{seeded.channels[0].id}")
    check_accessible(phone)
    phone.screenshot(path=artifacts / "channel-phone.png", full_page=True)
    context.close()
