"""The compose page's network previews in a real browser, on a phone: typing a text with a link, a mention
and a hashtag redraws a Mastodon, an X and a LinkedIn card as each network shows it; a long LinkedIn text
folds behind "…see more" and opens; nothing scrolls sideways, and axe finds nothing serious."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from shared.bootstrap import Services
from tests.dashboard.axe import assert_no_serious_violation, context_options
from tests.dashboard.browsing import PHONE_WIDTH, check_accessible, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.dashboard.test_compose_network_previews import NETWORKS
from tests.factories import make_connected_channel


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def test_the_cards_follow_the_typing_as_each_network_shows_the_post(
    browser: Browser, live_server: str, services: Services, team: PostingTeam, artifacts: Path
) -> None:
    channels = {
        network: make_connected_channel(
            services,
            team.workspace,
            network,
            f"Harbour {network}",
            settings=NETWORKS[network][0],
            credentials=NETWORKS[network][1],
        )
        for network in ("mastodon", "x", "linkedin")
    }
    # axe is put in the page as a script, which the compose page's policy refuses: bypassed as the
    # accessibility test does.
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 844}, is_mobile=True, **context_options
    )
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    try:
        sign_in(phone, live_server, team.editor_token)
        phone.goto(f"{live_server}/dashboard/compose")
        for channel in channels.values():
            phone.check(f"input[name=channel][value='{channel.id}']")
        phone.fill(
            "#text", "Tickets at https://www.example.com/concerts/winter-2026/tickets with @ada #music"
        )

        def card(network: str) -> str:
            return f"#preview li[data-network='{network}'] [data-test=post-text]"

        phone.wait_for_selector(f"{card('linkedin')} >> text=#music")
        assert (
            phone.locator(f"{card('mastodon')} a.seg-link").inner_text() == "example.com/concerts/winter-20…"
        )
        assert phone.locator(f"{card('x')} a.seg-link").inner_text() == "www.example.com/concert…"
        assert phone.locator(f"{card('x')} a.seg-link").get_attribute("href") == (
            "https://www.example.com/concerts/winter-2026/tickets"
        )
        for network in ("mastodon", "x", "linkedin"):
            assert phone.locator(f"{card(network)} .seg-hashtag").inner_text() == "#music"
        for network in ("mastodon", "x"):
            assert phone.locator(f"{card(network)} .seg-mention").inner_text() == "@ada"

        # Typing on redraws the cards; a long text folds on LinkedIn, and the rest opens in place.
        phone.fill("#text", "Our season opens with a winter concert. " * 8 + "Bring a friend! #music")
        # Leaving the field redraws the previews once more (its change event): waited for, so that the fold
        # opened below is not drawn again closed.
        with phone.expect_response(lambda response: response.url.endswith("/compose/preview")):
            phone.locator("#text").blur()
        fold = phone.locator("#preview li[data-network='linkedin'] [data-test=post-fold]")
        fold.wait_for()
        assert fold.locator("summary").inner_text().startswith("…see more")
        assert not fold.locator(".post-text").is_visible()
        fold.locator("summary").click()
        assert fold.locator(".post-text").is_visible()
        assert "Bring a friend!" in fold.locator(".post-text").inner_text()
        assert phone.locator("#preview li[data-network='mastodon'] [data-test=post-fold]").count() == 0

        check_accessible(phone)
        assert_no_serious_violation(phone)
        phone.locator("#preview").screenshot(path=artifacts / "compose-network-previews-phone.png")
    finally:
        context.close()
