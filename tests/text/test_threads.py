"""Threads counts 500 characters with each emoji at its UTF-8 bytes, at most 5 distinct links, one tag."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text.graphemes import grapheme_count
from shared.text.threads import (
    THREADS_LINK_LIMIT,
    THREADS_TEXT_LIMIT,
    link_count,
    links,
    tag_notes,
    text_problems,
    threads_length,
    topic_tags,
)
from tests.text.strategies import GRAPHEME_CLUSTERS, SEPARATORS, URLS, WORDS

EMOJI = [cluster for cluster in GRAPHEME_CLUSTERS if threads_length(cluster) > 1]
PLAIN = [cluster for cluster in GRAPHEME_CLUSTERS if cluster not in EMOJI]


def test_the_limits_are_500_characters_and_5_links() -> None:
    assert (THREADS_TEXT_LIMIT, THREADS_LINK_LIMIT) == (500, 5)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("", 0),
        ("hello", 5),
        ("\U0001f600", 4),  # 😀
        ("\U0001f44d\U0001f3fd", 8),  # 👍🏽
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 25),  # 👨‍👩‍👧‍👦
        ("\U0001f1eb\U0001f1f7", 8),  # 🇫🇷
        ("1\ufe0f\u20e3", 7),  # 1️⃣
        ("\u2728", 3),  # ✨
        ("\u00a9", 1),  # © drawn as text
        ("\u00a9\ufe0f", 5),  # ©️ drawn as an emoji
        ("e\u0301", 1),  # é as e and a combining accent: one character
        ("\u4e2d\u6587", 2),  # 中文: characters, not bytes
    ],
)
def test_an_emoji_counts_its_utf8_bytes_and_any_other_character_one(text: str, length: int) -> None:
    assert threads_length(text) == length


@given(st.lists(st.sampled_from(PLAIN), max_size=40).map("".join))
def test_text_without_emoji_counts_as_many_as_a_reader_sees(text: str) -> None:
    assert threads_length(text) == grapheme_count(text)


@given(st.lists(st.sampled_from(GRAPHEME_CLUSTERS), max_size=40))
def test_the_length_adds_up_cluster_by_cluster_and_never_undercounts_what_is_seen(
    clusters: list[str],
) -> None:
    text = "".join(clusters)
    assert threads_length(text) == sum(threads_length(cluster) for cluster in clusters)
    assert grapheme_count(text) <= threads_length(text) <= len(text.encode())


@given(st.integers(min_value=0, max_value=THREADS_TEXT_LIMIT + 3))
def test_a_text_is_refused_exactly_past_500(length: int) -> None:
    problems = text_problems("a" * length)
    assert bool(problems) == (length > THREADS_TEXT_LIMIT)


def test_125_emoji_fill_a_post_that_500_letters_fill() -> None:
    assert text_problems("\U0001f600" * 125) == []
    assert text_problems("\U0001f600" * 125 + "a") != []


@given(st.lists(URLS, min_size=1, max_size=7, unique=True), WORDS, SEPARATORS)
def test_each_distinct_link_counts_once_however_often_it_is_written(
    urls: list[str], word: str, separator: str
) -> None:
    text = separator.join([word, *urls, *urls, word])
    distinct = {url.split("://", 1)[1].removeprefix("www.").rstrip("/") for url in urls}
    assert link_count(text) == len(distinct)
    assert bool([p for p in text_problems(text) if "links" in p]) == (len(distinct) > THREADS_LINK_LIMIT)


def test_a_bare_domain_counts_as_meta_counts_www_facebook_com() -> None:
    assert links("see www.facebook.com and www.instagram.com.") == ["www.facebook.com", "www.instagram.com"]
    assert link_count("www.facebook.com", "https://www.facebook.com") == 1
    assert link_count("www.instagram.com www.threads.com", "https://www.facebook.com") == 3


def test_words_with_dots_that_are_no_domain_are_no_links() -> None:
    assert links("see file.txt, e.g. node.js or user@example.com #tag.com") == []


def test_the_first_tag_is_the_post_s_tag_and_the_others_are_noted_not_refused() -> None:
    text = "Off to #BronzFonz then #Rome. See #1 & #a&b"
    assert topic_tags(text) == ["BronzFonz", "Rome", "1", "a"]
    assert text_problems(text) == []
    assert tag_notes(text) == [
        "only the first tag (#BronzFonz) becomes the post's topic on Threads; #Rome, #1, #a stay plain text"
    ]
    assert tag_notes("one #tag only") == []


@given(WORDS)
def test_a_tag_ends_before_a_period_an_ampersand_or_a_space(word: str) -> None:
    assert topic_tags(f"#{word}.x #{word}&y #{word} z") == [word, word, word]
