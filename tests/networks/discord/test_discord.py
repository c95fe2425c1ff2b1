"""The Discord adapter against a fake of Discord's webhook endpoints, over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.networks.discord.adapter import DiscordNetwork
from shared.networks.discord.webhooks import parse_webhook_url
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    MediaItem,
    NetworkError,
    OutcomeUnknown,
    PostGone,
    RateLimited,
    Rejected,
    Transient,
)
from tests.networks.discord.fake import FakeDiscord
from tests.networks.fake_servers import serving
from tests.networks.on_this_machine import outbound_here
from tests.networks.raw_servers import free_port

QUICK = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)
HERE = outbound_here()


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with serving(FakeDiscord()) as fake:
        yield fake


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def network(discord: FakeDiscord, pauses: list[float]) -> DiscordNetwork:
    return DiscordNetwork(HERE, timeout=QUICK, api_base=discord.api_base, sleep=pauses.append)


def account_for(webhook_url: str, **settings: object) -> Account:
    return Account(
        channel_id="c1", handle="news", settings=settings, credentials={"webhook_url": webhook_url}
    )


def assert_keeps_secret(error: BaseException, webhook_url: str) -> None:
    token = webhook_url.rstrip("/").split("/")[-1]
    assert token not in str(error)
    assert webhook_url not in str(error)
    assert error.__cause__ is None


def test_a_post_becomes_a_message_with_its_id_and_link(discord, network):
    url = discord.add_webhook()

    published = network.publish(account_for(url), Draft(text="Hello, Discord"), "key-1")

    [message] = discord.messages.values()
    webhook = next(iter(discord.webhooks.values()))
    assert message["content"] == "Hello, Discord"
    assert published.external_id == message["id"]
    assert (
        published.url
        == f"https://discord.com/channels/{webhook['guild_id']}/{webhook['channel_id']}/{message['id']}"
    )
    assert discord.executions[0]["args"]["wait"] == "true"


def test_mentions_are_not_parsed_unless_the_channel_allows_them(discord, network):
    url = discord.add_webhook()

    network.publish(account_for(url), Draft(text="@everyone look"), "key-1")
    network.publish(account_for(url, allow_mentions=True), Draft(text="@everyone look"), "key-2")

    first, second = (execution["payload"] for execution in discord.executions)
    assert first["allowed_mentions"] == {"parse": []}
    assert "allowed_mentions" not in second


def test_thread_items_follow_as_further_messages_in_order(discord, network):
    url = discord.add_webhook()

    published = network.publish(account_for(url), Draft(text="one", thread=("two", "three")), "key-1")

    assert [message["content"] for message in discord.messages.values()] == ["one", "two", "three"]
    assert published.thread_ids == tuple(list(discord.messages)[1:])


def test_thread_items_wait_for_the_bucket_when_discord_says_it_is_empty(discord, network, pauses):
    discord.switches.bucket, discord.switches.bucket_reset_after = 2, 0.25
    url = discord.add_webhook()

    network.publish(account_for(url), Draft(text="one", thread=("two", "three", "four", "five")), "key-1")

    # The bucket empties after the second and the fourth message.
    assert pauses == [0.25, 0.25]
    assert len(discord.messages) == 5


def test_a_short_rate_limit_between_thread_items_is_waited_out_and_nothing_repeats(discord, network, pauses):
    url = discord.add_webhook()
    network.publish(account_for(url), Draft(text="warm up"), "key-0")
    discord.messages.clear()

    # The first message goes out, then the 429 answers the second (nothing posted), which is sent again.
    original = discord.app.view_functions["execute"]
    calls = {"n": 0}

    def limit_the_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            discord.switches.rate_limited = 1
        return original(*args, **kwargs)

    discord.app.view_functions["execute"] = limit_the_second
    published = network.publish(account_for(url), Draft(text="one", thread=("two",)), "key-1")

    assert [message["content"] for message in discord.messages.values()] == ["one", "two"]
    assert len(published.thread_ids) == 1
    assert pauses
    assert 0 < pauses[-1] <= 0.25


def test_a_failure_after_the_first_message_passes_on_what_was_sent_and_a_retry_finishes(discord, network):
    url = discord.add_webhook()
    original = discord.app.view_functions["execute"]
    calls = {"n": 0}

    def fail_the_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            discord.switches.fail_status, discord.switches.fail_times = 500, 1
        return original(*args, **kwargs)

    discord.app.view_functions["execute"] = fail_the_second

    draft = Draft(text="one", thread=("two", "three"))
    with pytest.raises(OutcomeUnknown, match="answered 500") as raised:
        network.publish(account_for(url), draft, "key-1")

    assert [message["content"] for message in discord.messages.values()] == ["one"]
    [first] = discord.messages
    assert [part.external_id for part in raised.value.published] == [first]
    assert_keeps_secret(raised.value, url)
    # Given what is out there, a later attempt sends only the rest, each after the one before.
    finished = network.publish(account_for(url), draft, "key-1", published=raised.value.published)
    assert [message["content"] for message in discord.messages.values()] == ["one", "two", "three"]
    assert finished.parts[0] == raised.value.published[0]


def test_a_forum_post_opens_a_thread_and_its_items_go_inside(discord, network):
    url = discord.add_webhook(forum=True)
    draft = Draft(text="Release notes\nmore", thread=("details",), options={"thread_name": "v2.0"})

    published = network.publish(account_for(url, forum=True), draft, "key-1")

    first, second = discord.messages.values()
    assert discord.executions[0]["payload"]["thread_name"] == "v2.0"
    assert first["channel_id"] == second["channel_id"] != discord.webhooks[url.split("/")[-2]]["channel_id"]
    assert published.external_id == f"{first['channel_id']}/{first['id']}"
    assert published.thread_ids == (f"{second['channel_id']}/{second['id']}",)


def test_a_forum_thread_is_named_after_the_first_line_by_default(discord, network):
    url = discord.add_webhook(forum=True)

    network.publish(account_for(url, forum=True), Draft(text="Release notes\nmore"), "key-1")

    assert discord.executions[0]["payload"]["thread_name"] == "Release notes"


def test_a_post_goes_into_the_channels_thread(discord, network):
    url = discord.add_webhook()
    thread_id = discord.add_thread(url)

    published = network.publish(account_for(url, thread_id=thread_id), Draft(text="in the thread"), "key-1")

    [message] = discord.messages.values()
    assert message["channel_id"] == thread_id
    assert published.external_id == f"{thread_id}/{message['id']}"


def test_a_thread_that_no_longer_exists_is_a_refusal(discord, network):
    url = discord.add_webhook()

    with pytest.raises(Rejected, match="10003") as raised:
        network.publish(account_for(url, thread_id="123456789"), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, url)


def test_a_rate_limit_says_when_discord_resets_from_the_bodys_retry_after(discord, network):
    url = discord.add_webhook()
    network.verify(account_for(url))
    discord.switches.rate_limited = 1

    with pytest.raises(RateLimited) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert raised.value.reset_at is not None
    # The body's retry_after (0.2 s) is more precise than the Retry-After header's whole seconds.
    assert raised.value.reset_at - datetime.now(UTC) < timedelta(seconds=0.5)
    assert "shared" in str(raised.value)
    assert discord.messages == {}
    assert_keeps_secret(raised.value, url)


def test_a_deleted_webhook_asks_for_the_channel_to_be_reconnected(discord, network):
    url = discord.add_webhook()
    network.publish(account_for(url), Draft(text="first"), "key-1")
    discord.delete_webhook(url)

    with pytest.raises(AuthExpired, match="10015") as raised:
        network.publish(account_for(url), Draft(text="second"), "key-2")

    assert_keeps_secret(raised.value, url)


def test_a_reset_token_asks_for_the_channel_to_be_reconnected(discord, network):
    url = discord.add_webhook()
    wrong = url.rsplit("/", 1)[0] + "/not-the-token"

    with pytest.raises(AuthExpired, match="50027") as raised:
        network.publish(account_for(wrong), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, wrong)


def test_a_malformed_webhook_url_is_refused_without_echoing_it(network):
    url = "https://evil.example/api/webhooks/1/secret-token-value"

    with pytest.raises(AuthExpired) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, url)


def test_discords_refusal_carries_its_code_and_reason(discord, network):
    url = discord.add_webhook()
    network.verify(account_for(url))
    discord.switches.fail_status, discord.switches.fail_times = 400, 1

    with pytest.raises(Rejected, match="Discord answered 400: code 0") as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, url)


@pytest.mark.parametrize(
    ("status", "error"),
    [(408, Transient), (500, OutcomeUnknown), (502, OutcomeUnknown), (504, OutcomeUnknown)],
)
def test_discords_failures_map_to_retry_or_uncertainty(discord, network, status, error):
    url = discord.add_webhook()
    network.verify(account_for(url))
    discord.switches.fail_status, discord.switches.fail_times = status, 1

    with pytest.raises(error) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert discord.messages == {}
    assert_keeps_secret(raised.value, url)


def test_a_message_stored_before_the_answer_stalled_leaves_the_outcome_unknown(discord, network):
    url = discord.add_webhook()
    network.verify(account_for(url))
    discord.switches.stall_after_storing = True

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert len(discord.messages) == 1
    assert_keeps_secret(raised.value, url)


def test_a_refused_connection_sent_nothing(discord, pauses):
    network = DiscordNetwork(HERE, timeout=QUICK, api_base=f"http://127.0.0.1:{free_port()}/api/v10")
    url = discord.add_webhook()

    with pytest.raises(Transient, match="nothing was sent") as raised:
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    assert_keeps_secret(raised.value, url)


def test_a_published_message_can_be_deleted_once(discord, network):
    url = discord.add_webhook()
    published = network.publish(account_for(url), Draft(text="Hello"), "key-1")

    network.delete(account_for(url), published.external_id)

    assert discord.messages == {}
    with pytest.raises(PostGone, match="10008"):
        network.delete(account_for(url), published.external_id)


def test_a_message_in_a_thread_is_deleted_in_its_thread(discord, network):
    url = discord.add_webhook(forum=True)
    published = network.publish(account_for(url, forum=True), Draft(text="Hello"), "key-1")

    network.delete(account_for(url, forum=True), published.external_id)

    assert discord.messages == {}


def test_delete_refuses_an_id_it_did_not_make(discord, network):
    with pytest.raises(Rejected):
        network.delete(account_for(discord.add_webhook()), "not-a-message")


def test_verify_names_the_webhook_and_its_channel(discord, network):
    url = discord.add_webhook(name="Announcements")
    webhook = discord.webhooks[url.split("/")[-2]]

    profile = network.verify(account_for(url))

    assert profile.handle == "Announcements"
    assert profile.url == f"https://discord.com/channels/{webhook['guild_id']}/{webhook['channel_id']}"


def test_verify_of_a_deleted_webhook_asks_for_reconnecting(discord, network):
    url = discord.add_webhook()
    discord.delete_webhook(url)

    with pytest.raises(AuthExpired) as raised:
        network.verify(account_for(url))

    assert_keeps_secret(raised.value, url)


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/123456789012345678/abcDEF_-123",
        "https://discordapp.com/api/webhooks/123456789012345678/abcDEF_-123",
        "https://ptb.discord.com/api/v10/webhooks/123456789012345678/abcDEF_-123/",
    ],
)
def test_discord_webhook_urls_are_recognised(network, url):
    assert network.check_credentials({"webhook_url": url}) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://discord.com/api/webhooks/123456789012345678/abc",
        "https://discord.com.evil.example/api/webhooks/123456789012345678/abc",
        "https://discord.com/api/webhooks/not-an-id/abc",
        "https://discord.com/api/webhooks/123456789012345678/abc?wait=false",
        None,
    ],
)
def test_other_urls_are_not_discord_webhooks(network, url):
    assert network.check_credentials({"webhook_url": url}) != []


def test_the_webhook_token_stays_out_of_the_http_clients_request_log(discord, network, caplog):
    url = discord.add_webhook()
    token = url.split("/")[-1]

    with caplog.at_level(logging.INFO, logger="httpx"):
        network.publish(account_for(url), Draft(text="Hello"), "key-1")

    logged = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert logged
    assert not [line for line in logged if token in line]


def test_a_webhooks_repr_hides_its_token():
    webhook = parse_webhook_url("https://discord.com/api/webhooks/123/secret-token")

    assert webhook is not None
    assert "secret-token" not in repr(webhook)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"thread_id": 123}, "thread_id"),
        ({"forum": "yes"}, "forum must be true or false"),
        ({"forum": True, "thread_id": "123"}, "exclude each other"),
        ({"username": "x" * 81}, "username"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_channel_settings_are_checked(network, settings, problem):
    assert any(problem in found for found in network.check_settings(settings))


def test_the_limit_is_2000_code_points_for_the_post_and_each_thread_item(network):
    account = account_for("https://discord.com/api/webhooks/1/t")
    draft = Draft(text="👍" * 2000, thread=("x" * 2001,))

    post, item = network.preview(account, draft)

    assert (post.length, post.limit, post.problems) == (2000, 2000, ())
    assert item.length == 2001
    assert network.validate(draft) == ["thread item 1 is 2001 characters long; Discord allows 2000"]


def test_media_and_empty_texts_are_problems(network):
    image = MediaItem(content_type="image/png", data=b"png")

    problems = network.validate(Draft(text=" ", media=(image,)))

    assert "the text is empty" in problems
    assert any("text only" in problem for problem in problems)


def test_a_draft_with_problems_is_refused_without_calling_discord(discord, network):
    url = discord.add_webhook()

    with pytest.raises(Rejected, match="2000"):
        network.publish(account_for(url), Draft(text="x" * 2001), "key-1")

    assert discord.executions == []


def test_discord_cannot_find_posts_so_it_never_says_one_is_missing(network):
    assert network.info.can_find_published is False
    with pytest.raises(NetworkError):
        network.find_published(account_for("https://discord.com/api/webhooks/1/t"), "key-1")


def test_reactions_on_a_sent_message_are_read_back_as_likes(discord, network):
    url = discord.add_webhook()
    published = network.publish(account_for(url), Draft(text="React to this"), "key-1")
    # What Discord's message object carries once people react (the Reaction object: count, emoji).
    discord.messages[published.external_id]["reactions"] = [
        {"count": 3, "emoji": {"id": None, "name": "👍"}},
        {"count": 2, "emoji": {"id": None, "name": "🎉"}},
    ]

    readings = network.fetch_engagement(account_for(url), [published.external_id])

    assert network.info.metrics == ("likes",)
    reading = readings[published.external_id]
    assert isinstance(reading, Engagement)
    assert (reading.likes, reading.reposts, reading.replies) == (5, None, None)


def test_a_message_without_reactions_has_none_and_a_deleted_one_is_gone(discord, network):
    url = discord.add_webhook()
    kept = network.publish(account_for(url), Draft(text="Quiet"), "key-1")
    removed = network.publish(account_for(url), Draft(text="Removed"), "key-2")
    network.delete(account_for(url), removed.external_id)

    readings = network.fetch_engagement(account_for(url), [kept.external_id, removed.external_id])

    assert readings[kept.external_id] == Engagement(likes=0, raw={"reactions": []})
    assert isinstance(readings[removed.external_id], PostGone)
