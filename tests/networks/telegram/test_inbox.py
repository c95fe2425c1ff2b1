"""The Telegram adapter's inbox, replies, likes and deletions against a fake Bot API, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.networks.inbox import HidesReplies, InboxEntry, ReactsToPosts, ReadsInbox
from shared.networks.ports import (
    Account,
    CannotTell,
    Draft,
    InboxAbilities,
    InboxKind,
    MediaItem,
    OutcomeUnknown,
    PostGone,
    RateLimited,
    Rejected,
    ReplyTarget,
)
from shared.networks.telegram.adapter import TelegramNetwork
from tests.networks.fake_servers import serving
from tests.networks.on_this_machine import outbound_here
from tests.networks.telegram.fake import FakeTelegram

# A hang-up is seen at once; a slow answer is waited for: a page the fake fills with a burst of updates took
# longer than half a second on a loaded machine, and these tests are about paging, not patience.
PATIENT = httpx.Timeout(connect=2.0, read=10.0, write=2.0, pool=2.0)
HERE = outbound_here()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
THUMBS_UP = [{"type": "emoji", "emoji": "\U0001f44d"}]


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with serving(FakeTelegram()) as fake:
        yield fake


@pytest.fixture
def network(telegram: FakeTelegram) -> TelegramNetwork:
    return TelegramNetwork(HERE, api_url=telegram.base_url, timeout=PATIENT)


@pytest.fixture
def token(telegram: FakeTelegram) -> str:
    return telegram.add_bot("crier_bot")


@pytest.fixture
def channel(telegram: FakeTelegram, token: str) -> int:
    chat_id = telegram.add_channel("crier_news")
    telegram.make_admin(token, chat_id)
    return chat_id


@pytest.fixture
def group(telegram: FakeTelegram, token: str, channel: int) -> int:
    """The channel's discussion group, the bot an administrator there (so it receives every comment)."""
    group_id = telegram.add_discussion_group(channel)
    telegram.make_admin(token, group_id)
    return group_id


@pytest.fixture
def account(token: str) -> Account:
    return Account("c1", "@crier_news", {"chat_id": "@crier_news"}, {"bot_token": token})


@pytest.fixture
def alice(telegram: FakeTelegram) -> int:
    return telegram.add_user("Alice", "alice", last_name="Liddell")


@pytest.fixture
def bob(telegram: FakeTelegram) -> int:
    return telegram.add_user("Bob")


def post_id(external_id: str) -> int:
    return int(external_id.split("/")[1])


def drain(network: TelegramNetwork, account: Account, position: str | None) -> tuple[list[InboxEntry], str]:
    """Every entry read from `position` on, as Crier reads: again at once while `more`."""
    entries: list[InboxEntry] = []
    while True:
        page = network.read_inbox(account, position)
        entries += page.entries
        assert page.position is not None
        position = page.position
        if not page.more:
            return entries, position


def test_the_adapter_says_what_its_inbox_reads_and_does(network):
    assert network.info.inbox == InboxAbilities(
        kinds=(InboxKind.REPLY, InboxKind.MENTION, InboxKind.DIRECT_MESSAGE),
        can_search=False,
        can_reply=True,
        can_like=True,
        can_hide=True,
    )
    assert isinstance(network, ReadsInbox)
    assert isinstance(network, ReactsToPosts)
    assert isinstance(network, HidesReplies)


# -- Reading -------------------------------------------------------------------------------------------


