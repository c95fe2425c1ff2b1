"""The generic webhook adapter against a receiver that checks signatures, over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint

import httpx
import pytest

from shared.config import Settings
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    MediaItem,
    Network,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
)
from shared.networks.post_receiver.adapter import PostReceiverNetwork
from shared.networks.registry import ENTRY_POINT_GROUP
from shared.networks.toolkit.answers import retry_at
from shared.networks.toolkit.calls import transport_failure
from tests.networks.fake_servers import serving
from tests.networks.on_this_machine import outbound_here
from tests.networks.post_receiver.fake import FakePostReceiver
from tests.networks.raw_servers import free_port, hanging_up, raw_server

SECRET = "s3cret-Of-This-Channel-0123456789"
QUICK = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)
HERE = outbound_here()


@pytest.fixture
def receiver() -> Iterator[FakePostReceiver]:
    with serving(FakePostReceiver(secret=SECRET)) as fake:
        yield fake


@pytest.fixture
def network() -> PostReceiverNetwork:
    return PostReceiverNetwork(HERE, timeout=QUICK)


def account_for(url: str, secret: str = SECRET, **settings: object) -> Account:
    return Account(
        channel_id="c1",
        handle="hooks",
        settings={"url": url, **settings},
        credentials={"secret": secret},
    )


def assert_keeps_secret(error: BaseException) -> None:
    assert SECRET not in str(error)
    assert error.__cause__ is None


def test_a_post_is_signed_with_the_channels_secret_over_the_exact_body(receiver, network):
    network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")

    [request] = receiver.received
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Crier-Signature"] == f"sha256={expected}"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert request.headers["Content-Type"] == "application/json"


def test_the_timestamp_header_is_the_signed_created_at_in_unix_seconds(receiver, network):
    before = int(time.time())
    network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")
    after = int(time.time())

    [request] = receiver.received
    stamped = int(request.headers["X-Crier-Timestamp"])
    assert before <= stamped <= after
    assert int(datetime.fromisoformat(request.json["created_at"]).timestamp()) == stamped


def test_the_body_carries_the_key_the_thread_the_options_and_media_as_metadata_only(receiver, network):
    image = MediaItem(content_type="image/png", data=b"\x89PNG-bytes", alt_text="A cat")
    draft = Draft(text="Hello", thread=("two", "three"), media=(image,), options={"lang": "en"})

    network.publish(account_for(receiver.url), draft, "key-1")

    body = receiver.received[0].json
    assert body["id"] == "key-1"
    assert body["text"] == "Hello"
    assert body["thread"] == ["two", "three"]
    assert body["options"] == {"lang": "en"}
    assert body["media"] == [
        {
            "content_type": "image/png",
            "bytes": len(image.data),
            "sha256": hashlib.sha256(image.data).hexdigest(),
            "alt_text": "A cat",
        }
    ]
    created_at = datetime.fromisoformat(body["created_at"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(seconds=5)


def test_the_receivers_id_and_url_name_the_post(receiver, network):
    published = network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")

    assert published.external_id == "r-1"
    assert published.url == "https://receiver.example/p/1"


def test_without_an_id_in_the_answer_the_idempotency_key_names_the_post(receiver, network):
    receiver.answer_status, receiver.answer_body = 202, "accepted"

    published = network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")

    assert (published.external_id, published.url) == ("key-1", "")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (301, Rejected),
        (400, Rejected),
        (403, Rejected),
        (404, Rejected),
        (422, Rejected),
        (401, AuthExpired),
        (408, Transient),
        (500, OutcomeUnknown),
        (502, OutcomeUnknown),
        (503, OutcomeUnknown),
        (504, OutcomeUnknown),
        (524, OutcomeUnknown),
    ],
)
def test_each_answer_maps_to_what_it_means_for_the_delivery(receiver, network, status, error):
    receiver.answer_status, receiver.answer_body = status, f"no: {SECRET}"

    with pytest.raises(error) as raised:
        network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value)
    assert f"receiver answered {status}: no: [redacted]" in str(raised.value)


def test_a_rate_limit_says_when_to_come_back(receiver, network):
    receiver.switches.rate_limited = 1

    with pytest.raises(RateLimited) as raised:
        network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")

    assert raised.value.reset_at is not None
    assert abs(raised.value.reset_at - (datetime.now(UTC) + timedelta(seconds=7))) < timedelta(seconds=2)
    assert receiver.received == []


def test_a_secret_the_receiver_no_longer_accepts_asks_for_reconnecting(receiver, network):
    other_secret = "a-different-secret-0123456789"

    with pytest.raises(AuthExpired) as raised:
        network.publish(account_for(receiver.url, secret=other_secret), Draft(text="Hello"), "key-1")

    assert other_secret not in str(raised.value)
    assert receiver.received == []


def test_a_refused_connection_sent_nothing_and_may_be_retried(network):
    with pytest.raises(Transient) as raised:
        network.publish(account_for(f"http://127.0.0.1:{free_port()}/hook"), Draft(text="Hello"), "key-1")

    assert "nothing was sent" in str(raised.value)
    assert_keeps_secret(raised.value)


def test_a_receiver_that_took_the_post_and_stalled_leaves_the_outcome_unknown(receiver, network, caplog):
    receiver.switches.stall_after_storing = True

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(receiver.url), Draft(text="Hello"), "key-1")

    assert len(receiver.received) == 1  # it did arrive: retrying would have posted it twice
    assert "may have gone through" in str(raised.value)
    assert "ReadTimeout" in caplog.text  # what happened is for the operator's log, not the channel's error
    assert_keeps_secret(raised.value)


def test_a_receiver_that_hangs_up_without_answering_leaves_the_outcome_unknown(network, caplog):
    with raw_server(hanging_up) as server, pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(f"http://127.0.0.1:{server.port}/hook"), Draft(text="Hello"), "key-1")

    assert "may have gone through" in str(raised.value)
    assert "RemoteProtocolError" in caplog.text
    assert b'"text":"Hello"' in server.requests[0]


REQUEST = httpx.Request("POST", "https://example.invalid/hook")


@pytest.mark.parametrize(
    ("failure", "meaning"),
    [
        (httpx.ConnectError("refused", request=REQUEST), Transient),
        (httpx.ConnectTimeout("slow", request=REQUEST), Transient),
        (httpx.PoolTimeout("busy", request=REQUEST), Transient),
        (httpx.ReadTimeout("quiet", request=REQUEST), OutcomeUnknown),
        (httpx.WriteTimeout("stuck", request=REQUEST), OutcomeUnknown),
        (httpx.WriteError("broken pipe", request=REQUEST), OutcomeUnknown),
        (httpx.ReadError("reset", request=REQUEST), OutcomeUnknown),
        (httpx.RemoteProtocolError("hung up", request=REQUEST), OutcomeUnknown),
    ],
)
def test_transport_failures_are_sorted_into_not_sent_and_may_have_been_sent(failure, meaning):
    assert type(transport_failure(failure, what="Test")) is meaning


def test_a_failed_read_is_never_uncertain_because_a_read_changes_nothing():
    failure = httpx.ReadTimeout("quiet", request=REQUEST)

    assert isinstance(transport_failure(failure, what="Test", sent_a_write=False), Transient)


def test_secrets_are_redacted_from_transport_failures():
    failure = httpx.ConnectError(f"cannot reach https://x/{SECRET}", request=REQUEST)

    assert SECRET not in str(transport_failure(failure, what="Test", secrets=[SECRET]))


def test_retry_after_may_be_an_http_date():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    headers = httpx.Headers({"Retry-After": "Thu, 26 Nov 2026 12:00:30 GMT"})

    assert retry_at(headers, now) == now + timedelta(seconds=30)
    assert retry_at(httpx.Headers({"Retry-After": "12"}), now) == now + timedelta(seconds=12)
    assert retry_at(httpx.Headers({"Retry-After": "soon"}), now) is None


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "url is required"),
        ({"url": "ftp://example.com/hook"}, "https URL"),
        ({"url": "http://example.com/hook"}, "must use https"),
        ({"url": "http://localhost:9/hook"}, "on this machine or a private network"),
        ({"url": "http://[::1]:8080/hook"}, "on this machine or a private network"),
        ({"url": "https://10.1.2.3/hook"}, "on this machine or a private network"),
        ({"url": "https://user:pw@example.com/hook"}, "user name or password"),
        ({"url": "https://example.com/hook", "max_length": 0}, "max_length"),
        ({"url": "https://example.com/hook", "colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_channel_settings_are_checked(network, settings, problem):
    assert any(problem in found for found in network.check_settings(settings))


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "https://example.com/hook"},
        {"url": "http://127.0.0.1:8080/hook"},
        {"url": "http://127.0.0.1:8080/hook", "allow_insecure_loopback": True},
        {"url": "https://example.com/hook", "max_length": 280},
    ],
)
def test_good_channel_settings_pass(network, settings):
    assert network.check_settings(settings) == []


def test_there_is_no_limit_unless_the_channel_sets_one(network):
    draft = Draft(text="x" * 100_000)

    assert network.validate(draft) == []
    [preview] = network.preview(account_for("https://example.com/hook"), draft)
    assert (preview.length, preview.limit, preview.problems) == (100_000, None, ())


def test_a_channels_max_length_counts_code_points(network):
    account = account_for("https://example.com/hook", max_length=5)

    within, over = network.preview(account, Draft(text="héllo", thread=("héllo!",)))

    assert (within.length, within.problems) == (5, ())
    assert over.length == 6
    assert "at most 5" in over.problems[0]


def test_a_post_over_the_channels_max_length_is_refused_without_sending(receiver, network):
    with pytest.raises(Rejected, match="at most 3"):
        network.publish(account_for(receiver.url, max_length=3), Draft(text="Hello"), "key-1")

    assert receiver.received == []


def test_an_empty_text_is_a_problem(network):
    assert network.validate(Draft(text="  ")) == ["the text is empty"]


def test_the_webhook_cannot_find_posts_so_it_never_says_one_is_missing(network):
    assert network.info.can_find_published is False
    with pytest.raises(NetworkError):
        network.find_published(account_for("https://example.com/hook"), "key-1")


def test_delete_is_not_offered(network):
    with pytest.raises(Rejected, match="no delete"):
        network.delete(account_for("https://example.com/hook"), "r-1")


def test_verify_checks_the_secret_and_url_without_calling(network):
    profile = network.verify(account_for("https://hooks.example.com/crier"))

    assert (profile.handle, profile.display_name) == ("hooks", "hooks.example.com")
    with pytest.raises(AuthExpired):
        network.verify(account_for("https://hooks.example.com/crier", secret="short"))


def test_a_request_body_is_exactly_what_was_signed_even_with_non_ascii_text(receiver, network):
    network.publish(account_for(receiver.url), Draft(text="Grüße 👋"), "key-1")

    [request] = receiver.received
    assert json.loads(request.body)["text"] == "Grüße 👋"


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("discord", "shared.networks.discord.adapter:DiscordNetwork.from_settings"),
        ("slack", "shared.networks.slack.adapter:SlackNetwork.from_settings"),
        ("webhook", "shared.networks.post_receiver.adapter:PostReceiverNetwork.from_settings"),
    ],
)
def test_each_adapter_loads_from_its_entry_point_and_satisfies_the_port(name, target, tmp_path):
    entry = EntryPoint(name=name, value=target, group=ENTRY_POINT_GROUP)

    adapter = entry.load()(Settings(data_dir=tmp_path))

    assert isinstance(adapter, Network)
    assert adapter.info.name == name
    assert adapter.info.can_find_published is False
