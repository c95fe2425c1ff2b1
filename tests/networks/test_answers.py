"""The one reading of a network's answer every adapter uses: the ladder, and the network's own words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.networks.ports import (
    AuthExpired,
    OutcomeUnknown,
    PublishedPart,
    PublishedPost,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.toolkit.answers import (
    WORDS_LIMIT,
    answer_object,
    network_words,
    refusal,
    sanitized,
    says_credentials_refused,
    storable_post,
)

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
CLOUDFLARE_524 = (
    "<!DOCTYPE html><html><head><title>example.social | 524: A timeout occurred</title>"
    "<style>body{color:red}</style><script>var x = 1;</script></head>"
    "<body><h1>A timeout occurred</h1><p>The origin web server timed out responding to this request.</p>"
    "</body></html>"
)


def answer(
    status: int, body: str | bytes = "", content_type: str = "text/plain", **headers: str
) -> httpx.Response:
    return httpx.Response(
        status,
        content=body.encode() if isinstance(body, str) else body,
        headers={"Content-Type": content_type, **headers},
    )


def json_answer(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "write", "kind"),
    [
        (429, True, RateLimited),
        (429, False, RateLimited),
        (401, True, AuthExpired),
        (401, False, AuthExpired),
        (408, True, Transient),
        (301, True, Rejected),
        (400, True, Rejected),
        (403, True, Rejected),
        (404, True, Rejected),
        (409, True, Rejected),
        (422, True, Rejected),
        (500, True, OutcomeUnknown),
        (502, True, OutcomeUnknown),
        (503, True, OutcomeUnknown),
        (504, True, OutcomeUnknown),
        (520, True, OutcomeUnknown),
        (524, True, OutcomeUnknown),
        (500, False, Transient),
        (502, False, Transient),
        (504, False, Transient),
    ],
)
def test_every_answer_climbs_one_ladder(status: int, write: bool, kind: type[Exception]) -> None:
    error = refusal(answer(status, "nope"), what="example.social", write=write)
    assert type(error) is kind
    assert str(error).startswith(f"example.social answered {status}: nope")


@pytest.mark.parametrize(
    "words",
    [
        "The access token is invalid",
        "The access token was revoked",
        "The access token expired",
        "This action is outside the authorized scopes",
        "invalid_token",
        "token_revoked",
        "ExpiredToken: Token has expired",
        "InvalidToken",
        "insufficient_scope",
    ],
)
@pytest.mark.parametrize("status", [400, 403])
def test_a_400_or_403_that_says_the_token_is_dead_asks_for_reconnection(status: int, words: str) -> None:
    assert says_credentials_refused(words)
    error = refusal(json_answer(status, {"error": words}), what="server", write=True)
    assert isinstance(error, AuthExpired)
    assert words in str(error)


@pytest.mark.parametrize(
    "words",
    [
        "This action is not allowed",
        "Your login is currently disabled",
        "Validation failed: Text character limit of 500 exceeded",
        "posting_to_general_channel_denied",
        "Invalid Form Body",
    ],
)
def test_a_403_about_the_request_is_a_refusal_not_a_dead_token(words: str) -> None:
    assert not says_credentials_refused(words)
    assert isinstance(refusal(json_answer(403, {"error": words}), what="server", write=True), Rejected)


def test_the_adapters_own_reading_of_dead_credentials_is_taken() -> None:
    error = refusal(answer(404, "no_service"), what="Slack", write=True, credentials_refused=True)
    assert isinstance(error, AuthExpired)


def test_a_429_says_when_to_come_back_from_the_adapters_reading_or_retry_after() -> None:
    reset = datetime(2030, 1, 1, tzinfo=UTC)
    assert refusal(answer(429), what="s", write=True, reset_at=reset).reset_at == reset  # type: ignore[attr-defined]
    limited = refusal(answer(429, **{"Retry-After": "30"}), what="s", write=True)
    assert isinstance(limited, RateLimited)
    assert limited.reset_at is not None
    assert abs(limited.reset_at - (datetime.now(UTC) + timedelta(seconds=30))) < timedelta(seconds=2)


def test_a_redirect_names_where_it_points_and_is_not_followed() -> None:
    error = refusal(answer(301, Location="https://new.example/api"), what="s", write=True)
    assert isinstance(error, Rejected)
    assert "a redirect to https://new.example/api" in str(error)


def test_a_json_error_gives_the_networks_own_field() -> None:
    response = json_answer(422, {"error": "Validation failed", "error_description": "Text is too long"})
    assert network_words(response) == "Text is too long"
    assert network_words(response, fields=("error",)) == "Validation failed"


def test_a_proxys_html_page_is_read_as_its_words() -> None:
    assert network_words(answer(502, NGINX_502, "text/html")) == "502 Bad Gateway nginx"
    words = network_words(answer(524, CLOUDFLARE_524, "text/html; charset=UTF-8"))
    assert words.startswith("example.social | 524: A timeout occurred A timeout occurred The origin")
    assert "color" not in words
    assert "var x" not in words


def test_a_plain_text_body_is_kept_on_one_line() -> None:
    assert network_words(answer(503, "Service\r\nUnavailable\r\n")) == "Service Unavailable"


def test_an_empty_body_falls_back_to_the_reason_phrase() -> None:
    assert network_words(answer(503, "")) == "Service Unavailable"


def test_words_are_trimmed_and_stripped_of_control_characters_and_secrets() -> None:
    body = "token s3cr3t rejected\x00\x1b[31m " + "x" * 1000
    words = network_words(answer(400, body), secrets=["s3cr3t"])
    assert "s3cr3t" not in words
    assert "[redacted]" in words
    assert "\x00" not in words
    assert "\x1b" not in words
    assert len(words) == WORDS_LIMIT
    assert words.endswith("…")


def test_bidirectional_overrides_are_removed_so_words_cannot_disguise_themselves() -> None:
    assert sanitized("safe\u202etxt.exe") == "safe txt.exe"


@pytest.mark.parametrize(("write", "kind"), [(True, OutcomeUnknown), (False, Transient)])
def test_a_success_that_cannot_be_read_may_still_have_made_the_post(
    write: bool, kind: type[Exception]
) -> None:
    with pytest.raises(kind, match="answered 200 with something other than JSON"):
        answer_object(answer(200, NGINX_502, "text/html"), what="s", write=write)
    with pytest.raises(kind, match="JSON that is not an object"):
        answer_object(json_answer(200, [1, 2]), what="s", write=write)
    assert answer_object(json_answer(200, {"id": "1"}), what="s", write=write) == {"id": "1"}


def test_a_thread_whose_reply_cannot_be_kept_is_unknown_from_that_reply_on():
    root = PublishedPart("1", "https://mastodon.example/@a/1")
    bad = PublishedPart("2", "javascript:alert(1)")
    post = PublishedPost.of([root, bad, PublishedPart("3", "https://mastodon.example/@a/3")])

    with pytest.raises(OutcomeUnknown) as raised:
        storable_post(post, what="mastodon.example", write=True)

    assert raised.value.published == (root,)
    assert "javascript:alert(1)" in str(raised.value)
    with pytest.raises(Transient):
        storable_post(post, what="mastodon.example", write=False)
    assert storable_post(PublishedPost.of([root]), what="mastodon.example", write=True).url == root.url


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("news:crier.0a1b.0@crier.test", True),
        ("NEWS:crier.0a1b.0@crier.test", True),
        ("news:comp.lang.python", False),  # a whole group, not an article
        ("news:<crier.0a1b.0@crier.test>", False),  # RFC 5538 writes the Message-ID without its brackets
        ("news://evil.example/<x@y>", False),
        ("javascript:alert(1)", False),
    ],
)
def test_a_usenet_article_is_kept_by_its_news_uri_and_nothing_else_like_it(url: str, kept: bool):
    post = PublishedPost.of([PublishedPart("<crier.0a1b.0@crier.test>", url)])

    if kept:
        assert storable_post(post, what="news", write=True).url == url
    else:
        with pytest.raises(OutcomeUnknown):
            storable_post(post, what="news", write=True)
