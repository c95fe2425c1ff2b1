"""Counts read as English: one of a thing is singular, any other number plural."""

from __future__ import annotations

import pytest

from shared.wording import counted, noun


@pytest.mark.parametrize(
    ("count", "words"), [(0, "0 problems"), (1, "1 problem"), (2, "2 problems"), (5000, "5,000 problems")]
)
def test_a_count_takes_the_singular_only_when_it_is_one(count: int, words: str):
    assert counted(count, "problem") == words


def test_an_irregular_plural_is_given():
    assert [counted(count, "reply", "replies") for count in (1, 3)] == ["1 reply", "3 replies"]


def test_the_noun_alone_is_there_for_a_count_shown_apart():
    assert [noun(count, "post") for count in (0, 1, 2)] == ["posts", "post", "posts"]
