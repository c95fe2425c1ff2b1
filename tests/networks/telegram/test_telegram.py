"""The Telegram adapter against a fake of the Bot API, over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.config import Settings
from shared.networks.ports import (
    Account,
    AuthExpired,
    CannotTell,
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
from shared.networks.telegram.adapter import TelegramNetwork
from shared.networks.telegram.messages import parse_external_id
from shared.networks.toolkit.calls import RedactWebhookSecrets
from tests.networks.fake_servers import serving
from tests.networks.on_this_machine import outbound_here
from tests.networks.raw_servers import free_port
from tests.networks.telegram.fake import FakeTelegram, serving_one_account

QUICK = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)
HERE = outbound_here()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with serving(FakeTelegram()) as fake:
        yield fake


@pytest.fixture
def network(telegram: FakeTelegram) -> TelegramNetwork:
    return TelegramNetwork(HERE, api_url=telegram.base_url, timeout=QUICK)


@pytest.fixture
def token(telegram: FakeTelegram) -> str:
    return telegram.add_bot()


@pytest.fixture
def channel(telegram: FakeTelegram, token: str) -> int:
    chat_id = telegram.add_channel("crier_news")
    telegram.make_admin(token, chat_id)
    return chat_id


def account_for(token: str, chat_id: str = "@crier_news", **settings: object) -> Account:
    return Account(
        channel_id="c1",
        handle=chat_id,
        settings={"chat_id": chat_id, **settings},
        credentials={"bot_token": token},
    )


def assert_keeps_secret(error: BaseException, token: str) -> None:
    assert token not in str(error)
    assert token.split(":")[1] not in str(error)
    assert error.__cause__ is None


# -- Publishing ----------------------------------------------------------------------------------------


def test_a_post_becomes_a_channel_message_with_its_id_and_link(telegram, network, token, channel):
    published = network.publish(account_for(token), Draft(text="Hello, Telegram"), "key-1")

    [message] = telegram.channel_messages(channel)
    assert message["text"] == "Hello, Telegram"
    assert published.external_id == f"{channel}/{message['message_id']}"
    assert published.url == f"https://t.me/crier_news/{message['message_id']}"
    assert published.created_at == datetime.fromtimestamp(message["date"], UTC)
    [sent] = telegram.sends
    assert "disable_notification" not in sent["params"]
    assert "link_preview_options" not in sent["params"]


def test_a_private_channel_by_its_numeric_id_gets_a_members_link(telegram, network, token):
    chat_id = telegram.add_channel(username=None, title="Private")
    telegram.make_admin(token, chat_id)

    published = network.publish(account_for(token, str(chat_id)), Draft(text="Hello"), "key-1")

    message_id = telegram.channel_messages(chat_id)[0]["message_id"]
    assert published.url == f"https://t.me/c/{str(chat_id)[4:]}/{message_id}"


def test_silence_and_link_previews_are_the_drafts_choice_over_the_channels(telegram, network, token, channel):
    account = account_for(token, silent=True, link_preview=True)

    network.publish(account, Draft(text="see https://example.org", options={"link_preview": False}), "k")

    params = telegram.sends[0]["params"]
    assert params["disable_notification"] is True
    assert params["link_preview_options"] == {"is_disabled": True}


def test_telegram_finds_the_link_itself_at_utf16_offsets(telegram, network, token, channel):
    network.publish(account_for(token), Draft(text="\U0001f600 see https://example.org"), "k")

    [message] = telegram.channel_messages(channel)
    assert message["entities"] == [{"type": "url", "offset": 7, "length": 19}]


def test_thread_items_reply_each_to_the_part_before(telegram, network, token, channel):
    published = network.publish(account_for(token), Draft(text="one", thread=("two", "three")), "k")

    one, two, three = telegram.channel_messages(channel)
    assert [m["text"] for m in (one, two, three)] == ["one", "two", "three"]
    assert "reply_to_message" not in one
    assert two["reply_to_message"]["message_id"] == one["message_id"]
    assert three["reply_to_message"]["message_id"] == two["message_id"]
    assert published.thread_ids == (f"{channel}/{two['message_id']}", f"{channel}/{three['message_id']}")


def test_a_thread_broken_midway_passes_on_what_was_sent_and_a_retry_sends_only_the_rest(
    telegram, network, token, channel
):
    draft = Draft(text="one", thread=("two", "three"))
    telegram.switches.sends_before_failing = 1
    telegram.switches.fail_status, telegram.switches.fail_times = 502, 1

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(token), draft, "k")

    [first] = raised.value.published
    assert [m["text"] for m in telegram.channel_messages(channel)] == ["one"]

    finished = network.publish(account_for(token), draft, "k", published=raised.value.published)

    one, two, three = telegram.channel_messages(channel)
    assert [m["text"] for m in (one, two, three)] == ["one", "two", "three"]
    assert two["reply_to_message"]["message_id"] == one["message_id"]
    assert finished.external_id == first.external_id


def test_a_rate_limit_between_thread_items_says_when_to_come_back_with_the_parts_sent(
    telegram, network, token, channel
):
    telegram.switches.sends_before_failing = 1
    telegram.switches.rate_limited, telegram.switches.retry_after = 1, 7
    before = datetime.now(UTC)

    with pytest.raises(RateLimited) as raised:
        network.publish(account_for(token), Draft(text="one", thread=("two",)), "k")

    assert raised.value.reset_at is not None
    assert before + timedelta(seconds=6) <= raised.value.reset_at <= datetime.now(UTC) + timedelta(seconds=8)
    assert "retry after 7" in str(raised.value)
    assert len(raised.value.published) == 1


def test_one_photo_is_sent_with_the_text_as_its_caption(telegram, network, token, channel):
    draft = Draft(text="A picture", media=(MediaItem("image/png", PNG, alt_text="ignored"),))

    published = network.publish(account_for(token, silent=True), draft, "k")

    [message] = telegram.channel_messages(channel)
    assert message["caption"] == "A picture"
    assert message["photo"][0]["file_size"] == len(PNG)
    assert telegram.sends[0]["method"] == "sendPhoto"
    assert telegram.sends[0]["params"]["disable_notification"] == "true"
    assert published.external_id == f"{channel}/{message['message_id']}"


def test_one_video_goes_by_send_video(telegram, network, token, channel):
    network.publish(account_for(token), Draft(text="A film", media=(MediaItem("video/mp4", MP4),)), "k")

    assert telegram.sends[0]["method"] == "sendVideo"
    assert telegram.channel_messages(channel)[0]["caption"] == "A film"


def test_an_album_carries_the_caption_on_its_first_item_and_is_named_whole(telegram, network, token, channel):
    media = (MediaItem("image/png", PNG), MediaItem("video/mp4", MP4), MediaItem("image/jpeg", PNG))

    published = network.publish(account_for(token), Draft(text="Three", thread=("after",), media=media), "k")

    first, second, third, reply = telegram.channel_messages(channel)
    assert first["caption"] == "Three"
    assert "caption" not in second
    assert "caption" not in third
    assert first["media_group_id"] == second["media_group_id"] == third["media_group_id"]
    assert [m["type"] for m in json.loads(telegram.sends[0]["params"]["media"])] == [
        "photo",
        "video",
        "photo",
    ]
    sent = parse_external_id(published.external_id)
    assert sent is not None
    assert sent.message_ids == (first["message_id"], second["message_id"], third["message_id"])
    assert reply["reply_to_message"]["message_id"] == first["message_id"]


def test_a_draft_with_problems_is_refused_without_calling_telegram(telegram, network, token, channel):
    with pytest.raises(Rejected, match="4097 characters"):
        network.publish(account_for(token), Draft(text="x" * 4097), "k")

    assert telegram.calls == []


# -- What a refusal means ------------------------------------------------------------------------------


def test_a_wrong_token_asks_for_reconnecting(telegram, network, channel):
    wrong = "7000000999:AAHwrong-token_0000000000000000"

    with pytest.raises(AuthExpired, match="Unauthorized") as raised:
        network.publish(account_for(wrong), Draft(text="Hello"), "k")

    assert_keeps_secret(raised.value, wrong)


@pytest.mark.parametrize(
    ("scene", "words"),
    [
        ("kicked", "bot was kicked from the channel chat"),
        ("not_member", "bot is not a member of the channel chat"),
        ("no_right_to_post", "need administrator rights in the channel chat"),
        ("private_channel_left", "chat not found"),
    ],
)
def test_a_bot_that_lost_its_place_in_the_channel_asks_a_person_to_fix_it(
    telegram, network, token, scene, words
):
    chat_id = telegram.add_channel(None if scene == "private_channel_left" else "crier_news")
    if scene == "kicked":
        telegram.kick(token, chat_id)
    elif scene == "no_right_to_post":
        telegram.make_admin(token, chat_id, can_post=False)
    target = str(chat_id) if scene == "private_channel_left" else "@crier_news"

    with pytest.raises(AuthExpired, match=words) as raised:
        network.publish(account_for(token, target), Draft(text="Hello"), "k")

    assert_keeps_secret(raised.value, token)
    assert telegram.sends == []


def test_a_group_that_became_a_supergroup_is_refused_naming_the_new_id(telegram, network, token, channel):
    new_id = telegram.upgrade_to_supergroup(channel)

    with pytest.raises(Rejected, match=f"set the channel's chat_id to {new_id}"):
        network.publish(account_for(token, str(channel)), Draft(text="Hello"), "k")


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, None, OutcomeUnknown),
        (502, "<html><title>502 Bad Gateway</title></html>", OutcomeUnknown),
        (503, "upstream connect error", OutcomeUnknown),
        (408, None, Transient),
        (400, None, Rejected),
    ],
)
def test_telegrams_failures_map_to_retry_refusal_or_uncertainty(
    telegram, network, token, channel, status, body, error
):
    telegram.switches.fail_status, telegram.switches.fail_times = status, 1
    telegram.switches.fail_body = body

    with pytest.raises(NetworkError) as raised:
        network.publish(account_for(token), Draft(text="Hello"), "k")

    assert type(raised.value) is error
    assert f"answered {status}" in str(raised.value)
    assert_keeps_secret(raised.value, token)


def test_a_message_stored_before_the_answer_stalled_goes_to_a_person(telegram, network, token, channel):
    telegram.switches.stall_after_storing = True

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(token), Draft(text="Hello"), "k")

    assert len(telegram.channel_messages(channel)) == 1
    assert_keeps_secret(raised.value, token)
    assert network.info.can_find_published is False
    with pytest.raises(CannotTell, match="a person must check"):
        network.find_published(account_for(token), "k", draft=Draft(text="Hello"))


def test_a_hang_up_after_storing_is_uncertain_too(telegram, network, token, channel):
    telegram.switches.hang_up_after_storing = True

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(token), Draft(text="Hello"), "k")

    assert len(telegram.channel_messages(channel)) == 1
    assert_keeps_secret(raised.value, token)


def test_a_refused_connection_sent_nothing(token):
    network = TelegramNetwork(HERE, api_url=f"http://127.0.0.1:{free_port()}", timeout=QUICK)

    with pytest.raises(Transient, match="nothing was sent") as raised:
        network.publish(account_for(token), Draft(text="Hello"), "k")

    assert_keeps_secret(raised.value, token)


def test_the_bot_token_stays_out_of_the_http_clients_request_log(telegram, network, token, channel, caplog):
    with caplog.at_level(logging.INFO, logger="httpx"):
        network.publish(account_for(token), Draft(text="Hello"), "k")

    logged = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert logged
    assert not [line for line in logged if token.split(":")[1] in line]
    assert all("/bot7" in line and "[redacted]" in line for line in logged)


def test_the_log_filter_blanks_a_bot_token_in_any_telegram_address():
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        "",
        0,
        "HTTP Request: POST %s",
        ("https://api.telegram.org/bot123:AbC-d_e/getMe",),
        None,
    )

    RedactWebhookSecrets().filter(record)

    assert record.getMessage() == "HTTP Request: POST https://api.telegram.org/bot123:[redacted]/getMe"


# -- After publishing ----------------------------------------------------------------------------------


def test_a_message_can_be_edited_and_an_edit_repeated_changes_nothing(telegram, network, token, channel):
    published = network.publish(account_for(token), Draft(text="Helo"), "k")

    edited = network.edit(account_for(token), published.external_id, Draft(text="Hello"))
    again = network.edit(account_for(token), published.external_id, Draft(text="Hello"))

    [message] = telegram.channel_messages(channel)
    assert message["text"] == "Hello"
    assert "edit_date" in message
    assert edited.external_id == again.external_id == published.external_id
    assert edited.url == again.url == published.url
    assert telegram.calls.count("editMessageText") == 2


def test_reads_as_settles_an_uncertain_edit_by_making_it_at_most_once_more(telegram, network, token, channel):
    published = network.publish(account_for(token), Draft(text="Before"), "k")

    assert network.reads_as(account_for(token), published.external_id, Draft(text="After")) is True
    assert network.reads_as(account_for(token), published.external_id, Draft(text="After")) is True

    assert telegram.channel_messages(channel)[0]["text"] == "After"


def test_a_photos_caption_is_edited_after_telegram_says_it_has_no_text(telegram, network, token, channel):
    draft = Draft(text="Caption", media=(MediaItem("image/png", PNG),))
    published = network.publish(account_for(token), draft, "k")

    network.edit(account_for(token), published.external_id, Draft(text="New caption"))

    assert telegram.channel_messages(channel)[0]["caption"] == "New caption"
    with pytest.raises(Rejected, match="allows 1024"):
        network.edit(account_for(token), published.external_id, Draft(text="x" * 1025))


def test_editing_a_deleted_message_says_it_is_gone(telegram, network, token, channel):
    published = network.publish(account_for(token), Draft(text="Hello"), "k")
    network.delete(account_for(token), published.external_id)

    with pytest.raises(PostGone):
        network.edit(account_for(token), published.external_id, Draft(text="Changed"))


def test_a_message_is_deleted_once_then_gone(telegram, network, token, channel):
    published = network.publish(account_for(token), Draft(text="Hello"), "k")

    network.delete(account_for(token), published.external_id)

    assert telegram.channel_messages(channel) == []
    with pytest.raises(PostGone):
        network.delete(account_for(token), published.external_id)


def test_an_album_is_deleted_whole(telegram, network, token, channel):
    media = (MediaItem("image/png", PNG), MediaItem("image/png", PNG))
    published = network.publish(account_for(token), Draft(text="Two", media=media), "k")

    network.delete(account_for(token), published.external_id)

    assert telegram.channel_messages(channel) == []
    assert telegram.calls[-1] == "deleteMessages"


def test_a_message_older_than_48_hours_cannot_be_deleted_and_the_refusal_says_why(
    telegram, network, token, channel
):
    published = network.publish(account_for(token), Draft(text="Hello"), "k")
    telegram.age(channel, telegram.channel_messages(channel)[0]["message_id"], 48 * 3600)

    with pytest.raises(Rejected, match="within 48 hours"):
        network.delete(account_for(token), published.external_id)

    assert len(telegram.channel_messages(channel)) == 1


def test_an_id_this_adapter_did_not_make_is_refused(network, token):
    with pytest.raises(Rejected, match="not a message this adapter sent"):
        network.delete(account_for(token), "12345")


def test_reactions_pending_as_updates_are_read_as_likes_and_others_are_left_out(
    telegram, network, token, channel
):
    first = network.publish(account_for(token), Draft(text="one"), "k1")
    second = network.publish(account_for(token), Draft(text="two"), "k2")
    # Telegram makes reaction updates only for a bot that asked for them by name.
    assert network.fetch_engagement(account_for(token), [first.external_id]) == {}
    first_id = telegram.channel_messages(channel)[0]["message_id"]
    telegram.react(channel, first_id, **{"\U0001f44d": 2})
    telegram.react(channel, first_id, **{"\U0001f44d": 3, "\u2764": 1})

    readings = network.fetch_engagement(account_for(token), [first.external_id, second.external_id])

    assert set(readings) == {first.external_id}
    reading = readings[first.external_id]
    assert isinstance(reading, Engagement)
    assert reading.likes == 4
    assert (reading.reposts, reading.replies, reading.views) == (None, None, None)
    # The inbox's kind too, so that reading reactions never turns the inbox's messages off.
    assert telegram.allowed_updates == ["message", "message_reaction_count"]
    # Nothing was confirmed: the same counts are there to read next time.
    assert network.fetch_engagement(account_for(token), [first.external_id]) == readings


def test_an_albums_likes_are_the_reactions_on_any_of_its_messages(telegram, network, token, channel):
    media = (MediaItem("image/png", PNG), MediaItem("image/png", PNG))
    published = network.publish(account_for(token), Draft(text="Two", media=media), "k")
    network.fetch_engagement(account_for(token), [published.external_id])
    first, second = telegram.channel_messages(channel)
    telegram.react(channel, first["message_id"], **{"\U0001f525": 2})
    telegram.react(channel, second["message_id"], **{"\U0001f525": 1})

    readings = network.fetch_engagement(account_for(token), [published.external_id])

    assert readings[published.external_id] == Engagement(likes=3, raw=readings[published.external_id].raw)


def test_a_bot_with_a_webhook_cannot_be_asked_for_reactions_and_the_refusal_says_why(
    telegram, network, token, channel
):
    telegram.webhook_set = True

    with pytest.raises(Rejected, match="webhook"):
        network.fetch_engagement(account_for(token), [f"{channel}/1"])


def test_verify_names_the_channel_the_bot_may_post_to(telegram, network, token, channel):
    profile = network.verify(account_for(token))

    assert (profile.handle, profile.display_name, profile.url) == (
        "@crier_news",
        "Crier News",
        "https://t.me/crier_news",
    )
    assert telegram.calls == ["getMe", "getChat", "getChatMember"]


def test_verify_refuses_a_bot_that_may_not_post(telegram, network, token):
    chat_id = telegram.add_channel("crier_news")
    telegram.make_admin(token, chat_id, can_post=False)

    with pytest.raises(AuthExpired, match="not an administrator of @crier_news allowed to post"):
        network.verify(account_for(token))


def test_verify_refuses_a_bot_that_is_not_in_a_public_channel(telegram, network, token):
    telegram.add_channel("crier_news")

    with pytest.raises(AuthExpired, match="it is left"):
        network.verify(account_for(token))


def test_verify_of_a_revoked_token_asks_for_reconnecting(telegram, network, channel):
    with pytest.raises(AuthExpired):
        network.verify(account_for("7000000999:AAHrevoked_token_00000000000000"))


# -- Settings, credentials and drafts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "chat_id is required"),
        ({"chat_id": "crier_news"}, "chat_id is required"),
        ({"chat_id": "12345"}, "chat_id is required"),
        ({"chat_id": "@crier_news", "silent": "yes"}, "silent must be true or false"),
        ({"chat_id": "@crier_news", "colour": 1}, "unknown option 'colour'"),
    ],
)
def test_channel_settings_are_checked(network, settings, problem):
    assert any(problem in found for found in network.check_settings(settings))


@pytest.mark.parametrize("chat_id", ["@crier_news", "-1001234567890", -1001234567890])
def test_a_channel_is_named_by_username_or_numeric_id(network, chat_id):
    assert network.check_settings({"chat_id": chat_id}) == []


def test_a_bot_token_must_look_like_botfathers(network):
    assert network.check_credentials({"bot_token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}) == []
    assert network.check_credentials({"bot_token": "not a token"})


def test_texts_captions_media_and_options_are_checked(network):
    photo = MediaItem("image/png", PNG)
    assert network.validate(Draft(text="x" * 4096, thread=("y" * 4096,))) == []
    assert network.validate(Draft(text="\U0001f600" * 4096)) == []
    assert any("4097 characters" in p for p in network.validate(Draft(text="x" * 4097)))
    assert any("thread item 1 is empty" in p for p in network.validate(Draft(text="x", thread=(" ",))))
    assert network.validate(Draft(text="x" * 1024, media=(photo,))) == []
    [caption] = network.validate(Draft(text="x" * 1025, media=(photo,)))
    assert "caption" in caption
    assert "1024" in caption
    assert network.validate(Draft(text="x", media=(photo,) * 10)) == []
    assert any("at most 10" in p for p in network.validate(Draft(text="x", media=(photo,) * 11)))
    assert any(
        "image/gif" in p for p in network.validate(Draft(text="x", media=(MediaItem("image/gif", PNG),)))
    )
    big = MediaItem("image/jpeg", b"\x00" * (10 * 1024 * 1024 + 1))
    assert any("10 MB" in p for p in network.validate(Draft(text="x", media=(big,))))
    assert network.validate(Draft(text="x", options={"silent": 1})) == ["silent must be true or false"]


def test_the_preview_counts_a_caption_against_1024_and_thread_items_against_4096(network, token):
    draft = Draft(text="x" * 1025, thread=("y" * 2000,), media=(MediaItem("image/png", PNG),))

    caption, item = network.preview(account_for(token), draft)

    assert (caption.length, caption.limit, bool(caption.problems)) == (1025, 1024, True)
    assert (item.length, item.limit, item.problems) == (2000, 4096, ())


def test_the_registry_builds_it_against_the_configured_api_address(settings: Settings):
    from shared.networks.registry import NetworkRegistry

    network = NetworkRegistry(settings.model_copy(update={"telegram_api_url": "http://127.0.0.1:9"})).get(
        "telegram"
    )

    assert isinstance(network, TelegramNetwork)
    assert network.info.name == "telegram"


def test_one_ready_account_publishes_as_it_says():
    fake, account = serving_one_account()
    try:
        network = TelegramNetwork(HERE, api_url=fake.base_url, timeout=QUICK)
        connected = Account("c1", "@crier_news", account["settings"], account["credentials"])
        network.verify(connected)
        network.publish(connected, Draft(text="Hello"), "k")
        assert len(fake.messages) == 1
    finally:
        fake.stop()
