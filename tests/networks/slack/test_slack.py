"""The Slack adapter against a fake of Slack's incoming webhooks, over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    MediaItem,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.slack.adapter import SlackNetwork
from shared.networks.slack.webhooks import parse_webhook_url
from tests.networks.fake_servers import serving
from tests.networks.on_this_machine import outbound_here
from tests.networks.raw_servers import free_port
from tests.networks.slack.fake import FakeSlack

QUICK = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)
HERE = outbound_here()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with serving(FakeSlack()) as fake:
        yield fake


@pytest.fixture
def network(slack: FakeSlack) -> SlackNetwork:
    return SlackNetwork(HERE, timeout=QUICK, hooks_base=slack.base_url)


def account_for(webhook_url: str, **settings: object) -> Account:
    return Account(
        channel_id="c1", handle="#general", settings=settings, credentials={"webhook_url": webhook_url}
    )


def assert_keeps_secret(error: BaseException, webhook_url: str) -> None:
    assert webhook_url.rstrip("/").split("/")[-1] not in str(error)
    assert error.__cause__ is None


def test_a_post_becomes_a_message_named_by_its_idempotency_key(slack, network):
    url = slack.add_webhook("#news")

    published = network.publish(account_for(url), Draft(text="Hello, Slack"), "key-1")

    assert slack.posted == [{"channel": "#news", "text": "Hello, Slack"}]
    # Slack answers "ok" and nothing else: no id, no link.
    assert (published.external_id, published.url) == ("key-1", "")


def test_control_characters_are_escaped_so_the_text_shows_as_written(slack, network):
    url = slack.add_webhook()

    network.publish(account_for(url), Draft(text="<!channel> Q&A at 5 > 4"), "key-1")

    assert slack.posted[0]["text"] == "&lt;!channel&gt; Q&amp;A at 5 &gt; 4"


def test_a_channel_may_send_slack_markup_as_it_is(slack, network):
    url = slack.add_webhook()

    network.publish(account_for(url, slack_markup=True), Draft(text="<https://x.example|docs>"), "key-1")

    assert slack.posted[0]["text"] == "<https://x.example|docs>"


def test_a_revoked_webhook_asks_for_the_channel_to_be_reconnected(slack, network):
    url = slack.add_webhook()
    slack.revoke(url)

    with pytest.raises(AuthExpired, match="no_service") as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, url)


def test_an_archived_channel_asks_for_the_channel_to_be_reconnected(slack, network):
    url = slack.add_webhook()
    slack.archive(url)

    with pytest.raises(AuthExpired, match="channel_is_archived"):
        network.publish(account_for(url), Draft(text="Hello"), "key-1")


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_payload", Rejected),
        (400, "no_text", Rejected),
        (400, "too_many_attachments", Rejected),
        (403, "action_prohibited", Rejected),
        (403, "posting_to_general_channel_denied", Rejected),
        (403, "invalid_token", AuthExpired),
        (404, "channel_not_found", AuthExpired),
        (404, "no_team", AuthExpired),
        (408, "request timeout", Transient),
        (500, "rollup_error", OutcomeUnknown),
        (503, "service unavailable", OutcomeUnknown),
        (504, "gateway timeout", OutcomeUnknown),
    ],
)
def test_each_answer_maps_to_what_it_means_for_the_delivery(slack, network, status, code, error):
    url = slack.add_webhook()
    slack.switches.fail_status, slack.switches.fail_body, slack.switches.fail_times = status, code, 1

    with pytest.raises(error, match=code) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert slack.posted == []
    assert_keeps_secret(raised.value, url)


def test_a_rate_limit_says_when_to_come_back(slack, network):
    url = slack.add_webhook()
    slack.switches.rate_limited = 1

    with pytest.raises(RateLimited) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert raised.value.reset_at is not None
    assert abs(raised.value.reset_at - (datetime.now(UTC) + timedelta(seconds=30))) < timedelta(seconds=2)
    assert slack.posted == []


def test_a_message_posted_before_the_answer_stalled_leaves_the_outcome_unknown(slack, network):
    url = slack.add_webhook()
    slack.switches.stall_after_storing = True

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert len(slack.posted) == 1
    assert_keeps_secret(raised.value, url)


def test_a_refused_connection_sent_nothing(slack):
    network = SlackNetwork(HERE, timeout=QUICK, hooks_base=f"http://127.0.0.1:{free_port()}")
    url = slack.add_webhook()

    with pytest.raises(Transient, match="nothing was sent") as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, url)


def test_the_webhook_key_stays_out_of_the_http_clients_request_log(slack, network, caplog):
    url = slack.add_webhook()

    with caplog.at_level(logging.INFO, logger="httpx"):
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    logged = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert logged
    assert not [line for line in logged if url.split("/")[-1] in line]


def test_threads_and_media_are_problems_and_are_never_sent(slack, network):
    url = slack.add_webhook()
    draft = Draft(text="Hello", thread=("more",), media=(MediaItem(content_type="image/png", data=b"png"),))

    problems = network.validate(draft)
    with pytest.raises(Rejected):
        network.publish(account_for(url), draft, "key-1")

    assert any("thread" in problem for problem in problems)
    assert any("media" in problem for problem in problems)
    assert slack.posted == []


def test_the_limit_counts_the_text_as_sent_in_utf16_units(network):
    account = account_for("https://hooks.slack.com/services/T1/B1/abc")

    [fits] = network.preview(account, Draft(text="a" * 39_998 + "👍"))
    [over] = network.preview(account, Draft(text="&" * 8_001))

    assert (fits.length, fits.limit, fits.problems) == (40_000, 40_000, ())
    assert over.text.startswith("&amp;")
    assert over.length == 40_005
    assert "Slack allows 40000" in over.problems[0]


def test_an_empty_text_is_a_problem(network):
    assert network.validate(Draft(text=" ")) == ["the text is empty"]


def test_verify_checks_the_url_without_posting(slack, network):
    url = slack.add_webhook()

    profile = network.verify(account_for(url))

    assert profile.handle == "#general"
    assert slack.posted == []


def test_verify_refuses_a_malformed_url_without_echoing_it(network):
    url = "https://hooks.slack.com.evil.example/services/T1/B1/secretkey"

    with pytest.raises(AuthExpired) as raised:
        network.verify(account_for(url))

    assert_keeps_secret(raised.value, url)


@pytest.mark.parametrize(
    ("url", "good"),
    [
        ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", True),
        ("https://hooks.slack-gov.com/services/T00000000/B00000000/XXXXXXXX", True),
        ("http://hooks.slack.com/services/T00000000/B00000000/XXXXXXXX", False),
        ("https://hooks.slack.com/workflows/T00000000/A00000000/123/abc", False),
        ("https://example.com/services/T00000000/B00000000/XXXXXXXX", False),
        (None, False),
    ],
)
def test_only_slack_incoming_webhook_urls_are_accepted(network, url, good):
    assert (network.check_credentials({"webhook_url": url}) == []) is good


def test_a_webhooks_repr_hides_its_key():
    webhook = parse_webhook_url("https://hooks.slack.com/services/T1/B1/secretkey")

    assert webhook is not None
    assert "secretkey" not in repr(webhook)


def test_channel_settings_are_checked(network):
    assert network.check_settings({"slack_markup": "yes", "colour": "red"}) == [
        "unknown option 'colour'",
        "slack_markup must be true or false",
    ]


def test_slack_cannot_find_delete_or_count(network):
    account = account_for("https://hooks.slack.com/services/T1/B1/abc")

    assert network.info.can_find_published is False
    assert network.info.metrics == ()
    with pytest.raises(NetworkError):
        network.find_published(account, "key-1")
    with pytest.raises(Rejected, match="cannot delete"):
        network.delete(account, "key-1")
    assert network.fetch_engagement(account, ["key-1"]) == {}
