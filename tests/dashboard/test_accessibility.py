"""axe-core on every dashboard page, in Chromium: no serious or critical violation, on a wide screen and
on a phone, with the reconnect banner and a refused form's errors showing too."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from shared.bootstrap import Services
from shared.channels.services import ask_for_reconnection
from shared.inbox.streams import create_stream
from shared.workspaces.access import Actor, Role
from tests.dashboard.axe import assert_no_serious_violation, serious_violations
from tests.dashboard.browsing import sign_in
from tests.dashboard.inbox_seeding import InboxSeed, item_id_of, seed_inbox
from tests.factories import make_channel, make_member_token
from tests.media.samples import image, upload, video


@pytest.fixture
def inbox(services: Services) -> InboxSeed:
    return seed_inbox(services)


@pytest.fixture
def page(page_on_each_screen: Page) -> Page:
    return page_on_each_screen


def test_no_dashboard_page_has_a_serious_or_critical_violation(
    page: Page, live_server: str, services: Services, inbox: InboxSeed
) -> None:
    expired = make_channel(services, inbox.workspace, "Old account")
    with services.sessions.begin() as session:
        ask_for_reconnection(session, [expired.id])
        create_stream(
            session,
            services.networks,
            Actor.system(inbox.workspace.id),
            inbox.channel.id,
            name="Book fair",
            query="book fair",
        )
    # The media library with an image described, one flagged for having no alt text, and a video.
    upload(services, inbox.workspace, image("PNG"), "poster.png", alt_text="The book fair's poster")
    upload(services, inbox.workspace, image("JPEG"), "crowd.jpg")
    upload(services, inbox.workspace, video(), "teaser.mp4")
    page.goto(f"{live_server}/dashboard/sign-in")
    assert_no_serious_violation(page)

    sign_in(page, live_server, make_member_token(services, inbox.workspace, Role.OWNER))
    assert page.locator("[data-test=reconnect-banner]").count() == 1
    item_id = item_id_of(services, inbox.reply_ids[0])
    for path in (
        "/dashboard",
        "/dashboard/inbox",
        f"/dashboard/inbox/items/{item_id}",
        "/dashboard/inbox/streams",
        "/dashboard/compose",
        "/dashboard/approvals",
        "/dashboard/calendar",
        "/dashboard/calendar?view=month",
        f"/dashboard/posts/{inbox.published.post_id}",
        "/dashboard/channels?network=mastodon",
        f"/dashboard/channels/{inbox.channel.id}",
        f"/dashboard/channels/{expired.id}",
        "/dashboard/team",
        "/dashboard/media",
        "/dashboard/media?missing=1",
    ):
        page.goto(f"{live_server}{path}")
        assert_no_serious_violation(page)

    # A refused form, its errors beside the fields; a token shown once; a webhook's delivery log.
    page.goto(f"{live_server}/dashboard/channels?network=discord")
    page.fill("#connect-credential-webhook_url", "https://discord.com/api/webhooks/1/secret")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_selector("[data-test=error-name]")
    assert_no_serious_violation(page)
    page.goto(f"{live_server}/dashboard/team")
    page.fill("#token-name", "laptop")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("[data-test=new-token]")
    assert_no_serious_violation(page)
    page.fill("#webhook-url", "https://hooks.example.org/crier")
    page.check("input[name=events][value='*']")
    page.get_by_role("button", name="Add webhook").click()
    page.wait_for_selector("[data-test=new-secret]")
    page.get_by_role("button", name="Ping").first.click()
    page.wait_for_selector("#webhook-log")
    assert_no_serious_violation(page)


def test_axe_finds_what_it_should_on_a_page_made_worse(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/dashboard/sign-in")
    page.evaluate(
        """() => {
          const form = document.querySelector('form');
          const unlabelled = document.createElement('input');
          unlabelled.name = 'nameless';
          form.append(unlabelled);
          const faint = document.createElement('p');
          faint.textContent = 'Barely seen';
          faint.style.color = '#f5f6f9';
          form.append(faint);
        }"""
    )

    found = serious_violations(page)

    assert any(line.startswith("label (critical)") for line in found), found
    assert any(line.startswith("color-contrast (serious)") for line in found), found
