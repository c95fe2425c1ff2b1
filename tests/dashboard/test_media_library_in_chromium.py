"""The media library in a real browser, on a wide screen and on a phone: an image flagged for having no
alt text is described from its own form, and the flag is gone; axe finds nothing serious on the way and
nothing scrolls sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from shared.bootstrap import Services
from shared.media.models import MediaAsset
from tests.dashboard.axe import assert_no_serious_violation
from tests.dashboard.browsing import PHONE_WIDTH, check_accessible, loaded_width, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.media.samples import image, upload


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


@pytest.fixture
def page(page_on_each_screen: Page) -> Page:
    return page_on_each_screen


def test_alt_text_added_to_a_flagged_image_takes_its_flag_away(
    page: Page, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    upload(services, team.workspace, image("PNG", size=(40, 30)), "poster.png", alt_text="The fair's poster")
    bare = upload(
        services,
        team.workspace,
        image("JPEG", size=(30, 40)),
        "a-rather-long-name-for-the-crowd-at-the-gate.jpg",
    )
    width = "phone" if page.viewport_size and page.viewport_size["width"] == PHONE_WIDTH else "wide"
    sign_in(page, live_server, team.editor_token)

    page.get_by_role("link", name="Media", exact=True).click()
    page.wait_for_selector("#library")
    item = page.locator(f"#media-{bare.id}")
    assert item.locator("[data-test=no-alt]").inner_text() == (
        "No alt text: screen-reader users will not know what it shows."
    )
    assert loaded_width(item.locator("img")) == 30, "the thumbnail loads"
    check_accessible(page)
    assert_no_serious_violation(page)
    page.screenshot(path=artifacts / f"media-library-flagged-{width}.png", full_page=True)

    page.get_by_role("link", name="Missing alt text (1)").click()
    page.wait_for_selector("[data-test=show-all]")
    assert page.locator(".media-item").count() == 1
    page.get_by_label("Alt text for a-rather-long-name-for-the-crowd-at-the-gate.jpg").fill(
        "A crowd waiting at the gate in the rain."
    )
    page.get_by_role("button", name="Save alt text").click()
    page.wait_for_selector("[data-test=no-media]")

    assert "Saved the alt text of a-rather-long-name-for-the-crowd-at-the-gate.jpg." in page.inner_text(
        "body"
    )
    assert page.locator(".media-item").count() == 0, "nothing is left without alt text"
    page.get_by_role("link", name="Show all media").click()
    page.wait_for_selector("[data-test=all-described]")
    described = page.locator(f"#media-{bare.id}")
    assert described.locator("[data-test=no-alt]").count() == 0
    assert described.locator("[data-test=alt-text]").inner_text() == (
        "Alt text: A crowd waiting at the gate in the rain."
    )
    check_accessible(page)
    assert_no_serious_violation(page)
    page.screenshot(path=artifacts / f"media-library-described-{width}.png", full_page=True)
    with services.sessions() as session:
        assert session.get_one(MediaAsset, bare.id).alt_text == "A crowd waiting at the gate in the rain."
