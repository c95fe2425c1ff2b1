"""A Telegram message's length, counted as the Bot API checks it, and the UTF-16 offsets its entities use.

Documents followed (Telegram Bot API 9.x, https://core.telegram.org/bots/api):
- sendMessage: `text` is "1-4096 characters after entities parsing"; sendPhoto, sendVideo and
  sendMediaGroup's InputMedia: `caption` is "0-1024 characters after entities parsing".
- MessageEntity: `offset` and `length` are "in UTF-16 code units" (the section "Formatting options" says so
  again: a character outside the Basic Multilingual Plane, such as most emoji, is two of them).

Crier sends text plainly (no parse_mode), so "after entities parsing" is the text itself: there is no
markup to remove. The limits count characters, which the documents do not define further; a probe of the
live API reported in FerroxLabs/wayland issue #934 (August 2026) found 4,096 astral characters (8,192
UTF-16 units) accepted and 4,097 refused with "Bad Request: message is too long", so a character is a
Unicode code point there, not a UTF-16 unit: entity offsets and the length limit are counted differently.
Telegram trims leading and trailing spaces of a message; counting them anyway only ever errs short.
"""

from __future__ import annotations

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024


def telegram_length(text: str) -> int:
    """The text's length in Unicode code points, the unit of the 4,096 and 1,024 limits."""
    return len(text)


def utf16_length(text: str) -> int:
    """How many UTF-16 code units the text is: the unit of a MessageEntity's offset and length."""
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def utf16_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The MessageEntity `offset` and `length` of text[start:end] (Python indexes, in code points)."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"{start}:{end} is not a span of a text of {len(text)} characters")
    offset = utf16_length(text[:start])
    return offset, utf16_length(text[start:end])


def code_point_index(text: str, utf16_offset: int) -> int:
    """The Python index of the character at a UTF-16 offset (an entity's bound, as Telegram gives it).

    ValueError for an offset outside the text or in the middle of a surrogate pair: no entity begins or
    ends there, so such an offset is not one Telegram sent.
    """
    units = 0
    for index, character in enumerate(text):
        if units == utf16_offset:
            return index
        units += 2 if ord(character) > 0xFFFF else 1
        if units > utf16_offset:
            raise ValueError(f"UTF-16 offset {utf16_offset} falls inside a surrogate pair")
    if units == utf16_offset:
        return len(text)
    raise ValueError(f"UTF-16 offset {utf16_offset} is past the text's {units} units")
