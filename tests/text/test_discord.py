"""Discord counts a message's content in Unicode code points, up to 2000."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text import DISCORD_LIMIT, discord_length


def test_the_limit_is_2000() -> None:
    assert DISCORD_LIMIT == 2000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("\U0010ffff \uffff", 3),  # the example Discord's staff gave in discord-api-docs#1315
        ("\U0001f600", 1),  # 😀: 2 UTF-16 units, 1 code point
        (
            "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
            7,
        ),  # 👨‍👩‍👧‍👦: 1 grapheme, 7 code points
        ("\U0001f1eb\U0001f1f7", 2),  # 🇫🇷
        ("e\u0301", 2),
        ("\u65e5\u672c\u8a9e", 3),
    ],
)
def test_each_code_point_counts_once(text: str, expected: int) -> None:
    assert discord_length(text) == expected


def test_2000_emoji_fit_though_javascript_would_count_4000() -> None:
    assert discord_length("\U0001f600" * 2000) == DISCORD_LIMIT


@given(st.text())
def test_the_length_is_the_number_of_code_points(text: str) -> None:
    assert discord_length(text) == len(text)
