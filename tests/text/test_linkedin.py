"""LinkedIn's little text: whatever Crier's text holds, LinkedIn shows it whole (escaped), hashtags and
mentions as elements, and the length is counted as sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text.linkedin import (
    LINKEDIN_LIMIT,
    RESERVED,
    commentary,
    displayed,
    escaped,
    linkedin_length,
    mentions,
    shown_as,
)
from tests.text.strategies import GRAPHEME_CLUSTERS

PIECES = st.sampled_from(
    (*GRAPHEME_CLUSTERS, *sorted(RESERVED), " ", "\n", "#", "#tag", "@", "@[", "](", "\\", "{hashtag|\\#|x}")
)
ANY_TEXT = st.lists(PIECES, max_size=40).map("".join)
MENTION = st.builds(
    lambda name, kind, number: f"@[{name}](urn:li:{kind}:{number})",
    st.sampled_from(("Acme Corp", "Ada Lovelace", "日本語", "O'Neil & Co.")),
    st.sampled_from(("person", "organization")),
    st.integers(min_value=1, max_value=10**9),
)
WITH_MENTIONS = st.lists(st.one_of(PIECES, MENTION), max_size=30).map("".join)


def test_the_limit_is_3000() -> None:
    assert LINKEDIN_LIMIT == 3000


def test_the_reserved_characters_are_linkedins() -> None:
    assert "".join(sorted(RESERVED)) == "".join(sorted("|{}@[]()<>#\\*_~"))


@given(ANY_TEXT)
def test_escaped_text_is_shown_exactly_as_written(text: str) -> None:
    assert displayed(escaped(text)) == text


@given(WITH_MENTIONS)
def test_crier_text_is_shown_whole_with_each_mention_as_its_name(text: str) -> None:
    assert displayed(commentary(text)) == shown_as(text)


@given(ANY_TEXT)
def test_without_mentions_what_linkedin_shows_is_the_text_itself(text: str) -> None:
    if not mentions(text):
        assert displayed(commentary(text)) == text


@given(WITH_MENTIONS)
def test_the_length_counts_the_commentary_as_sent_never_less_than_the_text(text: str) -> None:
    sent = commentary(text)
    assert linkedin_length(text) == len(sent.encode("utf-16-le")) // 2
    assert linkedin_length(text) >= len(shown_as(text))


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("Hello (world)", "Hello \\(world\\)"),
        ("#launch day", "{hashtag|\\#|launch} day"),
        ("Issue #42 and C#", "Issue {hashtag|\\#|42} and C\\#"),
        ("#snake_case", "{hashtag|\\#|snake}\\_case"),
        ("mail a@b.c", "mail a\\@b.c"),
        ("@[Acme](urn:li:organization:1) rocks", "@[Acme](urn:li:organization:1) rocks"),
        ("@[Acme](urn:li:company:1)", "\\@\\[Acme\\]\\(urn:li:company:1\\)"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_texts_as_sent(text: str, sent: str) -> None:
    assert commentary(text) == sent


def test_an_unescaped_reserved_character_cuts_the_text_there() -> None:
    assert displayed("Sale (50% off) today") == "Sale "
    assert displayed("a_b") == "a"


def test_an_escaped_character_counts_two_and_an_emoji_counts_its_utf16_units() -> None:
    assert linkedin_length("(") == 2
    assert linkedin_length("\U0001f44d") == 2
    assert linkedin_length("x" * 3000) == 3000
