"""Reading import files: CSV as spreadsheets save it, JSON as a list; rows numbered as a person counts."""

from __future__ import annotations

import json

import pytest

from shared.bulk.reading import MAX_ROWS, SourceFormat, guess_format, read_source
from shared.errors import InvalidInput, Problem


def read_csv(text: str) -> list[tuple[int, dict[str, object]]]:
    return [(row.number, dict(row.cells)) for row in read_source(text.encode(), SourceFormat.CSV).rows]


def problems_of(data: bytes, source_format: SourceFormat) -> list[Problem]:
    with pytest.raises(InvalidInput) as refused:
        read_source(data, source_format)
    return refused.value.problems


def test_a_csv_file_with_excels_byte_order_mark_reads_its_first_column_by_name() -> None:
    source = read_source("text,channels\nHello,Sandbox\n".encode("utf-8-sig"), SourceFormat.CSV)

    assert source.columns == ["text", "channels"]
    assert [dict(row.cells) for row in source.rows] == [{"text": "Hello", "channels": "Sandbox"}]


def test_the_header_row_is_row_1_so_the_first_post_is_row_2() -> None:
    assert read_csv("text,channels\nOne,A\nTwo,B\n") == [
        (2, {"text": "One", "channels": "A"}),
        (3, {"text": "Two", "channels": "B"}),
    ]


def test_quoted_cells_keep_their_commas_quotes_and_line_breaks_and_stay_one_row() -> None:
    text = 'text,channels\n"Hello, world: ""quoted""\nand a second line",A\nNext,B\n'

    assert read_csv(text) == [
        (2, {"text": 'Hello, world: "quoted"\nand a second line', "channels": "A"}),
        (3, {"text": "Next", "channels": "B"}),
    ]


def test_empty_rows_are_skipped_without_renumbering_the_rows_after_them() -> None:
    assert read_csv("text,channels\nOne,A\n,\n\nTwo,B\n,,\n") == [
        (2, {"text": "One", "channels": "A"}),
        (5, {"text": "Two", "channels": "B"}),
    ]


def test_header_names_are_read_without_case_or_surrounding_spaces() -> None:
    source = read_source(b" Text ,CHANNELS,Text:Mastodon\nHi,A,Toot\n", SourceFormat.CSV)

    assert source.columns == ["text", "channels", "text:mastodon"]


def test_semicolons_and_tabs_separate_cells_when_the_header_uses_them() -> None:
    assert read_csv("text;channels\nHello, world;A|B\n") == [(2, {"text": "Hello, world", "channels": "A|B"})]
    assert read_csv("text\tchannels\nHello;world\tA\n") == [(2, {"text": "Hello;world", "channels": "A"})]


def test_cells_beyond_the_header_are_kept_apart_so_the_row_can_be_refused() -> None:
    assert read_csv("text,channels\nOne,A,stray\n") == [(2, {"text": "One", "channels": "A", "": ["stray"]})]


def test_a_column_named_twice_is_refused_at_the_header_row() -> None:
    assert problems_of(b"text,channels,Text\nOne,A,B\n", SourceFormat.CSV) == [
        Problem("/rows/1/text", "The column “text” appears more than once.")
    ]


def test_an_empty_file_is_refused() -> None:
    [problem] = problems_of(b"", SourceFormat.CSV)

    assert problem.pointer == "/rows/1"


def test_a_file_with_a_header_and_no_posts_is_refused() -> None:
    assert problems_of(b"text,channels\n,\n", SourceFormat.CSV)[0].pointer == "/rows"
    assert problems_of(b"[]", SourceFormat.JSON)[0].pointer == "/rows"


def test_a_file_that_is_not_utf8_is_refused_with_what_to_save_it_as() -> None:
    [problem] = problems_of("text,channels\nCafé,A\n".encode("latin-1"), SourceFormat.CSV)

    assert problem.pointer == "/rows"
    assert "UTF-8" in problem.detail


def test_a_cell_too_long_for_the_csv_module_is_refused_at_its_row() -> None:
    too_long = "x" * 200_000

    assert problems_of(f"text,channels\nOne,A\n{too_long},B\n".encode(), SourceFormat.CSV) == [
        Problem("/rows/3", "This row cannot be read: field larger than field limit (131072).")
    ]


def test_a_nul_character_in_csv_or_json_is_refused_as_no_text_file() -> None:
    for data, source_format in (
        (b"text,channels\nOne\x00,A\n", SourceFormat.CSV),
        (b'[{"text": "One\\u0000", "channels": "A"}]', SourceFormat.JSON),
    ):
        assert problems_of(data, source_format) == [
            Problem("/rows", "The file holds a NUL character (byte 0): is it a text file?")
        ]
    assert read_source(b'[{"text": "Write \\\\u0000 to mean NUL", "channels": "A"}]', SourceFormat.JSON).rows


def test_json_is_a_list_of_objects_numbered_from_1() -> None:
    posts = [{"text": "One", "channels": ["A", "B"]}, {"Text": "Two", "channels": "C", "draft": True}]

    source = read_source(json.dumps(posts).encode(), SourceFormat.JSON)

    assert [(row.number, dict(row.cells)) for row in source.rows] == [
        (1, {"text": "One", "channels": ["A", "B"]}),
        (2, {"text": "Two", "channels": "C", "draft": True}),
    ]
    assert source.columns == ["text", "channels", "draft"]


def test_json_may_wrap_its_list_in_a_posts_object() -> None:
    source = read_source(b'{"posts": [{"text": "One", "channels": "A"}]}', SourceFormat.JSON)

    assert [row.number for row in source.rows] == [1]


def test_json_that_is_not_a_list_of_objects_is_refused_where_it_goes_wrong() -> None:
    assert problems_of(b'{"text": "One"}', SourceFormat.JSON)[0].pointer == "/rows"
    assert [problem.pointer for problem in problems_of(b'[{"text": "One"}, 2, "x"]', SourceFormat.JSON)] == [
        "/rows/2",
        "/rows/3",
    ]
    assert "not JSON" in problems_of(b"[{", SourceFormat.JSON)[0].detail


def test_more_than_5000_posts_are_refused_at_once_without_reading_any_row() -> None:
    rows = "".join(f"Post {number},A\n" for number in range(MAX_ROWS + 1))

    [problem] = problems_of(f"text,channels\n{rows}".encode(), SourceFormat.CSV)

    assert problem == Problem(
        "/rows", "The file has 5,001 posts; an import takes at most 5,000. Split it into several files."
    )
    assert (
        len(read_source(f"text,channels\n{rows[rows.index(chr(10)) + 1 :]}".encode(), SourceFormat.CSV).rows)
        == 5000
    )


def test_the_format_is_guessed_from_the_file_name_then_from_the_first_character() -> None:
    assert guess_format("posts.JSON", b"") is SourceFormat.JSON
    assert guess_format("posts.csv", b"[") is SourceFormat.CSV
    assert guess_format("posts", b'\xef\xbb\xbf  [{"text": "x"}]') is SourceFormat.JSON
    assert guess_format("posts", b"text,channels\n") is SourceFormat.CSV
