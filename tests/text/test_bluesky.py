"""Bluesky limits a post in graphemes and in bytes, and its facets point at exact UTF-8 byte spans."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text import (
    BLUESKY_MAX_BYTES,
    BLUESKY_MAX_GRAPHEMES,
    Facet,
    bluesky_length,
    detect_facets,
    grapheme_count,
)
from tests.text.strategies import URLS, WORDS, Token, posts

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦


def covered(text: str, facet: Facet) -> str:
    return text.encode()[facet.byte_start : facet.byte_end].decode()


def test_the_limits_are_300_graphemes_and_3000_bytes() -> None:
    assert (BLUESKY_MAX_GRAPHEMES, BLUESKY_MAX_BYTES) == (300, 3000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 0)),
        ("hello", (5, 5)),
        (FAMILY, (1, 25)),
        ("\U0001f1eb\U0001f1f7", (1, 8)),  # 🇫🇷
        ("\U0001f44d\U0001f3fd", (1, 8)),  # 👍🏽
        ("e\u0301", (1, 3)),
        ("\u65e5\u672c\u8a9e", (3, 9)),  # 日本語
        ("\u05e9\u05dc\u05d5\u05dd", (4, 8)),  # שלום
    ],
)
def test_the_length_is_graphemes_and_utf8_bytes(text: str, expected: tuple[int, int]) -> None:
    assert bluesky_length(text) == expected


def test_a_post_can_be_within_the_grapheme_limit_and_over_the_byte_limit() -> None:
    assert bluesky_length(FAMILY * 300) == (300, 7500)


def test_a_link_after_go_to_starts_at_byte_6_as_in_the_documented_example() -> None:
    # docs.bsky.app links "this site" in "Go to this site" with byteStart 6 and byteEnd 15, the end exclusive.
    text = "Go to https://example.com"
    assert detect_facets(text) == [Facet(6, 25, "link", "https://example.com")]


@pytest.mark.parametrize(
    ("before", "start"),
    [
        ("\u2728 ", 4),
        ("\u65e5\u672c\u8a9e ", 10),
        (FAMILY + " ", 26),
        ("\u0645\u0631\u062d\u0628\u0627 ", 11),
    ],
)
def test_offsets_after_emoji_cjk_and_arabic_count_bytes_not_characters(before: str, start: int) -> None:
    text = before + "https://example.com"
    assert detect_facets(text) == [Facet(start, start + 19, "link", "https://example.com")]


def test_a_bare_domain_is_linked_with_https_put_before_it() -> None:
    assert detect_facets("see example.com/about") == [Facet(4, 21, "link", "https://example.com/about")]


@pytest.mark.parametrize("text", ["file.txt", "e.g. this", "v1.2.3", "my-site.com", "x https://"])
def test_what_only_looks_like_a_domain_is_not_linked(text: str) -> None:
    assert detect_facets(text) == []


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("Go to https://example.com/path.", "https://example.com/path"),
        ("Really? https://example.com/a...", "https://example.com/a"),
        ("(see https://example.com)", "https://example.com"),
        ("(see https://en.wikipedia.org/wiki/Foo_(bar))", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM"),
        ("see Example.COM", "https://Example.COM"),
    ],
)
def test_a_link_leaves_out_the_punctuation_that_ends_its_sentence(text: str, link: str) -> None:
    [facet] = detect_facets(text)
    assert (facet.kind, facet.value) == ("link", link)
    assert covered(text, facet) in (link, link.removeprefix("https://"))


def test_a_link_glued_to_a_word_is_not_linked_as_the_official_clients_do() -> None:
    assert detect_facets("\u770bhttps://example.com") == []  # 看https://…


def test_a_mention_covers_the_at_sign_and_its_value_is_the_handle() -> None:
    text = "hi @alice.bsky.social!"
    assert detect_facets(text) == [Facet(3, 21, "mention", "alice.bsky.social")]


@pytest.mark.parametrize(
    ("text", "handles"),
    [
        ("@bob.test", ["bob.test"]),
        ("(@carol.dev)", ["carol.dev"]),
        ("@alice.com.", ["alice.com"]),
        ("@alice", []),  # no domain
        ("@.test", []),  # no name before the domain
        ("@alice.notatld", []),
        ("mail dave@example.com", []),  # an e-mail address
    ],
)
def test_a_mention_is_a_handle_that_ends_in_a_real_top_level_domain(text: str, handles: list[str]) -> None:
    assert [facet.value for facet in detect_facets(text) if facet.kind == "mention"] == handles


@pytest.mark.parametrize(
    ("text", "tag", "start", "end"),
    [
        ("#tag", "tag", 0, 4),
        ("so #tag!", "tag", 3, 7),
        ("#\u65e5\u672c\u8a9e", "\u65e5\u672c\u8a9e", 0, 10),  # #日本語
        ("\uff03full", "full", 0, 7),  # the full-width number sign is 3 bytes
        ("#" + FAMILY, FAMILY, 0, 26),  # the joiners do not cut the family in two
        (
            "#\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            0,
            18,
        ),
        ("#1a", "1a", 0, 3),
        ("#foo#bar", "foo#bar", 0, 8),
    ],
)
def test_a_tag_covers_its_hash_and_its_value_has_none(text: str, tag: str, start: int, end: int) -> None:
    assert detect_facets(text) == [Facet(start, end, "tag", tag)]


@pytest.mark.parametrize("text", ["#123", "#", "# tag", "#!!!", "a#tag", "#\ufe0fx"])
def test_what_is_not_a_tag(text: str) -> None:
    assert detect_facets(text) == []


def test_a_tag_may_be_64_graphemes_but_not_65() -> None:
    assert detect_facets("#" + "a" * 64) == [Facet(0, 65, "tag", "a" * 64)]
    assert detect_facets("#" + "a" * 65) == []


def test_a_tag_may_be_640_bytes_but_not_more() -> None:
    # 26 families are 26 graphemes and 650 bytes: within the grapheme limit, over the byte limit.
    assert detect_facets("#" + FAMILY * 26) == []
    assert detect_facets("#" + FAMILY * 25)[0].value == FAMILY * 25


def test_where_a_tag_and_a_link_overlap_the_link_is_kept() -> None:
    text = "#a(https://example.com"
    assert detect_facets(text) == [Facet(3, 22, "link", "https://example.com")]


def test_facets_of_every_kind_come_sorted_by_their_start() -> None:
    text = "#one @two.com https://three.org #four"
    assert [(facet.kind, covered(text, facet)) for facet in detect_facets(text)] == [
        ("tag", "#one"),
        ("mention", "@two.com"),
        ("link", "https://three.org"),
        ("tag", "#four"),
    ]


def test_many_facets_are_found_quickly() -> None:
    text = "https://example.com/x @a.example.com #tag " * 300
    started = time.perf_counter()
    assert len(detect_facets(text)) == 900
    assert time.perf_counter() - started < 1.0


@given(posts())
def test_a_post_has_a_facet_for_exactly_each_link_mention_and_tag_in_it(
    post: tuple[str, list[tuple[int, int, Token]]],
) -> None:
    text, spans = post
    expected = [
        Facet(start, end, token.facet_kind, token.value)
        for start, end, token in spans
        if token.facet_kind is not None
    ]
    assert detect_facets(text) == expected


@given(posts())
def test_every_facet_covers_exactly_the_text_it_stands_for(
    post: tuple[str, list[tuple[int, int, Token]]],
) -> None:
    text, _ = post
    for facet in detect_facets(text):
        written = covered(text, facet)
        if facet.kind == "link":
            assert facet.value in (written, "https://" + written)
        elif facet.kind == "mention":
            assert written == "@" + facet.value
        else:
            assert written[0] in "#\uff03"
            assert written[1:] == facet.value


@given(st.text())
def test_facets_of_any_text_are_sorted_never_overlap_and_fall_on_character_boundaries(text: str) -> None:
    facets = detect_facets(text)
    encoded = text.encode()
    assert all(0 <= facet.byte_start < facet.byte_end <= len(encoded) for facet in facets)
    assert all(first.byte_end <= second.byte_start for first, second in itertools.pairwise(facets))
    for facet in facets:
        encoded[facet.byte_start : facet.byte_end].decode()  # raises if a boundary splits a character


@given(WORDS, URLS, WORDS, st.sampled_from(["", ".", ",", "!", "?", ";", ":"]))
def test_a_post_with_a_url_always_has_a_link_facet_for_it(
    before: str, url: str, after: str, stop: str
) -> None:
    # A post with a URL and no facet for it is a bug: the link would be dead text in every client.
    text = f"{before} {url}{stop} {after}"
    start = len(f"{before} ".encode())
    assert Facet(start, start + len(url.encode()), "link", url) in detect_facets(text)


@given(st.text())
def test_the_byte_length_is_the_utf8_encoding_and_the_grapheme_length_the_clusters(text: str) -> None:
    assert bluesky_length(text) == (grapheme_count(text), len(text.encode("utf-8")))
