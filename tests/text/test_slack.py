"""Slack's 40,000-character truncation point, measured so that no reading of 'character' overshoots it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text import SLACK_TEXT_LIMIT, slack_length


def test_slack_truncates_text_past_40000_characters() -> None:
    assert SLACK_TEXT_LIMIT == 40_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("\u65e5\u672c\u8a9e", 3),  # in the Basic Multilingual Plane: 1 unit each
        ("\U0001f600", 2),  # 😀: a surrogate pair
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 11),  # 4 pairs and 3 joiners
        ("e\u0301", 2),
    ],
)
def test_each_utf16_unit_counts_once(text: str, expected: int) -> None:
    assert slack_length(text) == expected


@given(st.text())
def test_the_length_is_never_less_than_the_code_points_nor_more_than_twice_them(text: str) -> None:
    assert len(text) <= slack_length(text) <= 2 * len(text)