def test_a_comment_under_a_channel_post_is_a_reply_naming_the_post_in_the_channel(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    comment = telegram.comment(alice, channel, post_id(post.external_id), "Great news!")

    page = network.read_inbox(account, None)

    [entry] = page.entries  # the post's automatic forward to the group is the channel's own: left out
    assert entry.external_id == f"{group}/{comment['message_id']}"
    assert entry.kind is InboxKind.REPLY
    assert entry.in_reply_to == entry.thread_root == post.external_id
    assert (entry.author.handle, entry.author.display_name) == ("@alice", "Alice Liddell")
    assert (entry.author.url, entry.author.avatar_url) == ("https://t.me/alice", None)
    assert entry.text == entry.plain_text == "Great news!"
    assert entry.url == f"https://t.me/c/{str(group)[4:]}/{comment['message_id']}"
    assert entry.created_at == datetime.fromtimestamp(comment["date"], UTC)
    assert entry.reply_target == ReplyTarget(
        entry.external_id, {"chat_id": group, "message_id": comment["message_id"]}
    )
    assert page.more is False
    assert json.loads(page.position or "") == {"offset": telegram.updates[-1]["update_id"] + 1}
    assert telegram.allowed_updates == ["message", "message_reaction_count"]


def test_answers_to_comments_and_to_the_bot_name_the_message_they_answer(
    telegram, network, account, channel, group, alice, bob
):
    post = network.publish(account, Draft(text="Our news"), "k")
    first, position = drain(network, account, None)
    comment = telegram.comment(alice, channel, post_id(post.external_id), "Why?")
    answer = telegram.say(bob, group, "Because.", replying_to=comment["message_id"])
    entries, position = drain(network, account, position)
    reply = network.publish(account, Draft(text="Thanks", reply_to=entries[0].reply_target), "k2")
    again = telegram.say(alice, group, "You're welcome", replying_to=post_id(reply.external_id))

    later, _ = drain(network, account, position)

    assert first == []
    assert [e.kind for e in entries] == [InboxKind.REPLY, InboxKind.REPLY]
    assert entries[1].external_id == f"{group}/{answer['message_id']}"
    assert entries[1].in_reply_to == entries[0].external_id
    # Telegram nests one reply level: which post the thread hangs on is not said.
    assert entries[1].thread_root is None
    [reply_to_bot] = later  # the bot's own reply is left out
    assert reply_to_bot.external_id == f"{group}/{again['message_id']}"
    assert reply_to_bot.kind is InboxKind.REPLY
    assert reply_to_bot.in_reply_to == reply.external_id


def test_mentions_and_private_messages_are_read_and_other_talk_is_left_out(
    telegram, network, account, token, group, alice, bob
):
    elsewhere = telegram.add_discussion_group(telegram.add_channel("other_news"), username="otherchat")
    telegram.make_admin(token, elsewhere)
    telegram.say(alice, group, "hello everyone")
    by_bot = telegram.say(alice, group, "ask @Crier_Bot about it")
    by_channel = telegram.say(bob, elsewhere, "did you read @crier_news today?")
    telegram.say(bob, elsewhere, "unrelated")
    private = telegram.say(alice, alice, "Hi, a question")

    entries, _ = drain(network, account, None)

    assert [(e.external_id, e.kind) for e in entries] == [
        (f"{group}/{by_bot['message_id']}", InboxKind.MENTION),
        (f"{elsewhere}/{by_channel['message_id']}", InboxKind.MENTION),
        (f"{alice}/{private['message_id']}", InboxKind.DIRECT_MESSAGE),
    ]
    assert entries[1].url == f"https://t.me/otherchat/{by_channel['message_id']}"
    assert entries[2].url is None
    assert entries[2].in_reply_to is None
    assert entries[2].reply_target.ref == {"chat_id": alice, "message_id": private["message_id"]}


def test_a_person_without_a_username_is_named_by_id_and_their_name(telegram, network, account, channel, bob):
    telegram.say(bob, bob, "hello")

    [entry] = network.read_inbox(account, None).entries

    assert (entry.author.handle, entry.author.display_name, entry.author.url) == (str(bob), "Bob", None)


def test_the_first_read_takes_only_the_latest_page_and_forgets_the_older(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    comments = [telegram.comment(alice, channel, post_id(post.external_id), f"c{n}") for n in range(250)]

    first = network.read_inbox(account, None)
    rest, _ = drain(network, account, first.position)

    assert [e.text for e in first.entries] == [c["text"] for c in comments[-100:]]
    assert first.more is False
    assert rest == []


def test_an_empty_first_read_starts_from_the_earliest_update_to_come(
    telegram, network, account, channel, group, alice
):
    first = network.read_inbox(account, None)
    telegram.say(alice, alice, "first")

    later = network.read_inbox(account, first.position)

    assert first.entries == ()
    assert [e.text for e in later.entries] == ["first"]


def test_a_full_page_says_more_and_updates_left_out_still_move_the_position(
    telegram, network, account, channel, group, alice, bob
):
    position = network.read_inbox(account, None).position
    for n in range(150):
        telegram.say(bob, group, f"chatter {n}")  # read by the bot as an administrator, left out
    telegram.say(alice, alice, "the one")

    page = network.read_inbox(account, position)
    last = network.read_inbox(account, page.position)

    assert (page.entries, page.more) == ((), True)
    assert ([e.text for e in last.entries], last.more) == (["the one"], False)


def test_a_page_read_but_not_stored_is_read_again_because_only_the_next_read_confirms_it(
    telegram, network, account, channel, alice
):
    position = network.read_inbox(account, None).position
    telegram.say(alice, alice, "one")
    telegram.say(alice, alice, "two")

    lost = network.read_inbox(account, position)  # Crier crashed before storing it
    again = network.read_inbox(account, position)
    after = network.read_inbox(account, again.position)

    assert [e.text for e in lost.entries] == [e.text for e in again.entries] == ["one", "two"]
    assert after.entries == ()
    assert telegram.updates == []  # the next read confirmed them


def test_thousands_of_updates_made_while_reading_are_read_once_each(
    telegram, network, account, channel, group, alice, bob
):
    post = network.publish(account, Draft(text="Our news"), "k")
    position = network.read_inbox(account, None).position
    made: list[str] = []
    rounds = list(range(150))

    def more_arrive() -> None:
        """Bursts of comments (up to 64, so pages fill), a private message, talk left out, a reaction."""
        if not rounds:
            return
        round_ = rounds.pop(0)
        for n in range(round_ % 9 * 8):
            comment = telegram.comment(alice, channel, post_id(post.external_id), f"{round_}.{n}")
            made.append(f"{group}/{comment['message_id']}")
        made.append(f"{bob}/{telegram.say(bob, bob, f'dm {round_}')['message_id']}")
        telegram.say(bob, group, "chatter outside the threads")
        telegram.react(channel, post_id(post.external_id), **{"\U0001f44d": round_})

    telegram.while_reading = more_arrive
    read: list[str] = []
    pages_with_more = 0
    for _ in range(1000):
        page = network.read_inbox(account, position)
        read += [entry.external_id for entry in page.entries]
        position, pages_with_more = page.position, pages_with_more + page.more
        if not rounds and not page.entries and not page.more:
            break

    assert len(made) > 4000
    assert pages_with_more > 10
    assert len(read) == len(set(read))
    assert set(read) == set(made)


def test_a_position_this_adapter_did_not_make_is_refused(network, account):
    with pytest.raises(Rejected, match="not an inbox position"):
        network.read_inbox(account, '{"cursor": "abc"}')


def test_a_bot_with_a_webhook_cannot_read_its_inbox_and_the_refusal_says_why(
    telegram, network, account, channel
):
    telegram.webhook_set = True

    with pytest.raises(Rejected, match="delete the webhook"):
        network.read_inbox(account, None)


def test_a_rate_limited_read_says_when_to_come_back(telegram, network, account, channel):
    telegram.switches.misbehaving = ("getUpdates",)
    telegram.switches.rate_limited, telegram.switches.retry_after = 1, 30
    before = datetime.now(UTC)

    with pytest.raises(RateLimited) as raised:
        network.read_inbox(account, None)

    assert raised.value.reset_at is not None
    reset_at = raised.value.reset_at
    assert before + timedelta(seconds=29) <= reset_at <= datetime.now(UTC) + timedelta(seconds=31)


def test_a_thread_cannot_be_read_back_by_a_bot(network, account, channel):
    assert network.read_thread(account, f"{channel}/5") == ()


# -- Replying ------------------------------------------------------------------------------------------


def test_a_reply_to_a_comment_goes_to_the_group_replying_to_it_with_its_thread_after(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    comment = telegram.comment(alice, channel, post_id(post.external_id), "Why?")
    [entry] = network.read_inbox(account, None).entries

    draft = Draft(text="Because", thread=("and more",), reply_to=entry.reply_target)

    reply = network.publish(account, draft, "r")

    first, second = (telegram.messages[(group, post_id(part.external_id))] for part in reply.parts)
    assert telegram.sends[-2]["params"]["reply_parameters"] == {"message_id": comment["message_id"]}
    assert first["reply_to_message"]["message_id"] == comment["message_id"]
    assert first["message_thread_id"] == comment["message_thread_id"]
    assert first["from"]["username"] == "crier_bot"
    assert second["reply_to_message"]["message_id"] == first["message_id"]
    assert reply.external_id == f"{group}/{first['message_id']}"
    assert "message_thread_id" not in telegram.sends[-2]["params"]  # not a forum: the reply keeps the thread


def test_a_private_message_is_answered_in_the_private_chat(telegram, network, account, channel, alice):
    message = telegram.say(alice, alice, "Hi")
    [entry] = network.read_inbox(account, None).entries

    reply = network.publish(account, Draft(text="Hello Alice", reply_to=entry.reply_target), "r")

    sent = telegram.messages[(alice, post_id(reply.external_id))]
    assert sent["reply_to_message"]["message_id"] == message["message_id"]
    assert reply.url == ""


def test_a_reply_with_a_photo_sends_its_reply_parameters_in_the_form(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    comment = telegram.comment(alice, channel, post_id(post.external_id), "Photo?")
    [entry] = network.read_inbox(account, None).entries

    photo = (MediaItem("image/png", PNG),)

    network.publish(account, Draft(text="Here", media=photo, reply_to=entry.reply_target), "r")

    [photo] = [m for m in telegram.channel_messages(group) if "photo" in m]
    assert photo["reply_to_message"]["message_id"] == comment["message_id"]


def test_a_reply_whose_answer_was_lost_goes_to_a_person_and_is_not_sent_twice(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    telegram.comment(alice, channel, post_id(post.external_id), "Why?")
    [entry] = network.read_inbox(account, None).entries
    draft = Draft(text="Because", reply_to=entry.reply_target)
    telegram.switches.hang_up_after_storing = True

    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, "r")
    with pytest.raises(CannotTell, match="a person must check"):
        network.find_published(account, "r", draft=draft)

    replies = [m for m in telegram.channel_messages(group) if m.get("from", {}).get("is_bot")]
    assert [m["text"] for m in replies] == ["Because"]


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ({}, "names no Telegram chat"),
        ({"chat_id": "-100123", "message_id": 5}, "names no Telegram chat"),
        ({"chat_id": -100123, "message_id": 0}, "names no Telegram message"),
        ({"chat_id": -100123, "message_id": True}, "names no Telegram message"),
        ({"chat_id": -100123, "message_id": 5, "message_thread_id": "x"}, "malformed topic"),
    ],
)
def test_a_reply_to_an_unusable_target_is_refused_before_sending(telegram, network, account, ref, problem):
    draft = Draft(text="Hi", reply_to=ReplyTarget("-100123/5", ref))

    assert any(problem in found for found in network.validate(draft))
    with pytest.raises(Rejected, match=problem):
        network.publish(account, draft, "k")
    assert telegram.sends == []


# -- Liking and deleting -------------------------------------------------------------------------------


def test_a_like_is_the_bots_thumbs_up_and_liking_again_changes_nothing(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    comment = telegram.comment(alice, channel, post_id(post.external_id), "Nice")
    [entry] = network.read_inbox(account, None).entries

    network.like(account, entry.reply_target, "like-1")
    network.like(account, entry.reply_target, "like-1")

    bot_id = telegram.bots[account.credentials["bot_token"]]["id"]
    assert telegram.reactions[(group, comment["message_id"])] == {bot_id: THUMBS_UP}
    assert telegram.calls.count("setMessageReaction") == 2


def test_liking_a_message_that_is_gone_or_unusable_is_refused(telegram, network, account, channel, alice):
    telegram.say(alice, alice, "Hi")
    [entry] = network.read_inbox(account, None).entries

    with pytest.raises(Rejected, match="names no Telegram message"):
        network.like(account, ReplyTarget("x", {"chat_id": alice}), "k")
    with pytest.raises(PostGone):
        network.like(account, ReplyTarget("x", {"chat_id": alice, "message_id": 999_999}), "k")
    network.like(account, entry.reply_target, "k")


def test_a_comment_is_hidden_by_deleting_it_and_deleting_again_is_no_error(
    telegram, network, account, channel, group, alice
):
    post = network.publish(account, Draft(text="Our news"), "k")
    comment = telegram.comment(alice, channel, post_id(post.external_id), "spam")
    [entry] = network.read_inbox(account, None).entries

    network.hide_reply(account, entry.reply_target, root=post.external_id)
    network.hide_reply(account, entry.reply_target, root=post.external_id)

    assert (group, comment["message_id"]) not in telegram.messages


def test_a_bot_without_the_right_to_delete_cannot_hide_and_says_so(
    telegram, network, account, token, channel, alice
):
    group = telegram.add_discussion_group(channel)
    telegram.make_admin(token, group)
    telegram.members[(group, telegram.bots[token]["id"])]["can_delete_messages"] = False
    post = network.publish(account, Draft(text="Our news"), "k")
    telegram.comment(alice, channel, post_id(post.external_id), "spam")
    [entry] = network.read_inbox(account, None).entries

    with pytest.raises(Rejected, match="can't be deleted"):
        network.hide_reply(account, entry.reply_target, root=None)


def test_a_private_message_is_not_hidden(telegram, network, account, channel, alice):
    telegram.say(alice, alice, "Hi")
    [entry] = network.read_inbox(account, None).entries

    with pytest.raises(Rejected, match="only a comment in a group"):
        network.hide_reply(account, entry.reply_target, root=None)
    assert "deleteMessage" not in telegram.calls


def test_a_reply_in_a_forum_topic_names_the_topic(telegram, network, account, channel, group, alice):
    post = network.publish(account, Draft(text="Our news"), "k")
    comment = telegram.comment(alice, channel, post_id(post.external_id), "Why?")
    ref = {
        "chat_id": group,
        "message_id": comment["message_id"],
        "message_thread_id": comment["message_thread_id"],
    }

    network.publish(account, Draft(text="Because", reply_to=ReplyTarget("x", ref)), "r")

    assert telegram.sends[-1]["params"]["message_thread_id"] == comment["message_thread_id"]


def test_the_inbox_confirms_reactions_too_and_hands_their_counts_on_with_its_page(
    telegram, network, account, channel, group
):
    post = network.publish(account, Draft(text="Our news"), "k")
    position = network.read_inbox(account, None).position  # asks for reactions, as every reader does
    telegram.react(channel, post_id(post.external_id), **{"\U0001f44d": 3})
    assert network.fetch_engagement(account, [post.external_id])[post.external_id].likes == 3

    page = network.read_inbox(account, position)
    network.read_inbox(account, page.position)

    # Confirmed by the inbox's reads, the reaction update is gone from the queue metrics read...
    assert network.fetch_engagement(account, [post.external_id]) == {}
    # ...and its count came with the inbox's page, for Crier to keep as a metrics reading.
    assert page.engagement[post.external_id].likes == 3
