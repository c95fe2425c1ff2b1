"""Graphemes are counted as a reader sees characters, under current Unicode rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text import grapheme_count
from tests.text.strategies import GRAPHEME_CLUSTERS, ONE_CLUSTER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("hello", 5),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", 1),  # 👨‍👩‍👧‍👦: 7 code points
        ("\U0001f1eb\U0001f1f7", 1),  # 🇫🇷: 2 regional indicators
        ("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", 2),  # 🇫🇷🇩🇪
        ("\U0001f44d\U0001f3fd", 1),  # 👍🏽: thumb and skin tone
        ("e\u0301", 1),  # é: e and a combining acute
        ("\u65e5\u672c\u8a9e", 3),  # 日本語
        ("\u0645\u0631\u062d\u0628\u0627", 5),  # مرحبا
        ("\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd", 4),  # שָׁלוֹם with its points
        ("\r\n", 1),
    ],
)
def test_each_character_a_reader_sees_counts_once(text: str, expected: int) -> None:
    assert grapheme_count(text) == expected


def test_an_indic_conjunct_is_one_grapheme_as_unicode_15_1_made_it() -> None:
    # क्ष (ka, virama, ssa) was two clusters before Unicode 15.1; an outdated table would say 2.
    assert grapheme_count("\u0915\u094d\u0937") == 1


def test_every_sample_cluster_is_one_grapheme() -> None:
    assert [grapheme_count(cluster) for cluster in GRAPHEME_CLUSTERS] == [1] * len(GRAPHEME_CLUSTERS)


@given(st.lists(ONE_CLUSTER, max_size=60))
def test_a_concatenation_of_n_clusters_is_n_graphemes(clusters: list[str]) -> None:
    assert grapheme_count("".join(clusters)) == len(clusters)


@given(st.text())
def test_there_are_never_more_graphemes_than_code_points_nor_none_in_a_non_empty_text(text: str) -> None:
    assert (grapheme_count(text) == 0) == (text == "")
    assert grapheme_count(text) <= len(text)
