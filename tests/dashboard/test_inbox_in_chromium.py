"""The inbox in a real browser: what people said on the sandbox, listed, filtered, opened, answered once,
assigned and closed from the page, and a stream's items, all by keyboard and pointer, on a phone too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from shared.bootstrap import Services
from shared.inbox.models import ItemState
from shared.inbox.working import ItemFilter, list_items
from shared.networks.ports import InboxKind
from tests.dashboard.browsing import FOCUS_OUTLINE, PHONE_WIDTH, check_accessible, sign_in
from tests.dashboard.inbox_seeding import MENTION, REPLIES, InboxSeed, item_of, read_sources_now, seed_inbox
from tests.driving import publish_what_is_due


@pytest.fixture
def inbox(services: Services) -> InboxSeed:
    return seed_inbox(services)


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shown_items(page: Page) -> list[str]:
    """The sandbox ids of the items listed, top to bottom."""
    return [str(item.get_attribute("data-external-id")) for item in page.locator("li.inbox-item").all()]


def test_people_answer_a_post_and_the_team_works_the_inbox_from_the_page(
    page: Page, live_server: str, services: Services, inbox: InboxSeed, artifacts: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, live_server, inbox.editor_token)
    everything = len(REPLIES) + 1

    # The navigation's badge counts what is unread, and leads to the inbox.
    assert page.locator("[data-test=inbox-unread]").text_content() == f"{everything} unread"
    page.click("[data-test=inbox-link]")
    page.wait_for_selector("#inbox-items")
    page.screenshot(path=artifacts / "inbox.png", full_page=True)
    with services.sessions() as session:
        newest_first = [item.external_id for item in list_items(session, inbox.workspace.id, ItemFilter())]
    assert shown_items(page) == newest_first
    assert set(newest_first) == {*inbox.reply_ids, inbox.mention_id}
    assert page.locator("li.inbox-item.unread").count() == everything
    count = page.locator(f".unread-counts li[data-channel-id='{inbox.channel.id}'] [data-test=unread-count]")
    assert count.inner_text() == str(everything)
    ada = page.locator(f"li.inbox-item[data-external-id='{inbox.reply_ids[0]}']")
    assert ada.locator(".handle").inner_text() == f"@{REPLIES[0][0]}"
    assert ada.locator(".text").text_content() == f"Unread: {REPLIES[0][1]}"
    assert ada.locator(".kind").inner_text() == "reply"
    assert ada.locator(".channel").inner_text() == inbox.channel.name
    check_accessible(page)

    # Filtered by kind, then by state.
    page.select_option("#filter-kind", "mention")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**kind=mention**")
    assert shown_items(page) == [inbox.mention_id]
    assert page.locator(f"li[data-external-id='{inbox.mention_id}'] .handle").inner_text() == f"@{MENTION[0]}"
    page.select_option("#filter-kind", "")
    page.select_option("#filter-state", "done")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**state=done**")
    assert shown_items(page) == []
    assert page.locator("[data-test=no-items]").inner_text() == "No item matches."

    # Opened: the thread oldest first with the item marked, what it answers, and it is read now.
    page.click("text=Clear")
    page.click(f"li[data-external-id='{inbox.reply_ids[0]}'] .text a")
    page.wait_for_selector("#thread")
    thread = page.locator("#thread li.thread-entry")
    assert [entry.get_attribute("data-external-id") for entry in thread.all()] == inbox.reply_ids
    assert page.locator("#thread [aria-current=true]").get_attribute("data-external-id") == inbox.reply_ids[0]
    assert page.locator("#answers .answered").get_attribute("data-delivery-id") == str(inbox.published.id)
    assert page.locator("#item").get_attribute("data-unread") == "false"
    assert not item_of(services, inbox.reply_ids[0]).unread
    assert page.locator("[data-test=inbox-unread]").text_content() == f"{everything - 1} unread"
    check_accessible(page)

    # Answered from the page: once on the network, in answer to that reply.
    page.fill("#reply-text", "It closes at six on Sunday.")
    page.get_by_role("button", name="Send reply", exact=True).click()
    page.wait_for_selector("#replies li.reply")
    assert "Your reply is scheduled" in page.locator(".notice").inner_text()
    publish_what_is_due(services)
    page.reload()
    assert page.locator("#replies li.reply").get_attribute("data-state") == "published"
    assert page.locator("#replies .delivery").get_attribute("data-state") == "published"
    answers = inbox.audience.store.replies_to([inbox.reply_ids[0]])
    assert [(row["handle"], row["text"]) for row in answers] == [
        (inbox.channel.handle, "It closes at six on Sunday.")
    ]
    assert [row["in_reply_to_id"] for row in answers] == [inbox.reply_ids[0]]
    assert page.locator("[data-test=item-state]").inner_text() == "done"
    page.screenshot(path=artifacts / "inbox-item.png", full_page=True)

    # Another item assigned and closed, the last step by keyboard alone.
    page.click("text=Back to the inbox")
    page.click(f"li[data-external-id='{inbox.reply_ids[1]}'] .text a")
    page.wait_for_selector("#work")
    page.select_option("#assignee", label=inbox.editor.name)
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_selector(".notice")
    assert page.locator("[data-test=item-assignee]").inner_text() == f"assigned to {inbox.editor.name}"
    page.focus("button[value=done]")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.value") == "done"
    assert page.evaluate(FOCUS_OUTLINE) != "none", "keyboard focus is seen"
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Marked done.")
    assert page.locator("[data-test=item-state]").inner_text() == "done"
    closed = item_of(services, inbox.reply_ids[1])
    assert (closed.state, closed.assignee_id) == (ItemState.DONE, inbox.editor.id)

    page.goto(f"{live_server}/dashboard/inbox?assignee=mine&state=done")
    assert shown_items(page) == [inbox.reply_ids[1]]
    page.goto(f"{live_server}/dashboard/inbox?state=open&kind=reply")
    assert shown_items(page) == [inbox.reply_ids[2]]
    assert all(url.startswith(f"{live_server}/") for url in requested), requested


def test_a_stream_is_added_from_the_page_and_lists_what_its_search_finds(
    page: Page, live_server: str, services: Services, inbox: InboxSeed, artifacts: Path
) -> None:
    sign_in(page, live_server, inbox.editor_token)
    page.get_by_role("link", name="Streams").click()
    page.wait_for_selector("#add-stream")
    check_accessible(page)

    page.fill("#stream-name", "Book fair")
    page.get_by_role("button", name="Add stream", exact=True).click()
    page.wait_for_selector("[data-test=error-query]")
    assert page.locator("#stream-query").get_attribute("aria-invalid") == "true"
    page.fill("#stream-query", "book fair")
    page.get_by_role("button", name="Add stream", exact=True).click()
    page.wait_for_selector("[data-test=stream-query]")
    assert page.locator("[data-test=no-items]").count() == 1
    read_sources_now(services)
    page.reload()

    found = inbox.audience.store.matching("book fair", None, 100)
    assert sorted(shown_items(page)) == sorted(str(row["id"]) for row in found)
    assert len(found) == 2  # the post itself, and ada's question
    kinds = {item.get_attribute("data-kind") for item in page.locator("li.inbox-item").all()}
    assert kinds == {InboxKind.POST.value}
    page.screenshot(path=artifacts / "inbox-stream.png", full_page=True)
    # A stream's items are read, not worked: they count in no badge.
    assert page.locator("[data-test=inbox-unread]").text_content() == f"{len(REPLIES) + 1} unread"

    page.get_by_role("link", name="Streams").click()
    page.click("button:has-text('Delete')")
    page.wait_for_selector("[data-test=no-streams]")


def test_the_inbox_fits_a_phone_and_keeps_every_control_named(
    browser: Browser, live_server: str, services: Services, inbox: InboxSeed, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    long_word = "Sooooo" + "o" * 120 + " good"
    inbox.audience.reply(
        str(inbox.published.external_id), long_word, author="someone_with_a_very_long_handle"
    )
    read_sources_now(services)
    try:
        sign_in(phone, live_server, inbox.editor_token)
        phone.goto(f"{live_server}/dashboard/inbox")
        check_accessible(phone)
        phone.screenshot(path=artifacts / "inbox-phone.png", full_page=True)
        phone.click("li.inbox-item .text a >> nth=0")
        phone.wait_for_selector("#reply-text")
        check_accessible(phone)
        phone.screenshot(path=artifacts / "inbox-item-phone.png", full_page=True)
        phone.goto(f"{live_server}/dashboard/inbox/streams")
        check_accessible(phone)
    finally:
        context.close()
