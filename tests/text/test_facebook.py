"""Facebook counts a post's and a comment's text in UTF-16 code units, up to 63,206 and 8,000."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text.facebook import FACEBOOK_COMMENT_LIMIT, FACEBOOK_POST_LIMIT, facebook_length
from tests.text.strategies import GRAPHEME_CLUSTERS


def test_the_limits_are_facebooks() -> None:
    assert (FACEBOOK_POST_LIMIT, FACEBOOK_COMMENT_LIMIT) == (63_206, 8_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("\U0001f600", 2),  # 😀: one code point, two UTF-16 units
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 11),  # 👨‍👩‍👧‍👦: 4 emoji, 3 joiners
        ("\U0001f1eb\U0001f1f7", 4),  # 🇫🇷
        ("e\u0301", 2),
        ("\u65e5\u672c\u8a9e", 3),  # BMP ideographs are one unit each
        ("line\r\nbreak", 11),
        ("\ud800", 1),  # a lone surrogate, as JavaScript counts it
    ],
)
def test_each_utf16_code_unit_counts_once(text: str, expected: int) -> None:
    assert facebook_length(text) == expected


def test_an_emoji_counts_twice_so_half_the_limit_of_emoji_fills_a_post() -> None:
    assert facebook_length("\U0001f600" * (FACEBOOK_POST_LIMIT // 2)) == FACEBOOK_POST_LIMIT - 0
    assert facebook_length("\U0001f600" * (FACEBOOK_POST_LIMIT // 2 + 1)) > FACEBOOK_POST_LIMIT


@given(st.text())
def test_the_length_is_the_utf16_encoding_in_two_byte_units(text: str) -> None:
    assert facebook_length(text) == len(text.encode("utf-16-le", "surrogatepass")) // 2


@given(st.text(), st.text())
def test_lengths_add_up_when_texts_are_joined(first: str, second: str) -> None:
    assert facebook_length(first + second) == facebook_length(first) + facebook_length(second)


@given(st.lists(st.sampled_from(GRAPHEME_CLUSTERS)))
def test_no_count_is_below_the_code_points_so_within_the_limit_is_within_any_count(
    clusters: list[str],
) -> None:
    text = "".join(clusters)
    assert len(clusters) <= len(text) <= facebook_length(text) <= 2 * len(text)
