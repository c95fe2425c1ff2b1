"""Mastodon counts graphemes, every link at the instance's fixed weight, and mentions without their domain."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text import MASTODON_DEFAULT_LIMIT, grapheme_count, mastodon_length
from tests.text.strategies import DOMAINS, SEPARATORS, URLS, USERNAMES, WORDS

LONG_URL = "https://example.com/" + "a" * 200


def test_the_default_limit_is_500() -> None:
    assert MASTODON_DEFAULT_LIMIT == 500


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world", 12),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 1),  # 👨‍👩‍👧‍👦
        ("\U0001f1eb\U0001f1f7 \U0001f44d\U0001f3fd", 3),  # 🇫🇷 👍🏽
        ("caf" + "e\u0301", 4),
        ("\u65e5\u672c\u8a9e\u3067\u3059", 5),  # 日本語です
        ("\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd", 10),  # مرحبا שלום
    ],
)
def test_text_without_links_or_mentions_counts_its_graphemes(text: str, expected: int) -> None:
    assert mastodon_length(text) == expected


def test_a_link_counts_23_however_long_it_is() -> None:
    assert mastodon_length(f"Read {LONG_URL}") == len("Read ") + 23


def test_a_link_shorter_than_23_still_counts_23() -> None:
    assert mastodon_length("https://t.co") == 23


def test_the_instances_own_link_weight_is_used_when_given() -> None:
    assert mastodon_length(f"Read {LONG_URL}", url_weight=30) == len("Read ") + 30


def test_a_negative_link_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        mastodon_length("text", url_weight=-1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"({LONG_URL}).", 1 + 23 + 2),  # the closing parenthesis and full stop are not part of the link
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", 1 + 23 + 1),  # balanced parentheses are
        (f"{LONG_URL}?q=1&lang=fr", 23),
        ("gemini://example.org/" + "a" * 40, 23),  # Mastodon weighs its other link schemes alike
        ("https://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/" + "a" * 40, 23),  # https://пример.рф/…
    ],
)
def test_a_link_is_what_mastodon_formats_as_one(text: str, expected: int) -> None:
    assert mastodon_length(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "example.com/" + "a" * 40,  # no scheme: Mastodon links only http(s) and its few other schemes
        "xhttps://example.com/" + "a" * 40,  # glued to a word
        "https://localhost/" + "a" * 40,  # no delegated top-level domain
    ],
)
def test_what_mastodon_does_not_link_counts_in_full(text: str) -> None:
    assert mastodon_length(text) == len(text)


def test_a_remote_mention_counts_only_its_username() -> None:
    assert mastodon_length("@alice@mastodon.social hi") == len("@alice hi")


def test_a_local_mention_counts_in_full() -> None:
    assert mastodon_length("@alice hi") == len("@alice hi")


def test_an_email_address_is_no_mention_and_counts_as_written() -> None:
    assert mastodon_length("mail bob@example.com") == len("mail bob@example.com")


def test_an_address_inside_a_link_is_part_of_the_link() -> None:
    assert mastodon_length("https://example.com/@bob@example.org") == 23


def test_the_content_warning_counts_toward_the_limit() -> None:
    assert mastodon_length("body", content_warning="spoilers ahead") == len("body") + len("spoilers ahead")


def test_a_text_of_only_whitespace_counts_nothing_but_its_content_warning_still_counts() -> None:
    assert mastodon_length(" \n\t ") == 0
    assert mastodon_length(" \n ", content_warning="CW") == 2


def test_a_post_at_exactly_the_limit_fits_with_a_long_link_in_it() -> None:
    text = "a" * 476 + " " + LONG_URL
    assert len(text) > MASTODON_DEFAULT_LIMIT
    assert mastodon_length(text) == MASTODON_DEFAULT_LIMIT


@pytest.mark.parametrize(
    "tail",
    ["." * 20_000, "(" * 20_000, "(a" * 10_000, "?" + "!" * 20_000, "@" * 20_000],
    ids=["full stops", "open parentheses", "unclosed groups", "query punctuation", "at signs"],
)
def test_a_link_followed_by_a_long_run_that_cannot_end_it_is_measured_at_once(tail: str) -> None:
    # Backtracking in the link pattern must not grow faster than the text does.
    started = time.perf_counter()
    mastodon_length("https://example.com/" + tail + " x")
    assert time.perf_counter() - started < 1.0


def test_a_link_stops_before_a_run_of_full_stops() -> None:
    assert mastodon_length("https://example.com/" + "." * 300 + " x") == 23 + 300 + len(" x")


@st.composite
def statuses(draw: st.DrawFn) -> tuple[str, str]:
    """A status of words, links and remote mentions, and the text Mastodon would count in its place."""
    pieces = draw(
        st.lists(
            st.one_of(
                WORDS.map(lambda word: (word, word)),
                URLS.map(lambda url: (url, "x" * 23)),
                st.tuples(USERNAMES, DOMAINS).map(lambda m: (f"@{m[0]}@{m[1]}", f"@{m[0]}")),
            ),
            max_size=12,
        )
    )
    written, counted = "", ""
    for text, stand_in in pieces:
        separator = draw(SEPARATORS) if written else ""
        written += separator + text
        counted += separator + stand_in
    return written, counted


@given(statuses())
def test_a_status_counts_as_its_text_with_links_at_23_and_mentions_without_domains(
    status: tuple[str, str],
) -> None:
    written, counted = status
    expected = 0 if counted.isspace() else grapheme_count(counted)
    assert mastodon_length(written) == expected


@given(WORDS, URLS, URLS, WORDS)
def test_swapping_a_link_for_another_of_any_length_changes_nothing(
    before: str, link: str, other_link: str, after: str
) -> None:
    assert mastodon_length(f"{before} {link} {after}") == mastodon_length(f"{before} {other_link} {after}")


@given(WORDS, USERNAMES, DOMAINS)
def test_a_remote_mention_counts_as_at_and_the_username(before: str, username: str, domain: str) -> None:
    assert mastodon_length(f"{before} @{username}@{domain}") == grapheme_count(f"{before} @{username}")


@given(WORDS, WORDS)
def test_a_content_warning_adds_its_graphemes(text: str, content_warning: str) -> None:
    assert mastodon_length(text, content_warning=content_warning) == grapheme_count(
        content_warning
    ) + mastodon_length(text)
