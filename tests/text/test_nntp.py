"""A Usenet article's text: lines within 998 octets, a Subject cut at a word, headers folded and encoded."""

from __future__ import annotations

import email.header
import email.utils

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.text.graphemes import grapheme_count
from shared.text.nntp import (
    HEADER_LINE_OCTETS,
    MAX_LINE_OCTETS,
    SUBJECT_LIMIT,
    address_field,
    body_lines,
    header_field,
    octets,
    reply_subject,
    subject_of,
    wrap_line,
)

# Text without line breaks, from every plane, combining marks and emoji sequences included.
line_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x85\u2028\u2029"))


def decoded(field: str) -> str:
    """A header field's value as a reader shows it: unfolded, encoded-words decoded."""
    value = field.partition(": ")[2].replace("\r\n", "")
    return str(email.header.make_header(email.header.decode_header(value)))


def test_a_short_line_is_left_alone() -> None:
    assert wrap_line("hello") == ["hello"]
    assert body_lines("one\r\ntwo\rthree\nfour") == ["one", "two", "three", "four"]


def test_a_line_of_exactly_998_octets_fits_and_999_does_not() -> None:
    assert wrap_line("x" * 998) == ["x" * 998]
    assert wrap_line("x" * 999) == ["x" * 998, "x"]


def test_a_long_paragraph_breaks_after_a_space() -> None:
    words = "word " * 300
    pieces = wrap_line(words)
    assert all(piece.endswith(" ") for piece in pieces[:-1])
    assert "".join(pieces) == words


def test_a_line_is_never_broken_inside_a_character_or_a_grapheme() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 25 octets, one grapheme
    pieces = wrap_line(family * 50)
    assert all(piece == family * grapheme_count(piece) for piece in pieces)


@given(line_text)
def test_wrapped_lines_fit_and_join_back_into_the_line(line: str) -> None:
    pieces = wrap_line(line)
    assert all(octets(piece) <= MAX_LINE_OCTETS for piece in pieces)
    assert "".join(pieces) == line


@given(st.lists(line_text, max_size=5))
def test_the_body_keeps_every_line_within_the_limit_and_in_order(lines: list[str]) -> None:
    body = body_lines("\n".join(lines))
    assert all(octets(line) <= MAX_LINE_OCTETS for line in body)
    # Only control characters other than tab are dropped: they have no place in a text/plain article.
    printable = [
        "".join(c for c in line if c == "\t" or not (ord(c) < 0x20 or ord(c) == 0x7F)) for line in lines
    ]
    assert "".join(body) == "".join(printable)
    assert len(body) >= len(lines) or lines == []


def test_the_subject_is_the_first_line_that_is_not_blank() -> None:
    assert subject_of("\n  \nFirst line\nSecond") == "First line"
    assert subject_of("Body", "  Chosen  ") == "Chosen"
    assert subject_of("tabs\tand   spaces") == "tabs and spaces"


def test_a_long_first_line_is_cut_at_a_word_with_an_ellipsis() -> None:
    subject = subject_of("The quick brown fox jumps over the lazy dog " * 3)
    assert subject.endswith("…")
    assert grapheme_count(subject) <= SUBJECT_LIMIT
    assert subject.removesuffix("…").endswith(
        ("fox", "dog", "quick", "brown", "jumps", "over", "the", "lazy")
    )


@given(line_text)
def test_a_subject_is_one_line_within_the_limit(text: str) -> None:
    subject = subject_of(text)
    assert "\n" not in subject
    assert "\r" not in subject
    assert grapheme_count(subject) <= SUBJECT_LIMIT


def test_a_follow_up_subject_starts_with_re_once() -> None:
    assert reply_subject("Hello") == "Re: Hello"
    assert reply_subject("Re: Hello") == "Re: Hello"
    assert reply_subject("RE: Hello") == "RE: Hello"


def test_an_ascii_subject_is_folded_at_spaces() -> None:
    field = header_field("Subject", "word " * 30)
    lines = field.split("\r\n")
    assert len(lines) > 1
    assert all(len(line) <= HEADER_LINE_OCTETS for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert decoded(field) == ("word " * 30).strip()


def test_a_non_ascii_subject_is_encoded_words() -> None:
    field = header_field("Subject", "Grüße ✨")
    assert field == "Subject: =?UTF-8?B?R3LDvMOfZSDinKg=?="
    assert decoded(field) == "Grüße ✨"


def test_text_that_looks_like_an_encoded_word_is_encoded_so_it_reads_as_written() -> None:
    field = header_field("Subject", "=?UTF-8?B?aGk=?=")
    assert decoded(field) == "=?UTF-8?B?aGk=?="


@pytest.mark.parametrize("name", ["Subject", "From"])
@given(text=st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1))
def test_any_header_value_decodes_back_and_keeps_its_lines_short(name: str, text: str) -> None:
    value = " ".join(text.split())
    field = header_field(name, value)
    lines = field.split("\r\n")
    assert all(line.isascii() for line in lines)
    assert all(octets(line) <= HEADER_LINE_OCTETS for line in lines if "=?" in line)
    assert all(octets(line) <= MAX_LINE_OCTETS for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert all(len(word) <= 75 for line in lines for word in line.split() if word.startswith("=?"))
    assert decoded(field) == value


def test_an_address_keeps_its_address_plain_and_encodes_only_the_name() -> None:
    assert address_field("From", "", "ada@example.org") == "From: ada@example.org"
    assert address_field("From", "Ada L.", "ada@example.org") == 'From: "Ada L." <ada@example.org>'
    field = address_field("From", "Zoë", "zoe@example.org")
    assert field == "From: =?UTF-8?B?Wm/Dqw==?= <zoe@example.org>"
    assert decoded(field) == "Zoë <zoe@example.org>"


@given(st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1))
def test_a_display_name_that_is_not_ascii_reads_back_beside_its_plain_address(display_name: str) -> None:
    assume(not " ".join(display_name.split()).isascii())
    field = address_field("From", display_name, "ada@example.org")
    assert field.isascii()
    words, _, address = field.replace("\r\n", "").rpartition(" ")
    assert address == "<ada@example.org>"
    assert decoded(words) == " ".join(display_name.split())
