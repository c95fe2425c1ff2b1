"""The Threads adapter's engagement inbox against the fake Threads API: replies read by position, answers
made exactly once, replies hidden."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.networks.inbox import MAX_POSITION_LENGTH, HidesReplies, ReactsToPosts, ReadsInbox
from shared.networks.meta.comment_inbox import FIRST_PAGE_SIZE
from shared.networks.ports import Account, Draft, InboxKind, OutcomeUnknown, Rejected, ReplyTarget
from shared.networks.threads.adapter import ThreadsNetwork
from shared.networks.threads.containers import Waiting
from tests.networks.on_this_machine import outbound_here
from tests.networks.threads.fake import FakeThreads, FakeUser

KEY = "5d0c7a52-0000-4000-8000-0000000000aa"
HERE = outbound_here()


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    with FakeThreads() as started:
        yield started


@pytest.fixture
def alice(fake: FakeThreads) -> FakeUser:
    return fake.add_user("alice", token="alice-token")


@pytest.fixture
def bob(fake: FakeThreads) -> FakeUser:
    return fake.add_user("bob")


@pytest.fixture
def network(fake: FakeThreads) -> ThreadsNetwork:
    return ThreadsNetwork(
        HERE,
        http=HERE.client(httpx.Timeout(2.0, read=2.0)),
        api_url=fake.base_url,
        waiting=Waiting(first_pause=0.0, longest_pause=0.0, total=1.0),
        sleep=lambda seconds: None,
        settle=timedelta(minutes=2),
    )


def account_of(user: FakeUser) -> Account:
    return Account(
        channel_id="channel-1",
        handle=user.username,
        settings={},
        credentials={"access_token": "alice-token", "user_id": user.id},
    )


def drain(network: ThreadsNetwork, user: FakeUser, position: str | None) -> tuple[list[Any], str | None]:
    """Read until the network says nothing more is waiting: the entries, and the position after them."""
    entries: list[Any] = []
    for _ in range(10_000):
        read = network.read_inbox(account_of(user), position)
        assert read.position is not None
        assert len(read.position) <= MAX_POSITION_LENGTH
        entries += read.entries
        position = read.position
        if not read.more:
            return entries, position
    raise AssertionError("the inbox never ran dry")


def test_the_adapter_says_what_its_inbox_does(network: ThreadsNetwork) -> None:
    assert isinstance(network, ReadsInbox)
    assert isinstance(network, HidesReplies)
    assert not isinstance(network, ReactsToPosts), "Threads has no like in its API"
    inbox = network.info.inbox
    assert inbox.kinds == (InboxKind.REPLY,)
    assert (inbox.can_reply, inbox.can_like, inbox.can_hide, inbox.can_search) == (True, False, True, False)


def test_a_first_read_takes_each_posts_latest_replies_and_not_their_history(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    post = fake.post_as(alice, "Hello")
    start = fake.now() - timedelta(hours=1)
    made = [fake.reply_as(bob, post.id, f"old {n}", created=start + timedelta(seconds=n)) for n in range(60)]

    first, position = drain(network, alice, None)
    assert [entry.external_id for entry in first] == [m.id for m in reversed(made[-FIRST_PAGE_SIZE:])]

    newer = fake.reply_as(bob, post.id, "new")
    later, _ = drain(network, alice, position)
    assert [entry.external_id for entry in later] == [newer.id]


def test_an_entry_says_who_replied_to_what_and_how_to_answer_it(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    post = fake.post_as(alice, "Hello")
    _, position = drain(network, alice, None)
    top = fake.reply_as(bob, post.id, "Hi alice")
    own = fake.reply_as(alice, top.id, "Hi bob")
    nested = fake.reply_as(bob, own.id, "How are you?")

    entries, _ = drain(network, alice, position)

    by_id = {entry.external_id: entry for entry in entries}
    assert set(by_id) == {top.id, nested.id}, "the account's own reply is not in its inbox"
    first = by_id[top.id]
    assert first.kind == InboxKind.REPLY
    assert first.author.handle == "bob"
    assert first.author.avatar_url == "https://scontent.example/bob.jpg"
    assert first.text == first.plain_text == "Hi alice"
    assert first.in_reply_to == post.id
    assert first.thread_root == post.id
    assert first.url == f"https://www.threads.com/@bob/post/{top.shortcode}"
    assert first.created_at == top.timestamp.replace(tzinfo=UTC)
    assert first.reply_target == ReplyTarget(top.id, {"root": post.id, "top_level": True})
    assert by_id[nested.id].in_reply_to == own.id
    assert by_id[nested.id].reply_target.ref == {"root": post.id, "top_level": False}


def test_replies_made_while_the_inbox_is_read_are_each_read_once(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    posts = [fake.post_as(alice, f"Post {n}") for n in range(4)]
    people = [fake.add_user(f"person{n}") for n in range(5)]
    _, position = drain(network, alice, None)
    chance = random.Random(15)
    made: list[str] = []
    budget = {"left": 1500}

    def people_reply() -> None:
        # Bursts within the same second, under any post and at any depth, while pages are read.
        for _ in range(chance.randint(0, 90)):
            if budget["left"] == 0:
                return
            budget["left"] -= 1
            under = chance.choice(posts).id if not made or chance.random() < 0.7 else chance.choice(made)
            made.append(fake.reply_as(chance.choice(people), under, "hi").id)
            if chance.random() < 0.02:
                fake.advance(timedelta(seconds=1))

    fake.while_reading_replies = people_reply
    read: list[str] = []
    for _ in range(200):
        entries, position = drain(network, alice, position)
        read += [entry.external_id for entry in entries]
        if budget["left"] == 0 and not entries:
            break
    fake.while_reading_replies = None
    entries, position = drain(network, alice, position)
    read += [entry.external_id for entry in entries]

    assert len(made) == 1500
    assert len(read) == len(set(read)), "no reply is read twice"
    assert set(read) == set(made), "no reply is skipped"


def test_a_post_made_after_the_first_read_is_read_from_its_first_reply(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    _, position = drain(network, alice, None)
    post = fake.post_as(alice, "New")
    made = [fake.reply_as(bob, post.id, f"reply {n}").id for n in range(130)]

    entries, _ = drain(network, alice, position)

    assert sorted(entry.external_id for entry in entries) == sorted(made)


def test_a_thread_is_the_post_then_its_replies_oldest_first(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    post = fake.post_as(alice, "Hello")
    start = fake.now() - timedelta(minutes=5)
    top = fake.reply_as(bob, post.id, "Hi", created=start)
    nested = fake.reply_as(alice, top.id, "Hi bob", created=start + timedelta(minutes=1))

    thread = network.read_thread(account_of(alice), nested.id)

    assert [entry.external_id for entry in thread] == [post.id, top.id, nested.id]
    assert thread[0].kind == InboxKind.POST
    assert thread[0].text == "Hello"


def test_an_answer_is_a_reply_container_published_under_the_reply(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    post = fake.post_as(alice, "Hello")
    top = fake.reply_as(bob, post.id, "Hi alice")
    target = ReplyTarget(top.id, {"root": post.id, "top_level": True})

    made = network.publish(account_of(alice), Draft(text="Hi bob", reply_to=target), KEY)

    [answer] = [media for media in fake.posts_of(alice) if media.reply_to_id == top.id]
    assert answer.text == "Hi bob"
    assert made.external_id == answer.id


@pytest.mark.parametrize("lost", [502, "disconnect"])
def test_an_answer_whose_publish_was_lost_is_found_and_not_made_again(
    fake: FakeThreads, network: ThreadsNetwork, alice: FakeUser, bob: FakeUser, lost: int | str
) -> None:
    post = fake.post_as(alice, "Hello")
    top = fake.reply_as(bob, post.id, "Hi alice")
    draft = Draft(text="Hi bob", reply_to=ReplyTarget(top.id, {"root": post.id, "top_level": True}))
    attempted_at = datetime.now(UTC)
    fake.answer_after_publishing = [lost]
    with pytest.raises(OutcomeUnknown):
        network.publish(account_of(alice), draft, KEY)

    found = network.find_published(
        account_of(alice), KEY, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
    )
    again = network.publish(account_of(alice), draft, KEY, published=found.parts if found else ())

    [answer] = [media for media in fake.posts_of(alice) if media.reply_to_id == top.id]
    assert found is not None
    assert found.external_id == answer.id
    assert again.external_id == answer.id


def test_an_answer_to_something_that_is_not_a_threads_post_is_refused_before_sending(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser
) -> None:
    draft = Draft(text="Hi", reply_to=ReplyTarget("../me/threads", {}))
    assert network.validate(draft)
    with pytest.raises(Rejected):
        network.publish(account_of(alice), draft, KEY)
    assert fake.containers == {}


def test_a_top_level_reply_is_hidden_and_hiding_it_again_is_no_error(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    post = fake.post_as(alice, "Hello")
    top = fake.reply_as(bob, post.id, "Spam")
    target = ReplyTarget(top.id, {"root": post.id, "top_level": True})

    network.hide_reply(account_of(alice), target, root=post.id)
    network.hide_reply(account_of(alice), target, root=post.id)

    assert top.hidden is True


def test_a_reply_to_a_reply_cannot_be_hidden_alone(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    post = fake.post_as(alice, "Hello")
    top = fake.reply_as(bob, post.id, "Hi")
    nested = fake.reply_as(bob, top.id, "Spam")

    with pytest.raises(Rejected, match="not a reply to a reply"):
        network.hide_reply(
            account_of(alice), ReplyTarget(nested.id, {"root": post.id, "top_level": False}), root=post.id
        )

    assert nested.hidden is False


def test_a_post_deleted_during_a_round_is_left_out_and_the_round_goes_on(
    network: ThreadsNetwork, fake: FakeThreads, alice: FakeUser, bob: FakeUser
) -> None:
    start = fake.now() - timedelta(hours=1)
    posts = [fake.post_as(alice, f"Post {n}", created=start + timedelta(minutes=n)) for n in range(7)]
    first = network.read_inbox(account_of(alice), None)
    assert first.more, "seven posts take more than one read"
    with fake.lock:
        del fake.media[posts[0].id]  # the oldest, which the round has not read yet

    _, position = drain(network, alice, first.position)
    reply = fake.reply_as(bob, posts[3].id, "Still here")
    entries, _ = drain(network, alice, position)

    assert [entry.external_id for entry in entries] == [reply.id]
