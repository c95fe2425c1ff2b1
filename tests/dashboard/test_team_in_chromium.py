"""The team page in a real browser: a token created and shown once, signed in with, and revoked; a member
added and given another role, on a phone too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from shared.bootstrap import Services
from tests.dashboard.browsing import PHONE_WIDTH, check_accessible, sign_in
from tests.dashboard.seeding import SeededWorkspace


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def test_a_token_is_created_shown_once_signed_in_with_and_revoked(
    page: Page,
    browser: Browser,
    live_server: str,
    services: Services,
    seeded: SeededWorkspace,
    artifacts: Path,
) -> None:
    sign_in(page, live_server, seeded.owner_token)
    page.get_by_role("link", name="Team").click()
    page.wait_for_selector("#tokens")
    check_accessible(page)

    page.fill("#token-name", "laptop")
    page.select_option("#token-scope", "read")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("[data-test=new-token]")
    plain = shown.inner_text()
    assert plain.startswith("crier_")
    page.screenshot(path=artifacts / "team-new-token.png", full_page=True)
    row = page.locator("table.tokens tr", has_text="laptop")
    assert row.locator("td").nth(0).inner_text() == "read"

    # Another browser signs in with it: it works, and it reads only.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    elsewhere = other.new_page()
    sign_in(elsewhere, live_server, plain)
    elsewhere.get_by_role("link", name="Team").click()
    assert elsewhere.locator("[data-test=add-member]").count() == 0

    # Shown once: the page drawn again has its first characters only.
    page.goto(f"{live_server}/dashboard/team")
    assert plain not in page.content()
    page.locator("table.tokens tr", has_text="laptop").get_by_role("button", name="Revoke").click()
    page.wait_for_selector("text=is revoked")
    elsewhere.reload()
    assert "was revoked" in elsewhere.locator(".notice").inner_text()
    other.close()


def test_a_member_is_added_and_given_another_role_on_a_phone(
    browser: Browser, live_server: str, seeded: SeededWorkspace, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    sign_in(phone, live_server, seeded.owner_token)
    phone.goto(f"{live_server}/dashboard/team")
    check_accessible(phone)

    phone.fill("#member-name", "Grace Hopper")
    phone.fill("#member-email", "grace@example.org")
    phone.select_option("#member-role", "contributor")
    phone.get_by_role("button", name="Add member").click()
    phone.wait_for_selector("text=Grace Hopper is a member now, as contributor.")
    row = phone.locator("table.members tr", has_text="grace@example.org")
    assert row.locator("[data-test=member-role]").inner_text() == "contributor"
    row.get_by_label("Role of Grace Hopper").select_option("editor")
    row.get_by_role("button", name="Change the role of Grace Hopper").click()
    phone.wait_for_selector("text=Grace Hopper is editor now.")
    check_accessible(phone)
    phone.screenshot(path=artifacts / "team-phone.png", full_page=True)
    context.close()
