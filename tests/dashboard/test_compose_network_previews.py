"""The compose page's previews drawn as each network shows the post: one card per channel, with its links,
mentions and tags live, its formatting, its fold, the thread as cards, and media with their alt text; and
nothing typed reaches the page as markup."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.channels.models import Channel
from tests.dashboard.conftest import sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.dashboard.test_compose_forms import compose_form
from tests.factories import make_connected_channel
from tests.media.samples import image, upload

# What each network needs to be connected, never asked: previews are drawn without calling the network
# (Mastodon's limits are asked of a host that does not resolve, and fall back to the documented ones).
NETWORKS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "mastodon": ({"base_url": "https://mastodon.invalid"}, {"access_token": "t"}),
    "bluesky": ({}, {"identifier": "crier.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"}),
    "discord": ({}, {"webhook_url": "https://discord.com/api/webhooks/123456789012345678/abcdefghijkl"}),
    "slack": ({}, {"webhook_url": "https://hooks.slack.com/services/T0001/B0001/abcdef"}),
    "webhook": ({"url": "https://hooks.example.org/crier"}, {"secret": "s" * 32}),
    "telegram": ({"chat_id": "@crier"}, {"bot_token": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"}),
    "facebook": ({"page_id": "1234567"}, {"page_access_token": "t"}),
    "linkedin": ({}, {"access_token": "t"}),
    "threads": ({}, {"access_token": "t"}),
    "nntp": (
        {"server": "news.example.org", "newsgroups": ["comp.lang.python"], "from": "Ada <ada@example.org>"},
        {},
    ),
    "x": ({}, {"access_token": "t", "refresh_token": "r", "expires_at": "2030-01-01T00:00:00+00:00"}),
    "instagram": ({}, {"access_token": "t", "ig_user_id": "123"}),
}


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def connect(services: Services, team: PostingTeam, network: str) -> Channel:
    settings, credentials = NETWORKS[network]
    return make_connected_channel(
        services, team.workspace, network, f"Harbour {network}", settings=settings, credentials=credentials
    )


def fragment(client: FlaskClient, channels: list[Channel], text: str, **fields: Any) -> str:
    response = client.post(
        "/dashboard/compose/preview",
        data=compose_form(client, text=text, channel=[str(channel.id) for channel in channels], **fields),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def card_of(page: str, channel: Channel) -> str:
    found = re.search(rf'<li class="preview[^"]*" data-channel-id="{channel.id}".*?</ol>', page, re.S)
    assert found is not None, f"no card for {channel.network}"
    return found.group(0)


def test_every_registered_network_draws_a_card_with_the_channels_name_and_text(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    channels = [connect(services, team, network) for network in NETWORKS] + [team.channels[0]]
    assert sorted(channel.network for channel in channels) == sorted(services.networks.names())

    page = fragment(client, channels, "Hello harbour")

    for channel in channels:
        card = card_of(page, channel)
        assert f'data-network="{channel.network}"' in card
        assert 'data-test="post-card"' in card
        assert channel.name in card
        assert "Hello harbour" in card


def test_mastodon_and_x_cards_show_links_as_each_network_displays_them(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    mastodon, x = connect(services, team, "mastodon"), connect(services, team, "x")
    text = "Concert tonight with @ada! https://www.example.com/2026/12/winter-concert-programme #music"

    page = fragment(client, [mastodon, x], text)

    on_mastodon, on_x = card_of(page, mastodon), card_of(page, x)
    href = 'href="https://www.example.com/2026/12/winter-concert-programme"'
    assert f'{href} title="https://www.example.com/2026/12/winter-concert-programme"' in on_mastodon
    assert ">example.com/2026/12/winter-con…</a>" in on_mastodon
    assert ">www.example.com/2026/12…</a>" in on_x
    for card in (on_mastodon, on_x):
        assert '<span class="seg-mention">@ada</span>' in card
        assert '<span class="seg-hashtag">#music</span>' in card


def test_a_long_linkedin_post_folds_behind_see_more_with_the_rest_still_in_the_page(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    linkedin = connect(services, team, "linkedin")
    text = "Our season opens. " * 20 + "The last words."

    card = card_of(fragment(client, [linkedin], text), linkedin)

    fold = re.search(
        r'<details class="post-fold" data-test="post-fold"><summary>(.*?)</summary>(.*?)</details>',
        card,
        re.S,
    )
    assert fold is not None
    assert fold.group(1).startswith("…see more")
    assert "The last words." in fold.group(2)


def test_discord_markdown_is_drawn_and_telegram_text_stays_as_typed(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    discord, telegram = connect(services, team, "discord"), connect(services, team, "telegram")

    page = fragment(
        client, [discord, telegram], "**Doors** at `19:00`, *bring* [tickets](https://example.com/t)"
    )

    assert "<strong>Doors</strong> at <code>19:00</code>, <em>bring</em>" in card_of(page, discord)
    assert 'href="https://example.com/t" title="https://example.com/t"' in card_of(page, discord)
    assert 'rel="noopener noreferrer nofollow">tickets</a>' in card_of(page, discord)
    assert "**Doors** at `19:00`, *bring* [tickets](" in card_of(page, telegram)


def test_a_thread_shows_as_a_card_per_part(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    bluesky = connect(services, team, "bluesky")

    card = card_of(fragment(client, [bluesky], "The post", thread=["First reply", "Second reply"]), bluesky)

    texts = re.findall(r'<div class="post-text" data-test="post-text">(.*?)</div>', card, re.S)
    assert texts == ["The post", "First reply", "Second reply"]


@pytest.mark.parametrize("network", ["mastodon", "x", "linkedin", "discord", "slack", "telegram", "sandbox"])
def test_markup_typed_in_the_text_is_shown_escaped_never_as_markup(
    client: FlaskClient, services: Services, team: PostingTeam, network: str
) -> None:
    sign_in(client, team.editor_token)
    channel = team.channels[0] if network == "sandbox" else connect(services, team, network)

    card = card_of(
        fragment(client, [channel], '<script>alert(1)</script> "><img src=x onerror=alert(1)> **x**'), channel
    )

    assert "<script>" not in card
    assert "<img src=x" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in card


def test_media_show_under_the_post_with_their_alt_text_or_a_badge_without_it(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    described = upload(services, team.workspace, image(), "stage.png", alt_text="The stage lit in blue")
    undescribed = upload(services, team.workspace, image(), "crowd.png")

    page = fragment(
        client, [team.channels[0]], "Look", thread=["More"], media=[str(described.id), str(undescribed.id)]
    )

    assert page.count('data-test="post-medium"') == 2  # under the post, not under its reply
    assert '<span class="post-alt" data-test="post-alt">Alt: The stage lit in blue</span>' in page
    assert '<span class="badge-no-alt" data-test="no-alt">No alt text</span>' in page
