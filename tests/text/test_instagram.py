"""Instagram refuses a caption over 2,200 characters, with more than 30 hashtags or more than 20 @mentions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text.instagram import (
    INSTAGRAM_CAPTION_LIMIT,
    INSTAGRAM_MAX_HASHTAGS,
    INSTAGRAM_MAX_MENTIONS,
    caption_problems,
    hashtags,
    instagram_length,
    mentions,
)
from tests.text.strategies import GRAPHEME_CLUSTERS

PLAIN = st.lists(st.sampled_from([*GRAPHEME_CLUSTERS, " ", "\n", ",", "!"]), max_size=80).map("".join)
TAG = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
NAME = st.from_regex(r"[a-z0-9_](?:[a-z0-9_.]{0,10}[a-z0-9_])?", fullmatch=True)


def test_the_limits_are_the_documented_ones() -> None:
    assert (INSTAGRAM_CAPTION_LIMIT, INSTAGRAM_MAX_HASHTAGS, INSTAGRAM_MAX_MENTIONS) == (2200, 30, 20)


@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("hello", 5), ("\u00e9", 1), ("e\u0301", 2), ("\u4e2d\u6587", 2), ("\U0001f44d", 2)],
)
def test_the_length_is_utf16_units(text: str, length: int) -> None:
    assert instagram_length(text) == length


@given(st.text(max_size=300))
def test_the_length_is_never_less_than_the_code_points(text: str) -> None:
    assert len(text) <= instagram_length(text) <= 2 * len(text)


@given(st.integers(min_value=0, max_value=2300), st.sampled_from(["a", "\u00e9", "\U0001f44d"]))
def test_a_caption_is_refused_exactly_when_it_is_over_2200(count: int, char: str) -> None:
    text = char * count
    over = instagram_length(text) > INSTAGRAM_CAPTION_LIMIT
    assert any("characters long" in problem for problem in caption_problems(text)) == over


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#travel and #food_2026", ["travel", "food_2026"]),
        ("#café #東京 #مرحبا", ["café", "東京", "مرحبا"]),
        ("C# and a#b and ##double", []),
        ("#123 is not one, #1st is", ["1st"]),
        ("end.#tag", ["tag"]),
        ("&#39; is an entity, not a tag", []),
    ],
)
def test_hashtags_are_found_as_instagram_finds_them(text: str, expected: list[str]) -> None:
    assert hashtags(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks @alice and @bob.smith.", ["alice", "bob.smith"]),
        ("mail bob@example.com", []),
        ("@a_b_c, @x", ["a_b_c", "x"]),
        ("@" + "a" * 31, []),
        ("@" + "a" * 30, ["a" * 30]),
    ],
)
def test_mentions_are_usernames_after_an_at(text: str, expected: list[str]) -> None:
    assert mentions(text) == expected


@given(st.lists(TAG, max_size=40), PLAIN)
def test_the_hashtags_joined_into_a_caption_are_each_found_and_counted(tags: list[str], prose: str) -> None:
    text = prose + " " + " ".join(f"#{tag}" for tag in tags)
    assert hashtags(text) == tags
    refused = any("hashtags" in problem for problem in caption_problems(text))
    assert refused == (len(tags) > INSTAGRAM_MAX_HASHTAGS)


@given(st.lists(NAME, max_size=30), PLAIN)
def test_the_mentions_joined_into_a_caption_are_each_found_and_counted(names: list[str], prose: str) -> None:
    text = prose + " " + " ".join(f"@{name}" for name in names)
    assert mentions(text) == names
    refused = any("@mentions" in problem for problem in caption_problems(text))
    assert refused == (len(names) > INSTAGRAM_MAX_MENTIONS)


@given(PLAIN)
def test_prose_without_tags_or_mentions_passes(prose: str) -> None:
    assert hashtags(prose) == []
    assert mentions(prose) == []
    assert caption_problems(prose) == []
