"""Media on the compose page and editing a post, in a real browser, on a wide screen and on a phone: a file
uploaded through the form's own file field shows as chosen with its thumbnail and the missing-alt warning,
the post goes out with it, and is then edited from its page; axe finds nothing serious on the way and
nothing scrolls sideways."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page

from shared.bootstrap import Services
from shared.posts.models import Post
from tests.dashboard.axe import assert_no_serious_violation
from tests.dashboard.browsing import PHONE_WIDTH, check_accessible, loaded_width, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.media.samples import image


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


@pytest.fixture
def page(page_on_each_screen: Page) -> Page:
    return page_on_each_screen


def test_a_file_is_uploaded_attached_and_the_post_then_edited_from_its_page(
    page: Page, live_server: str, services: Services, team: PostingTeam, artifacts: Path, tmp_path: Path
) -> None:
    picture = tmp_path / "a-rather-long-file-name-for-the-harbour-festival-poster-2026.png"
    picture.write_bytes(image("PNG", size=(40, 30)))
    width = "phone" if page.viewport_size and page.viewport_size["width"] == PHONE_WIDTH else "wide"
    sign_in(page, live_server, team.editor_token)
    page.goto(f"{live_server}/dashboard/compose")
    page.fill("#text", "The poster is out.")
    page.check(f"input[name=channel][value='{team.channels[0].id}']")

    page.set_input_files("#upload", str(picture))
    page.get_by_role("button", name="Upload and choose it").click()
    page.wait_for_selector("[data-test=media-choice] .warning")

    chosen = page.locator("input[name=media]:checked")
    assert chosen.count() == 1
    media_id = chosen.get_attribute("value")
    assert page.locator("[data-test=media-choice] .warning").inner_text().startswith("No alt text")
    thumbnail = page.locator("[data-test=media-choice] img")
    assert loaded_width(thumbnail) == 40, "the thumbnail loads"
    check_accessible(page)
    assert_no_serious_violation(page)
    page.screenshot(path=artifacts / f"compose-media-{width}.png", full_page=True)

    page.get_by_role("button", name="Schedule", exact=True).last.click()
    page.wait_for_selector("#deliveries")
    assert "Without alt text: a-rather-long-file-name" in page.inner_text("body")
    post_id = uuid.UUID(page.url.rstrip("/").rsplit("/", 1)[1])
    with services.sessions() as session:
        assert [str(attached) for attached in session.get_one(Post, post_id).media] == [media_id]

    page.get_by_role("link", name="Edit the post").click()
    page.wait_for_selector("#compose-form")
    assert page.input_value("#text") == "The poster is out."
    assert page.locator("input[name=media]:checked").count() == 1
    check_accessible(page)
    assert_no_serious_violation(page)
    page.fill("#text", "The poster is out, and it is blue.")
    page.get_by_role("button", name="Save changes", exact=True).click()
    page.wait_for_selector("#deliveries")
    assert "Saved: the post now says what you wrote." in page.inner_text("body")
    with services.sessions() as session:
        assert session.get_one(Post, post_id).text == "The poster is out, and it is blue."
