"""Each network's text as it shows it: its links (as it displays them), mentions and tags, its formatting,
and where it folds a long text, as segments that together give back what the reader sees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.networks.slack.webhooks import escape
from shared.text.display import FOLDS, WHOLE_KINDS, Displayed, Segment, display
from shared.text.linkedin import commentary
from tests.text.strategies import GRAPHEME_CLUSTERS, SEPARATORS, URLS, WORDS

NETWORKS = [
    "x",
    "mastodon",
    "bluesky",
    "threads",
    "instagram",
    "linkedin",
    "facebook",
    "telegram",
    "discord",
    "slack",
    "sandbox",
    "webhook",
    "nntp",
]
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"


def live(displayed: Displayed) -> list[tuple[str, str]]:
    """The runs that are not plain text, as (kind, what the reader sees)."""
    return [(segment.kind, segment.text) for segment in displayed.segments if segment.kind != "text"]


def links(displayed: Displayed) -> list[tuple[str, str | None]]:
    return [(segment.text, segment.href) for segment in displayed.segments if segment.kind == "link"]


# -- Links, mentions and tags, network by network ------------------------------------------------------------


def test_x_shows_a_link_without_its_scheme_cut_after_23_characters_and_links_the_whole_url() -> None:
    shown = display("x", "Read https://example.com/a/very/long/path/to/read, @crier_app #launch")

    assert links(shown) == [("example.com/a/very/long…", "https://example.com/a/very/long/path/to/read")]
    assert live(shown)[1:] == [("mention", "@crier_app"), ("hashtag", "#launch")]
    # The comma after the link is the sentence's, not the link's.
    assert shown.plain == "Read example.com/a/very/long…, @crier_app #launch"


def test_x_links_a_bare_domain_and_shows_a_short_link_whole() -> None:
    assert links(display("x", "see example.org.")) == [("example.org", "https://example.org")]


def test_x_takes_no_mention_nor_link_inside_an_address_nor_a_hashtag_of_digits() -> None:
    assert live(display("x", "mail ada@example.org about #2024 and #go2024")) == [("hashtag", "#go2024")]


def test_mastodon_hides_the_scheme_and_www_and_cuts_a_link_after_30_characters() -> None:
    shown = display("mastodon", "https://www.example.com/2026/12/06/a-long-article-title and https://ex.org/")

    assert links(shown) == [
        ("example.com/2026/12/06/a-long-…", "https://www.example.com/2026/12/06/a-long-article-title"),
        ("ex.org/", "https://ex.org/"),
    ]


def test_mastodon_shows_a_mention_without_its_domain_and_leaves_a_bare_domain_unlinked() -> None:
    shown = display("mastodon", "Thanks @ada@social.example.org and @bob! see example.org #Fediverse")

    assert live(shown) == [("mention", "@ada"), ("mention", "@bob"), ("hashtag", "#Fediverse")]


def test_bluesky_links_what_its_facets_link_with_each_facets_full_uri() -> None:
    shown = display("bluesky", "Hi @alice.bsky.social: see example.com/page. #atproto 👋🏽 https://x.org")

    assert live(shown) == [
        ("mention", "@alice.bsky.social"),
        ("link", "example.com/page"),
        ("hashtag", "#atproto"),
        ("link", "https://x.org"),
    ]
    assert links(shown)[0] == ("example.com/page", "https://example.com/page")


def test_bluesky_segments_after_emoji_stay_on_their_characters() -> None:
    # Facets count UTF-8 bytes: a family emoji is 25 of them and one character to a reader.
    shown = display("bluesky", f"{FAMILY}{FAMILY} #family https://example.com")

    assert live(shown) == [("hashtag", "#family"), ("link", "https://example.com")]
    assert shown.plain == f"{FAMILY}{FAMILY} #family https://example.com"


def test_threads_makes_only_the_first_tag_a_tag() -> None:
    assert live(display("threads", "#one and #two @ada_b https://example.com")) == [
        ("hashtag", "#one"),
        ("mention", "@ada_b"),
        ("link", "https://example.com"),
    ]


def test_instagram_leaves_a_link_in_a_caption_as_text() -> None:
    assert live(display("instagram", "New shop: https://example.com #Spring @ada.b")) == [
        ("hashtag", "#Spring"),
        ("mention", "@ada.b"),
    ]


def test_linkedin_shows_the_commentary_as_sent_with_a_mention_as_its_name() -> None:
    # The preview's text is the little text sent: reserved characters escaped, a tag as its template.
    little = r"Hi \@bob {hashtag|\#|Launch} with @[Ada Lovelace](urn:li:person:12) https://example.com/a\_b"

    shown = display("linkedin", little)

    assert shown.plain == "Hi @bob #Launch with Ada Lovelace https://example.com/a_b"
    assert live(shown) == [
        ("hashtag", "#Launch"),
        ("mention", "Ada Lovelace"),
        ("link", "https://example.com/a_b"),
    ]


def test_facebook_links_tags_and_leaves_an_at_name_as_text() -> None:
    assert live(display("facebook", "@Ada see www.example.com #Meetup")) == [
        ("link", "www.example.com"),
        ("hashtag", "#Meetup"),
    ]


def test_telegram_draws_no_markup_since_crier_sends_it_plainly_but_links_usernames_and_tags() -> None:
    shown = display("telegram", "*not bold* <b>nor this</b> @crier_bot @ab #news https://t.me/crier")

    assert shown.plain == "*not bold* <b>nor this</b> @crier_bot @ab #news https://t.me/crier"
    # A username has 5 to 32 characters: @ab is none.
    assert live(shown) == [("mention", "@crier_bot"), ("hashtag", "#news"), ("link", "https://t.me/crier")]


def test_discord_draws_its_markdown_and_masked_links() -> None:
    shown = display(
        "discord",
        r"**Big** *news* _today_ __under__ ~~old~~ `code` [the post](https://example.com/p) \*kept\* "
        "<https://example.org> see https://example.net.",
    )

    assert live(shown) == [
        ("bold", "Big"),
        ("italic", "news"),
        ("italic", "today"),
        ("underline", "under"),
        ("strike", "old"),
        ("code", "code"),
        ("link", "the post"),
        ("link", "https://example.org"),
        ("link", "https://example.net"),
    ]
    assert "*kept*" in shown.plain
    assert links(shown)[0] == ("the post", "https://example.com/p")


def test_discord_does_not_link_a_bare_domain_nor_a_masked_link_to_another_scheme() -> None:
    shown = display("discord", "example.com [x](javascript:alert(1))")

    assert links(shown) == []


def test_slack_draws_mrkdwn_and_shows_escaped_characters_as_themselves() -> None:
    # As Crier sends it without slack_markup: & < > escaped, so <...> is no link there.
    shown = display("slack", "*Launch* _now_ ~old~ `v2` &lt;!here&gt; &amp; https://example.com.")

    assert live(shown) == [
        ("bold", "Launch"),
        ("italic", "now"),
        ("strike", "old"),
        ("code", "v2"),
        ("link", "https://example.com"),
    ]
    assert shown.plain == "Launch now old v2 <!here> & https://example.com."


def test_slack_with_its_markup_shows_labelled_links_and_mentions() -> None:
    shown = display("slack", "<https://example.com|our post> for <!here> and <@U123>, a*b*c stays")

    assert live(shown) == [("link", "our post"), ("mention", "@here"), ("mention", "@U123")]
    assert shown.plain.endswith("a*b*c stays")


@pytest.mark.parametrize("network", ["sandbox", "webhook", "nntp", "a-network-from-elsewhere"])
def test_a_network_without_rules_shows_plain_text(network: str) -> None:
    text = "**hi** @ada #tag https://example.com"

    assert display(network, text).segments == (Segment("text", text),)


@pytest.mark.parametrize("network", NETWORKS)
def test_markup_in_the_text_stays_text_for_the_template_to_escape(network: str) -> None:
    text = '<script>alert(1)</script> "><img src=x onerror=alert(1)> https://example.com/?q="><b>'

    # Each network's preview text is the text as sent: LinkedIn's escaped, Slack's with & < > escaped.
    sent = {"linkedin": commentary(text), "slack": escape(text)}.get(network, text)

    shown = display(network, sent)

    # What the reader sees is the markup as typed, as text: the template escapes it like any other text.
    assert "<script>alert(1)</script>" in shown.plain
    assert "<img src=x onerror=alert(1)>" in shown.plain
    assert all(segment.href is None or segment.href.startswith("https://") for segment in shown.segments)


# -- The fold -----------------------------------------------------------------------------------------------


def test_linkedin_folds_after_about_210_characters_at_a_space() -> None:
    text = "word " * 60

    shown = display("linkedin", text)

    assert shown.fold_label == "…see more"
    kept = "".join(segment.text for segment in shown.shown)
    assert len(kept.rstrip()) <= 210
    assert kept.endswith("word ")
    assert kept + "".join(segment.text for segment in shown.folded) == text


def test_linkedin_folds_after_three_lines() -> None:
    shown = display("linkedin", "one\ntwo\nthree\nfour")

    assert [segment.text for segment in shown.shown] == ["one\ntwo\nthree\n"]
    assert [segment.text for segment in shown.folded] == ["four"]


def test_a_short_text_does_not_fold() -> None:
    shown = display("facebook", "Short and sweet.")

    assert shown.fold_at is None
    assert shown.folded == ()


def test_the_fold_never_cuts_a_link_in_two() -> None:
    text = "a" * 200 + " https://example.com/" + "b" * 40

    shown = display("linkedin", text)

    assert shown.shown == (Segment("text", "a" * 200 + " "),)
    assert shown.folded[0].kind == "link"
    assert shown.folded[0].text == "https://example.com/" + "b" * 40


def test_the_fold_counts_graphemes_not_code_points() -> None:
    # 123 families, a space and a letter are 125 characters to a reader, however many code points they hold.
    assert display("instagram", FAMILY * 123 + " a").fold_at is None
    assert display("instagram", FAMILY * 125 + " a b").fold_at is not None


def test_each_fold_is_where_the_module_says() -> None:
    assert {network: fold.characters for network, fold in FOLDS.items()} == {
        "linkedin": 210,
        "facebook": 477,
        "instagram": 125,
        "x": 280,
    }


# -- Whatever the text ---------------------------------------------------------------------------------------

TEXTS = st.lists(
    st.one_of(
        WORDS,
        SEPARATORS,
        URLS,
        st.sampled_from([*GRAPHEME_CLUSTERS, "@ada", "#tag", "*", "_", "`", "~", "<", "&", ".", ","]),
    ),
    max_size=60,
).map("".join)


@given(text=TEXTS)
@pytest.mark.parametrize("network", ["mastodon", "bluesky", "threads", "instagram", "facebook", "telegram"])
def test_the_segments_of_a_text_shown_as_written_give_back_the_text(network: str, text: str) -> None:
    shown = display(network, text)

    # These networks show every character as written (Mastodon only shortens links and mentions), and
    # what the fold hides is the rest of it.
    if network == "mastodon":
        assert all(segment.text for segment in shown.segments)
    else:
        assert shown.plain == text


@given(text=TEXTS)
@pytest.mark.parametrize("network", NETWORKS)
def test_every_network_shows_any_text_without_failing_and_keeps_links_whole(network: str, text: str) -> None:
    shown = display(network, text)

    assert all(segment.text for segment in shown.segments if segment.kind in WHOLE_KINDS)
    assert all(
        segment.href is None or segment.href.startswith(("http://", "https://")) for segment in shown.segments
    )
