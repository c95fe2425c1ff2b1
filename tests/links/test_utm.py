"""UTM tags: added after the link's own query, never over the author's, from templates checked when saved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InvalidInput
from shared.links.services import (
    CODE_ALPHABET,
    CODE_LENGTH,
    PREVIEW_POST_ID,
    LinkRules,
    RulesSource,
    apply_utm,
    check_utm_templates,
    new_code,
    preview_short_url,
    render_utm,
    rewrite_links,
    short_url,
    utm_context,
)
from tests.text.strategies import DOMAINS, PATHS

TAGS = {"utm_source": "mastodon", "utm_medium": "social"}
PUBLIC_URL = "https://crier.example.org"


def refuse_shortening(url: str) -> str:
    raise AssertionError(f"nothing should be shortened, yet {url} was")


# --- apply_utm -------------------------------------------------------------------------------------------


def test_a_link_without_a_query_gets_one() -> None:
    assert apply_utm("https://example.org/meetup", TAGS) == (
        "https://example.org/meetup?utm_source=mastodon&utm_medium=social"
    )


def test_the_tags_go_after_the_links_own_query_and_before_its_fragment() -> None:
    assert apply_utm("https://example.org/a?b=1&c=2#tickets", TAGS) == (
        "https://example.org/a?b=1&c=2&utm_source=mastodon&utm_medium=social#tickets"
    )


def test_a_utm_parameter_the_author_wrote_is_kept_and_the_others_are_added() -> None:
    url = "https://example.org/?utm_source=newsletter"

    assert apply_utm(url, TAGS) == "https://example.org/?utm_source=newsletter&utm_medium=social"


def test_a_link_with_every_tag_already_is_left_exactly_as_written() -> None:
    url = "https://example.org/?utm_medium=partner&utm_source=friends#x"

    assert apply_utm(url, TAGS) == url


def test_the_links_own_query_is_kept_byte_for_byte() -> None:
    url = "https://example.org/search?q=a+b&path=%2Fx&flag&sig=AbC%3D"

    assert apply_utm(url, TAGS).startswith(url + "&utm_source=")


def test_an_empty_query_or_a_trailing_ampersand_gets_no_doubled_separator() -> None:
    assert apply_utm("https://example.org/?", {"utm_source": "x"}) == "https://example.org/?utm_source=x"
    assert (
        apply_utm("https://example.org/?a=1&", {"utm_source": "x"}) == "https://example.org/?a=1&utm_source=x"
    )


def test_tag_values_are_percent_encoded() -> None:
    tagged = apply_utm("https://example.org/", {"utm_campaign": "spring sale & more/2026"})

    assert tagged == "https://example.org/?utm_campaign=spring%20sale%20%26%20more%2F2026"


def test_no_tags_leave_the_link_alone() -> None:
    assert apply_utm("https://example.org/?a=1#b", {}) == "https://example.org/?a=1#b"


QUERY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
QUERY_PAIRS = st.lists(
    st.tuples(
        st.one_of(QUERY_TEXT.filter(bool), st.sampled_from(["utm_source", "utm_campaign"])), QUERY_TEXT
    ),
    max_size=6,
)
FRAGMENTS = st.one_of(st.just(""), st.from_regex(r"#[A-Za-z0-9_/?=&-]{0,12}", fullmatch=True))
UTM_VALUES = st.dictionaries(
    st.sampled_from(["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]), QUERY_TEXT
)


@given(domain=DOMAINS, path=PATHS, pairs=QUERY_PAIRS, fragment=FRAGMENTS, tags=UTM_VALUES)
def test_tagging_keeps_every_query_parameter_and_the_fragment(
    domain: str, path: str, pairs: list[tuple[str, str]], fragment: str, tags: dict[str, str]
) -> None:
    query = urlencode(pairs)
    url = f"https://{domain}{path}" + (f"?{query}" if query else "") + fragment

    tagged = apply_utm(url, tags)

    before_fragment, _, tagged_fragment = tagged.partition("#")
    assert tagged_fragment == fragment.removeprefix("#")
    tagged_query = before_fragment.partition("?")[2]
    assert tagged_query.startswith(query)
    tagged_pairs = parse_qsl(tagged_query, keep_blank_values=True)
    assert tagged_pairs[: len(pairs)] == parse_qsl(query, keep_blank_values=True)
    written = {name for name, _ in pairs}
    added = dict(tagged_pairs[len(pairs) :])
    assert added == {name: value for name, value in tags.items() if name not in written}


# --- templates -------------------------------------------------------------------------------------------


def test_templates_are_filled_from_the_context_and_empty_ones_are_left_out() -> None:
    context = {"network": "mastodon", "channel": "acme", "post_id": "p", "label": "", "date": "2026-11-26"}

    rendered = render_utm(
        {"utm_source": "{network}", "utm_campaign": "{label}", "utm_content": "{channel}-{date} {{x}}"},
        context,
    )

    assert rendered == {"utm_source": "mastodon", "utm_content": "acme-2026-11-26 {x}"}


def test_templates_using_only_known_placeholders_are_accepted() -> None:
    check_utm_templates(
        {
            "utm_source": "{network}",
            "utm_medium": "social",
            "utm_campaign": "{label}-{date}",
            "utm_term": "{channel}",
            "utm_content": "{post_id} {{literal}}",
        }
    )


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("{campaign}", "{campaign} is not a placeholder Crier fills"),
        ("{}", "{} is not a placeholder Crier fills"),
        ("{network.upper}", "{network.upper} is not a placeholder Crier fills"),
        ("{network:>20}", "{network} takes no format or conversion"),
        ("{network!r}", "{network} takes no format or conversion"),
        ("spring {sale", "Not a template"),
        ("spring} sale", "Not a template"),
    ],
)
def test_a_template_crier_cannot_fill_is_refused_where_it_is(template: str, complaint: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_utm_templates({"utm_source": "crier", "utm_campaign": template})

    [problem] = refused.value.problems
    assert problem.pointer == "/utm/utm_campaign"
    assert complaint in problem.detail


def test_a_parameter_that_is_not_a_utm_one_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_utm_templates({"ref": "crier"})

    assert [problem.pointer for problem in refused.value.problems] == ["/utm/ref"]


def test_the_context_slugs_the_channel_name_and_sorts_the_labels() -> None:
    post_id = uuid.uuid4()
    in_paris = timezone(timedelta(hours=1))

    context = utm_context(
        network="mastodon",
        channel_name="  Acme on Mastodon (FR) ",
        post_id=post_id,
        scheduled_at=datetime(2026, 11, 27, 0, 30, tzinfo=in_paris),
        labels=["spring", "meetup"],
    )

    assert context == {
        "network": "mastodon",
        "channel": "acme-on-mastodon-fr",
        "post_id": str(post_id),
        "label": "meetup,spring",
        "date": "2026-11-26",
    }


def test_a_draft_without_an_id_gets_a_stand_in_of_the_same_length() -> None:
    context = utm_context(
        network="bluesky", channel_name="Café", post_id=None, scheduled_at=datetime.now(UTC)
    )

    assert context["post_id"] == PREVIEW_POST_ID
    assert len(PREVIEW_POST_ID) == len(str(uuid.uuid4()))
    assert context["channel"] == "café"
    assert context["label"] == ""


# --- rewrite_links ---------------------------------------------------------------------------------------

CONTEXT = {"network": "mastodon", "channel": "acme", "post_id": "p1", "label": "", "date": "2026-11-26"}


def test_every_web_link_is_tagged_and_the_words_around_it_are_kept() -> None:
    rules = LinkRules(utm={"utm_source": "{network}"}, source=RulesSource.WORKSPACE)
    text = "Tickets: https://example.org/meetup. Map (https://maps.example.com/x?id=3)!"

    rewritten = rewrite_links(text, rules, context=CONTEXT, shorten=refuse_shortening)

    assert rewritten == (
        "Tickets: https://example.org/meetup?utm_source=mastodon. "
        "Map (https://maps.example.com/x?id=3&utm_source=mastodon)!"
    )


def test_shortening_replaces_each_tagged_link_with_what_the_shortener_returns() -> None:
    rules = LinkRules(shorten=True, utm={"utm_medium": "social"})
    shortened: list[str] = []

    def shorten(url: str) -> str:
        shortened.append(url)
        return f"https://crier.example.org/l/{len(shortened):08d}"

    rewritten = rewrite_links(
        "See https://example.org/a and https://example.org/b", rules, context=CONTEXT, shorten=shorten
    )

    assert rewritten == "See https://crier.example.org/l/00000001 and https://crier.example.org/l/00000002"
    assert shortened == ["https://example.org/a?utm_medium=social", "https://example.org/b?utm_medium=social"]


def test_shortening_without_tags_shortens_the_link_as_written() -> None:
    rewritten = rewrite_links(
        "https://example.org/?a=1", LinkRules(shorten=True), context=CONTEXT, shorten=lambda url: f"<{url}>"
    )

    assert rewritten == "<https://example.org/?a=1>"


def test_no_rules_leave_the_text_alone() -> None:
    text = "Read https://example.org/meetup"

    assert rewrite_links(text, LinkRules(), context={}, shorten=refuse_shortening) == text


def test_what_is_no_web_link_to_mastodon_is_left_alone() -> None:
    rules = LinkRules(shorten=True, utm={"utm_source": "crier"})
    text = "example.org, gemini://example.org/x, mail@example.org and crier.example.org/l/abc"

    assert rewrite_links(text, rules, context=CONTEXT, shorten=refuse_shortening) == text


def test_a_template_naming_a_placeholder_the_context_lacks_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        rewrite_links(
            "https://example.org", LinkRules(utm={"utm_source": "{network}"}), context={}, shorten=str
        )


# --- codes and previews ----------------------------------------------------------------------------------


def test_codes_are_eight_letters_or_digits_and_differ() -> None:
    codes = {new_code() for _ in range(1000)}

    assert len(codes) == 1000
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)


@pytest.mark.parametrize("public_url", [PUBLIC_URL, PUBLIC_URL + "/", "http://127.0.0.1:8000"])
def test_a_previews_placeholder_link_is_as_long_as_the_real_one_will_be(public_url: str) -> None:
    placeholder = preview_short_url("https://example.org/meetup", public_url)

    assert placeholder.startswith(public_url.rstrip("/") + "/l/")
    assert len(placeholder) == len(short_url(public_url, new_code()))
