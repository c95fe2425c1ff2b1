"""The upload limit in a real browser: compose.js stops a file over the limit before the form is sent (and
lost), and the library's form, which runs no script, gets the 413 page with the limit and the way back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page

from services.api.app import create_app
from shared.bootstrap import Services
from tests.dashboard.axe import assert_no_serious_violation, context_options
from tests.dashboard.browsing import sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.media.samples import image

LIMIT = 512 * 1024


@pytest.fixture
def app(services: Services) -> Flask:
    """The app the live server serves, with a half-megabyte upload limit."""
    small = Services(
        **{**services.__dict__, "settings": services.settings.model_copy(update={"media_max_bytes": LIMIT})}
    )
    return create_app(services=small)


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def large_file(tmp_path: Path) -> Path:
    large = tmp_path / "poster.png"
    large.write_bytes(image("PNG", padding=LIMIT + 200 * 1024))
    return large


def test_compose_stops_a_file_over_the_limit_and_keeps_the_form(
    page: Page, live_server: str, team: PostingTeam, large_file: Path
) -> None:
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    sign_in(page, live_server, team.editor_token)
    page.goto(f"{live_server}/dashboard/compose")
    page.fill("#text", "Words that must not be lost.")

    page.set_input_files("#upload", str(large_file))
    page.get_by_role("button", name="Upload and choose it").click()

    assert page.locator("#upload-too-large").is_visible()
    assert page.locator("#upload-too-large").inner_text() == (
        "This file is larger than 0.5 MB: nothing was sent. Choose a smaller one."
    )
    assert page.input_value("#text") == "Words that must not be lost."
    assert not [url for url in sent if url.endswith("/dashboard/compose")]


def test_the_library_form_over_the_limit_shows_the_page_with_the_limit_and_the_way_back(
    page: Page, live_server: str, team: PostingTeam, large_file: Path, artifacts: Path
) -> None:
    sign_in(page, live_server, team.editor_token)
    page.goto(f"{live_server}/dashboard/media")

    page.set_input_files("#upload", str(large_file))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_selector("[data-test=too-large]")

    assert page.inner_text("[data-test=too-large]") == (
        "The file is too large: an upload may be at most 0.5 MB. Nothing was uploaded or saved."
    )
    assert_no_serious_violation(page)
    page.screenshot(path=artifacts / "upload-too-large.png", full_page=True)
    page.get_by_role("link", name="Back to the page you were on").click()
    page.wait_for_selector("#library")
