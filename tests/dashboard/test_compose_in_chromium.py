"""Compose, a post's page and approvals in a real browser: an editor schedules a post to two sandbox
channels and sees it published; a contributor's post is approved by an editor and goes out; the counts
follow the typing; every control is named and nothing scrolls sideways on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from shared.bootstrap import Services
from shared.deliveries.models import DeliveryState
from shared.networks.sandbox.adapter import SandboxNetwork
from tests.dashboard.browsing import PHONE_WIDTH, check_accessible, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.driving import publish_what_is_due


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


def sandbox_texts(services: Services, external_ids: list[str]) -> list[str]:
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    return sorted(row["text"] for row in network.store.get_many(external_ids).values())


def test_an_editor_composes_a_post_for_two_channels_and_sees_it_published(
    page: Page, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, live_server, team.editor_token)
    page.get_by_role("link", name="Compose").click()
    page.wait_for_selector("#compose-form")
    check_accessible(page)
    sandbox, news = team.channels

    page.fill("#text", "Our winter concert is on Friday 👋🏽")
    page.check(f"input[name=channel][value='{sandbox.id}']")
    page.check(f"input[name=channel][value='{news.id}']")
    # The script asks the server for the counts as one types: the sandbox counts graphemes.
    page.wait_for_selector("#preview [data-test=count] >> nth=1")
    assert page.locator("#preview [data-test=count]").all_inner_texts() == ["33 / 500", "33 / 500"]
    page.click(f"#variants summary:has-text('{news.name}')")
    page.fill(f"#variant-{news.id}", "x" * 501)
    page.wait_for_selector("#preview [data-sendable=false]")
    assert (
        page.locator(f"#preview li[data-channel-id='{news.id}'] [data-test=count]").inner_text()
        == "501 / 500"
    )
    page.fill(f"#variant-{news.id}", "Winter concert, Friday: tickets at the door.")
    page.wait_for_function("() => !document.querySelector('#preview [data-sendable=false]')")
    page.screenshot(path=artifacts / "compose.png", full_page=True)

    page.get_by_role("button", name="Add a reply", exact=True).click()
    page.fill("#thread-1", "Doors open at seven.")
    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_selector("#deliveries")
    assert "Scheduled: it goes out at its time." in page.locator(".notice").inner_text()
    assert page.locator("[data-test=post-state]").inner_text() == "scheduled"
    check_accessible(page)

    published = publish_what_is_due(services)
    page.reload()
    assert list(published.values()) == [DeliveryState.PUBLISHED, DeliveryState.PUBLISHED]
    assert page.locator("[data-test=post-state]").inner_text() == "published"
    assert page.locator("[data-test=delivery-state]").all_inner_texts() == ["published", "published"]
    urls = page.locator("[data-test=delivery-url]").all_inner_texts()
    assert len(urls) == 2
    external_ids = [url.rstrip("/").rsplit("/", 1)[1] for url in urls]
    assert sandbox_texts(services, external_ids) == [
        "Our winter concert is on Friday 👋🏽",
        "Winter concert, Friday: tickets at the door.",
    ]
    page.screenshot(path=artifacts / "compose-published-post.png", full_page=True)
    assert all(url.startswith(f"{live_server}/") for url in requested), requested


def test_a_contributors_post_is_approved_by_an_editor_and_goes_out(
    browser: Browser, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    contributor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    editor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        sign_in(contributor, live_server, team.contributor_token)
        contributor.goto(f"{live_server}/dashboard/compose")
        contributor.get_by_role("button", name="Send for approval", exact=True).click()
        contributor.wait_for_selector("[data-test=error-text]")
        assert contributor.locator("#text").get_attribute("aria-invalid") == "true"
        assert contributor.locator("[data-test=error-channels]").inner_text() == (
            "Choose at least one channel to publish on."
        )
        contributor.fill("#text", "Can we announce the choir?")
        contributor.check(f"input[name=channel][value='{team.channels[0].id}']")
        contributor.get_by_role("button", name="Send for approval", exact=True).click()
        contributor.wait_for_selector("#deliveries")
        assert contributor.locator("[data-test=post-state]").inner_text() == "pending approval"
        assert publish_what_is_due(services) == {}

        sign_in(editor, live_server, team.editor_token)
        editor.get_by_role("link", name="Approvals").click()
        waiting = editor.locator("li.approval")
        assert waiting.count() == 1
        assert waiting.locator("[data-test=approval-text]").inner_text() == "Can we announce the choir?"
        check_accessible(editor)
        editor.screenshot(path=artifacts / "approvals.png", full_page=True)
        # Sent back without a word is refused beside the comment; with one, the author reads it.
        waiting.get_by_role("button", name="Send back", exact=True).click()
        editor.wait_for_selector("[data-test^=error-comment-]")
        editor.locator("li.approval").get_by_label("Comment for the author (optional)").fill("Lovely, go.")
        editor.locator("li.approval").get_by_role("button", name="Approve", exact=True).click()
        editor.wait_for_selector("[data-test=nothing-waiting]")
        assert "Approved: it is scheduled." in editor.locator(".notice").inner_text()

        published = publish_what_is_due(services)
        assert set(published.values()) == {DeliveryState.PUBLISHED}
        contributor.reload()
        assert contributor.locator("[data-test=post-state]").inner_text() == "published"
        assert contributor.locator("[data-test=review-comment]").inner_text() == (
            "Approved with the comment: “Lovely, go.”"
        )
    finally:
        contributor.context.close()
        editor.context.close()


def test_the_posting_pages_fit_a_phone_and_keep_every_control_named(
    browser: Browser, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    try:
        sign_in(phone, live_server, team.editor_token)
        phone.goto(f"{live_server}/dashboard/compose")
        phone.fill("#text", "A" * 120)
        phone.check(f"input[name=channel][value='{team.channels[0].id}']")
        phone.get_by_role("button", name="Check", exact=True).click()
        phone.wait_for_selector("#preview [data-test=count]")
        check_accessible(phone)
        phone.screenshot(path=artifacts / "compose-phone.png", full_page=True)
        phone.get_by_role("button", name="Schedule", exact=True).first.click()
        phone.wait_for_selector("#deliveries")
        check_accessible(phone)
        phone.screenshot(path=artifacts / "post-phone.png", full_page=True)
        phone.goto(f"{live_server}/dashboard/approvals")
        check_accessible(phone)
    finally:
        context.close()
