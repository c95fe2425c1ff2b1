"""Telegram limits a message to 4,096 characters and a caption to 1,024, in code points; its entities count
offsets in UTF-16 code units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text.telegram import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    code_point_index,
    telegram_length,
    utf16_length,
    utf16_span,
)
from tests.text.strategies import ONE_CLUSTER

TEXTS = st.text() | st.lists(ONE_CLUSTER).map("".join)


def test_the_limits_are_4096_for_a_message_and_1024_for_a_caption() -> None:
    assert (TELEGRAM_TEXT_LIMIT, TELEGRAM_CAPTION_LIMIT) == (4096, 1024)


@pytest.mark.parametrize(
    ("text", "length", "units"),
    [
        ("hello", 5, 5),
        ("\U0001f600", 1, 2),  # 😀: one code point, a surrogate pair in UTF-16
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 7, 11),  # 👨‍👩‍👧‍👦
        ("\U0001f1eb\U0001f1f7", 2, 4),  # 🇫🇷
        ("e\u0301", 2, 2),
        ("\u65e5\u672c\u8a9e", 3, 3),
        ("\uffff", 1, 1),  # the last character of the Basic Multilingual Plane is one unit
        ("\U00010000", 1, 2),  # the first past it is two
    ],
)
def test_length_counts_code_points_and_entities_count_utf16_units(text: str, length: int, units: int) -> None:
    assert telegram_length(text) == length
    assert utf16_length(text) == units


def test_4096_emoji_fit_a_message_though_they_are_8192_utf16_units() -> None:
    text = "\U0001f600" * TELEGRAM_TEXT_LIMIT
    assert telegram_length(text) == TELEGRAM_TEXT_LIMIT
    assert utf16_length(text) == 2 * TELEGRAM_TEXT_LIMIT


def test_a_link_after_an_emoji_starts_one_unit_later_than_its_index() -> None:
    text = "\U0001f600 see https://example.org"
    start = text.index("https")
    assert utf16_span(text, start, len(text)) == (start + 1, len("https://example.org"))


@given(TEXTS)
def test_utf16_length_is_what_python_encodes(text: str) -> None:
    assert utf16_length(text) == len(text.encode("utf-16-le")) // 2


@given(TEXTS, st.data())
def test_a_span_encoded_as_utf16_is_the_same_text(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))

    offset, length = utf16_span(text, start, end)

    encoded = text.encode("utf-16-le")
    assert encoded[2 * offset : 2 * (offset + length)].decode("utf-16-le") == text[start:end]


@given(TEXTS, st.data())
def test_an_offset_made_of_an_index_leads_back_to_it(text: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(text)))
    offset, _ = utf16_span(text, index, index)
    assert code_point_index(text, offset) == index


@given(TEXTS.filter(lambda text: any(ord(character) > 0xFFFF for character in text)))
def test_an_offset_inside_a_surrogate_pair_is_refused(text: str) -> None:
    index = next(index for index, character in enumerate(text) if ord(character) > 0xFFFF)
    offset, _ = utf16_span(text, index, index)
    with pytest.raises(ValueError, match="surrogate pair"):
        code_point_index(text, offset + 1)


@given(TEXTS)
def test_an_offset_past_the_end_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="past"):
        code_point_index(text, utf16_length(text) + 1)


@given(TEXTS)
def test_a_message_never_counts_more_than_its_utf16_units(text: str) -> None:
    assert len(text) == telegram_length(text) <= utf16_length(text)
