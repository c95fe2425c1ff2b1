"""X counts twitter-text v3's weighted length: 1 for Latin and general punctuation, 2 for the rest (CJK,
emoji, even an emoji sequence), 23 for every URL, after NFC normalisation; mentions count as text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text.x import X_LIMIT, X_URL_WEIGHT, x_length, x_text_problems, x_url_spans
from tests.text.strategies import DOMAINS, GRAPHEME_CLUSTERS, SEPARATORS, URLS, USERNAMES

# Each cluster of the shared strategies with its weight, worked out by hand from config/v3.json: a code
# point below U+1100 or in the punctuation ranges weighs 1, any other 2, an emoji sequence 2 in all.
WEIGHTS = {
    "a": 1,
    "Z": 1,
    "7": 1,
    "e\u0301": 1,  # NFC makes it é, one code point
    "\u00e9": 1,
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466": 2,  # 👨‍👩‍👧‍👦: one emoji
    "\U0001f1eb\U0001f1f7": 2,  # 🇫🇷
    "\U0001f44d\U0001f3fd": 2,  # 👍🏽
    "\U0001f469\U0001f3fd\u200d\U0001f4bb": 2,  # 👩🏽‍💻
    "\U0001f3f3\ufe0f\u200d\U0001f308": 2,  # 🏳️‍🌈
    "1\ufe0f\u20e3": 2,  # 1️⃣
    "\u2728": 2,  # ✨
    "\u4e2d": 2,  # 中
    "\u8a9e": 2,  # 語
    "\u3042": 2,  # あ
    "\ud55c": 2,  # 한
    "\u1100\u1161\u11a8": 2,  # 각 in conjoining jamo: NFC composes it to U+AC01
    "\u05e9": 1,  # ש
    "\u05e9\u05c1": 2,  # שׁ: two code points (its precomposed form is excluded from NFC)
    "\u0639": 1,  # ع
    "\u0628\u0650": 2,  # بِ: two code points below U+1100
    "\u0915\u094d\u0937": 3,  # क्ष: three code points below U+1100
    "\u0e01\u0e48": 2,  # ก่
}
PROSE_WORDS = st.lists(st.sampled_from(list(WEIGHTS)), min_size=1, max_size=8).map("".join)


def prose_weight(word: str) -> int:
    # Clusters are listed whole in WEIGHTS; a word is a run of them, weighed by splitting greedily.
    total, rest = 0, word
    while rest:
        cluster = max((c for c in WEIGHTS if rest.startswith(c)), key=len)
        total += WEIGHTS[cluster]
        rest = rest[len(cluster) :]
    return total


def test_every_cluster_of_the_shared_strategies_has_a_weight() -> None:
    assert set(WEIGHTS) == set(GRAPHEME_CLUSTERS)


@pytest.mark.parametrize(("cluster", "weight"), list(WEIGHTS.items()))
def test_each_cluster_weighs_as_config_v3_says(cluster: str, weight: int) -> None:
    assert x_length(cluster) == weight


@given(st.lists(PROSE_WORDS, min_size=1, max_size=10), st.data())
def test_prose_weighs_the_sum_of_its_clusters_and_separators(words: list[str], data: st.DataObject) -> None:
    separators = [data.draw(SEPARATORS) for _ in words[1:]]
    text = words[0] + "".join(sep + word for sep, word in zip(separators, words[1:], strict=True))

    assert x_length(text) == sum(map(prose_weight, words)) + sum(len(sep) for sep in separators)


@given(PROSE_WORDS, URLS, PROSE_WORDS)
def test_a_url_weighs_23_however_long_it_is(before: str, url: str, after: str) -> None:
    text = f"{before} {url} {after}"

    assert x_length(text) == prose_weight(before) + 1 + X_URL_WEIGHT + 1 + prose_weight(after)
    assert len(x_url_spans(text)) == 1


@given(DOMAINS)
def test_a_domain_without_a_scheme_is_a_url_too(domain: str) -> None:
    assert x_length(f"see {domain}") == len("see ") + X_URL_WEIGHT


@given(st.lists(PROSE_WORDS, min_size=1, max_size=6).map(" ".join))
def test_the_nfc_and_nfd_forms_of_a_text_weigh_the_same(text: str) -> None:
    assert x_length(unicodedata.normalize("NFD", text)) == x_length(unicodedata.normalize("NFC", text))


@given(USERNAMES)
def test_a_mention_counts_as_its_characters(username: str) -> None:
    # twitter-text v3 gives mentions no special weight (only X's own reply prefix is free).
    assert x_length(f"@{username} hi") == 1 + len(username) + 3


@given(PROSE_WORDS, st.sampled_from(list(WEIGHTS)))
def test_adding_a_cluster_never_makes_a_text_shorter(text: str, cluster: str) -> None:
    assert x_length(text + " " + cluster) > x_length(text)


def test_280_latin_characters_fit_and_281_do_not() -> None:
    assert x_length("a" * X_LIMIT) == 280
    assert x_text_problems("a" * X_LIMIT) == []
    assert x_text_problems("a" * (X_LIMIT + 1)) == [
        "the text is 281 characters long as X counts them (each URL 23, CJK characters and emoji 2); "
        "X allows 280"
    ]


def test_140_cjk_characters_or_emoji_fill_a_post() -> None:
    assert x_text_problems("\u4e2d" * 140) == []
    assert x_text_problems("\u4e2d" * 141) != []
    assert x_length("\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466" * 140) == 280


def test_a_newer_emoji_sequence_counts_longer_here_never_shorter() -> None:
    # ❤️‍🔥 (Emoji 13.1) is not in the port's Emoji 12.0 list: weighed by code point, 5 rather than X's 2.
    assert x_length("\u2764\ufe0f\u200d\U0001f525") == 5
    # One code point, new or old, weighs 2 as X weighs it.
    assert x_length("\U0001fae0") == 2


@pytest.mark.parametrize("char", ["\ufeff", "\ufffe", "\uffff"])
def test_a_character_twitter_text_calls_invalid_is_a_problem(char: str) -> None:
    assert x_text_problems(f"hi{char}") == [
        "the text holds U+FEFF, U+FFFE or U+FFFF, characters X does not take"
    ]


@given(st.lists(PROSE_WORDS, min_size=1, max_size=8).map(" ".join), st.booleans())
def test_a_text_filled_to_the_limit_is_taken_and_one_character_more_is_not(text: str, with_url: bool) -> None:
    if with_url:
        text += " https://example.com/" + "a" * 40
    # After a space: letters glued to a URL would lengthen the URL, not the text.
    filled = text + " " + "a" * (X_LIMIT - x_length(text) - 1)

    assert x_length(filled) == X_LIMIT
    assert x_text_problems(filled) == []
    assert x_text_problems(filled + "a") != []
