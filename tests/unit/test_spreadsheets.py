"""CSV cells that a spreadsheet cannot run, and that read back as they were written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.spreadsheets import FORMULA_STARTS, from_spreadsheet, to_spreadsheet

# Texts built to sit on the edges: quotes in front of a formula's first character, or of anything else.
edgy_texts = st.builds(
    lambda quotes, start, rest: "'" * quotes + start + rest,
    st.integers(min_value=0, max_value=3),
    st.sampled_from([*FORMULA_STARTS, "a", "'", " ", "1", ""]),
    st.text(max_size=20),
)


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_cell_starting_as_a_formula_gets_a_quote_in_front(start: str) -> None:
    assert to_spreadsheet(start + "cmd|' /C calc'!A0") == "'" + start + "cmd|' /C calc'!A0"


def test_plain_text_numbers_and_empty_cells_are_left_as_they_are() -> None:
    assert to_spreadsheet("Spring meetup") == "Spring meetup"
    assert to_spreadsheet("'quoted, but no formula") == "'quoted, but no formula"
    assert to_spreadsheet("") == ""
    assert to_spreadsheet(-3) == -3
    assert to_spreadsheet(0.5) == 0.5


@given(st.one_of(st.text(), edgy_texts))
def test_what_is_written_never_runs_and_reads_back_exactly(text: str) -> None:
    cell = to_spreadsheet(text)

    assert not cell.startswith(FORMULA_STARTS)
    assert from_spreadsheet(cell) == text


def test_a_quote_a_person_put_before_a_formula_is_read_as_a_spreadsheet_reads_it() -> None:
    # Typed as '=1 in a spreadsheet, the cell holds the text =1.
    assert from_spreadsheet("'=1") == "=1"
    assert from_spreadsheet("'just a quote") == "'just a quote"
