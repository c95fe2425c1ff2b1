"""Hypothesis strategies for post text: whole grapheme clusters of many scripts, links, mentions, tags."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from shared.text import FacetKind

# Each is one extended grapheme cluster however it is placed next to another of them: none begins with a
# character that would join the one before (a combining mark, a joiner, a lone regional indicator).
GRAPHEME_CLUSTERS = (
    "a",
    "Z",
    "7",
    "e\u0301",  # é as e and a combining acute accent
    "\u00e9",  # é precomposed
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # 👨‍👩‍👧‍👦, joined by zero-width joiners
    "\U0001f1eb\U0001f1f7",  # 🇫🇷
    "\U0001f44d\U0001f3fd",  # 👍🏽
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # 👩🏽‍💻
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # 🏳️‍🌈
    "1\ufe0f\u20e3",  # 1️⃣
    "\u2728",  # ✨
    "\u4e2d",  # 中
    "\u8a9e",  # 語
    "\u3042",  # あ
    "\ud55c",  # 한
    "\u1100\u1161\u11a8",  # 각 spelled in conjoining jamo
    "\u05e9",  # ש
    "\u05e9\u05c1",  # שׁ with its shin dot
    "\u0639",  # ع
    "\u0628\u0650",  # بِ with a kasra
    "\u0915\u094d\u0937",  # क्ष, one cluster under Unicode 15.1's conjunct rule
    "\u0e01\u0e48",  # ก่
)
ONE_CLUSTER = st.sampled_from(GRAPHEME_CLUSTERS)

# Words of plain prose: no '@', '#', '.', ':' or '/', so nothing in them is a link, a mention or a tag.
WORDS = st.lists(ONE_CLUSTER, min_size=1, max_size=8).map("".join)
SEPARATORS = st.sampled_from([" ", "\n", "  ", " \n "])

TOP_LEVEL_DOMAINS = st.sampled_from(["com", "org", "social", "fr", "io", "dev", "co.uk", "museum"])
DOMAIN_LABELS = st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True)
DOMAINS = st.builds(
    lambda labels, top_level_domain: ".".join([*labels, top_level_domain]),
    st.lists(DOMAIN_LABELS, min_size=1, max_size=3),
    TOP_LEVEL_DOMAINS,
)
PATHS = st.lists(st.from_regex(r"[A-Za-z0-9_~-]*[A-Za-z0-9]", fullmatch=True), max_size=5).map(
    lambda segments: "".join("/" + segment for segment in segments)
)
QUERIES = st.one_of(st.just(""), st.from_regex(r"\?[a-z]{1,8}=[a-z0-9]{1,8}", fullmatch=True))
URLS = st.builds(
    lambda scheme, domain, path, query: f"{scheme}://{domain}{path}{query}",
    st.sampled_from(["https", "http"]),
    DOMAINS,
    PATHS,
    QUERIES,
)
USERNAMES = st.from_regex(r"[a-z0-9_]{1,30}", fullmatch=True)
HANDLES = st.builds(lambda name, domain: f"{name}.{domain}", DOMAIN_LABELS, DOMAINS)
TAGS = (
    st.lists(st.sampled_from(GRAPHEME_CLUSTERS[:16]), min_size=1, max_size=10)
    .map("".join)
    .filter(lambda tag: not tag.isdigit())
)


@dataclass(frozen=True)
class Token:
    """One piece of a generated post, and what Bluesky should make of it."""

    text: str
    facet_kind: FacetKind | None  # None for a plain word
    value: str


TOKENS = st.one_of(
    WORDS.map(lambda word: Token(word, None, "")),
    URLS.map(lambda url: Token(url, "link", url)),
    HANDLES.map(lambda handle: Token("@" + handle, "mention", handle)),
    TAGS.map(lambda tag: Token("#" + tag, "tag", tag)),
)


@st.composite
def posts(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, Token]]]:
    """A post made of words, links, mentions and tags, with each token's UTF-8 byte span in it."""
    tokens = draw(st.lists(TOKENS, max_size=12))
    text, spans = "", []
    for token in tokens:
        if text:
            text += draw(SEPARATORS)
        start = len(text.encode())
        text += token.text
        spans.append((start, len(text.encode()), token))
    return text, spans
