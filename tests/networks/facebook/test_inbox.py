"""The Facebook adapter's engagement inbox against the fake Graph API: comments read by position, replies
made exactly once, comments liked and hidden."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.networks.facebook.adapter import FacebookNetwork
from shared.networks.inbox import MAX_POSITION_LENGTH, HidesReplies, ReactsToPosts, ReadsInbox
from shared.networks.meta.comment_inbox import FIRST_PAGE_SIZE
from shared.networks.ports import Account, Draft, InboxKind, OutcomeUnknown, Rejected, ReplyTarget
from shared.text.facebook import FACEBOOK_COMMENT_LIMIT
from tests.networks.facebook.fake import FakeGraph, Page
from tests.networks.on_this_machine import outbound_here

KEY = "6c1e2f1d-0000-4000-8000-0000000000aa"
HERE = outbound_here()


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def page(graph: FakeGraph) -> Page:
    return graph.add_page("Crier Café")


@pytest.fixture
def network(graph: FakeGraph) -> FacebookNetwork:
    http = HERE.client(httpx.Timeout(2.0, read=2.0))
    return FacebookNetwork(
        HERE, http=http, graph_url=graph.base_url, dialog_url=graph.base_url, settle=timedelta(0)
    )


def account_of(page: Page) -> Account:
    return Account(
        channel_id="channel-1",
        handle=page.username,
        settings={"page_id": page.id},
        credentials={"page_access_token": page.token},
    )


def drain(network: FacebookNetwork, page: Page, position: str | None) -> tuple[list[Any], str | None]:
    """Read until the network says nothing more is waiting: the entries, and the position after them."""
    entries: list[Any] = []
    for _ in range(10_000):
        read = network.read_inbox(account_of(page), position)
        assert read.position is not None
        assert len(read.position) <= MAX_POSITION_LENGTH
        entries += read.entries
        position = read.position
        if not read.more:
            return entries, position
    raise AssertionError("the inbox never ran dry")


def test_the_adapter_says_what_its_inbox_does(network: FacebookNetwork) -> None:
    assert isinstance(network, ReadsInbox)
    assert isinstance(network, ReactsToPosts)
    assert isinstance(network, HidesReplies)
    inbox = network.info.inbox
    assert inbox.kinds == (InboxKind.REPLY,)
    assert (inbox.can_reply, inbox.can_like, inbox.can_hide, inbox.can_search) == (True, True, True, False)


def test_a_first_read_takes_each_posts_latest_comments_and_not_their_history(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Opening hours")
    start = graph.now() - timedelta(hours=2)
    made = [
        graph.comment_as("Ada", post, f"old {n}", created=start + timedelta(seconds=n)) for n in range(60)
    ]

    first, position = drain(network, page, None)
    assert [entry.external_id for entry in first] == [c["id"] for c in reversed(made[-FIRST_PAGE_SIZE:])]

    newer = graph.comment_as("Grace", post, "new one")
    later, _ = drain(network, page, position)
    assert [entry.external_id for entry in later] == [newer["id"]]


def test_an_entry_says_who_wrote_what_under_which_post_and_how_to_answer_it(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Menu of the day")
    _, position = drain(network, page, None)
    comment = graph.comment_as("Ada Lovelace", post, "Is there soup?")
    reply = graph.comment_as("Grace Hopper", post, "There was yesterday", parent=comment)
    own = graph.comment_as_page(page, post, "Yes, leek soup", parent=comment)

    entries, _ = drain(network, page, position)

    by_id = {entry.external_id: entry for entry in entries}
    assert set(by_id) == {comment["id"], reply["id"]}, "the Page's own comment is not in its inbox"
    assert own["id"] not in by_id
    first = by_id[comment["id"]]
    assert first.kind == InboxKind.REPLY
    assert first.author.display_name == "Ada Lovelace"
    assert first.text == first.plain_text == "Is there soup?"
    assert first.in_reply_to == post["id"]
    assert first.thread_root == post["id"]
    assert first.created_at == comment["created"].replace(tzinfo=UTC)
    assert first.url
    assert comment["id"] in first.url
    assert first.reply_target == ReplyTarget(comment["id"], {"post": post["id"], "comment": comment["id"]})
    second = by_id[reply["id"]]
    assert second.in_reply_to == comment["id"]
    assert second.thread_root == post["id"]
    assert second.reply_target.ref == {"post": post["id"], "comment": comment["id"]}


def test_comments_made_while_the_inbox_is_read_are_each_read_once(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    posts = [graph.add_post(page, f"Post {n}") for n in range(4)]
    _, position = drain(network, page, None)
    chance = random.Random(14)
    made: list[str] = []
    budget = {"left": 1500}

    def people_comment() -> None:
        # Bursts within the same second, on any post, some of them replies, while pages are read.
        for _ in range(chance.randint(0, 90)):
            if budget["left"] == 0:
                return
            budget["left"] -= 1
            post = chance.choice(posts)
            parents = [c for c in post["comments"] if not c["parent"]]
            parent = chance.choice(parents) if parents and chance.random() < 0.3 else None
            made.append(graph.comment_as(f"person {chance.randint(1, 9)}", post, "hi", parent=parent)["id"])
            if chance.random() < 0.02:
                graph.advance(timedelta(seconds=1))

    graph.while_reading_comments = people_comment
    read: list[str] = []
    for _ in range(200):
        entries, position = drain(network, page, position)
        read += [entry.external_id for entry in entries]
        if budget["left"] == 0 and not entries:
            break
    graph.while_reading_comments = None
    entries, position = drain(network, page, position)
    read += [entry.external_id for entry in entries]

    assert len(made) == 1500
    assert len(read) == len(set(read)), "no comment is read twice"
    assert set(read) == set(made), "no comment is skipped"


def test_a_post_published_after_the_first_read_is_read_from_its_first_comment(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    _, position = drain(network, page, None)
    post = graph.add_post(page, "New dish")
    made = [graph.comment_as("Ada", post, f"comment {n}")["id"] for n in range(130)]

    entries, _ = drain(network, page, position)

    assert sorted(entry.external_id for entry in entries) == sorted(made)


def test_the_position_keeps_within_its_length_with_many_posts_watched(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    for n in range(60):
        post = graph.add_post(page, f"Post {n}", created=graph.now() - timedelta(hours=60 - n))
        graph.comment_as("Ada", post, "first")
    _, position = drain(network, page, None)
    assert position is not None
    assert len(position) <= MAX_POSITION_LENGTH
    newest = max(graph.posts_of(page), key=lambda post: post["created"])
    comment = graph.comment_as("Grace", newest, "still read")

    entries, _ = drain(network, page, position)

    assert [entry.external_id for entry in entries] == [comment["id"]]


def test_a_thread_is_the_post_then_its_comments_oldest_first(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Terrace open")
    start = graph.now() - timedelta(minutes=10)
    first = graph.comment_as("Ada", post, "Great", created=start)
    second = graph.comment_as("Grace", post, "Agreed", parent=first, created=start + timedelta(minutes=1))

    thread = network.read_thread(account_of(page), second["id"])

    assert [entry.external_id for entry in thread] == [post["id"], first["id"], second["id"]]
    assert thread[0].kind == InboxKind.POST
    assert thread[0].text == "Terrace open"


def test_a_reply_is_a_comment_under_the_comment_it_answers(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Menu")
    comment = graph.comment_as("Ada", post, "Soup?")
    target = ReplyTarget(comment["id"], {"post": post["id"], "comment": comment["id"]})

    made = network.publish(account_of(page), Draft(text="Leek soup today", reply_to=target), KEY)

    [reply] = [c for c in post["comments"] if c["from"] == page.id]
    assert reply["parent"] == comment["id"]
    assert reply["message"] == "Leek soup today"
    assert made.external_id == reply["id"]


@pytest.mark.parametrize("lost", [502, "disconnect"])
def test_a_reply_whose_answer_was_lost_is_found_and_never_made_twice(
    network: FacebookNetwork, graph: FakeGraph, page: Page, lost: int | str
) -> None:
    post = graph.add_post(page, "Menu")
    comment = graph.comment_as("Ada", post, "Soup?")
    draft = Draft(
        text="Leek soup", reply_to=ReplyTarget(comment["id"], {"post": post["id"], "comment": comment["id"]})
    )
    attempted_at = datetime.now(UTC)
    graph.answer_after_storing = [lost]
    with pytest.raises(OutcomeUnknown):
        network.publish(account_of(page), draft, KEY)

    found = network.find_published(
        account_of(page), KEY, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
    )

    [reply] = [c for c in post["comments"] if c["from"] == page.id]
    assert found is not None
    assert found.external_id == reply["id"]


def test_a_reply_that_was_not_made_is_found_missing(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Menu")
    comment = graph.comment_as("Ada", post, "Soup?")
    draft = Draft(
        text="Leek soup", reply_to=ReplyTarget(comment["id"], {"post": post["id"], "comment": comment["id"]})
    )
    attempted_at = datetime.now(UTC) - timedelta(minutes=5)

    found = network.find_published(
        account_of(page), KEY, draft=draft, attempted_at=attempted_at, last_attempted_at=attempted_at
    )

    assert found is None


@pytest.mark.parametrize(
    "ref",
    [{}, {"post": "not-an-id"}, {"post": "1_2", "comment": 7}, {"post": "1_2", "comment": "../x"}],
)
def test_a_reply_to_a_target_facebook_cannot_answer_is_refused_before_sending(
    network: FacebookNetwork, graph: FakeGraph, page: Page, ref: dict[str, Any]
) -> None:
    draft = Draft(text="Hello", reply_to=ReplyTarget("1_2", ref))
    assert network.validate(draft)
    with pytest.raises(Rejected):
        network.publish(account_of(page), draft, KEY)
    assert ("POST", f"/{graph.version}/1_2/comments") not in graph.requests


def test_a_reply_carries_text_alone(network: FacebookNetwork) -> None:
    target = ReplyTarget("1_2", {"post": "9_1", "comment": "1_2"})
    assert network.validate(Draft(text="Hi", reply_to=target)) == []
    assert network.validate(Draft(text="Hi", reply_to=target, options={"first_comment": "more"}))
    assert network.validate(Draft(text="", reply_to=target))


def test_a_comment_is_liked_once_however_often_asked(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Menu")
    comment = graph.comment_as("Ada", post, "Lovely")
    target = ReplyTarget(comment["id"], {"post": post["id"], "comment": comment["id"]})

    network.like(account_of(page), target, KEY)
    network.like(account_of(page), target, KEY)

    assert comment["liked_by"] == {page.id}


def test_a_comment_is_hidden_and_hiding_it_again_is_no_error(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    post = graph.add_post(page, "Menu")
    comment = graph.comment_as("Spammer", post, "Buy now")
    target = ReplyTarget(comment["id"], {"post": post["id"], "comment": comment["id"]})

    network.hide_reply(account_of(page), target, root=post["id"])
    network.hide_reply(account_of(page), target, root=post["id"])

    assert comment["is_hidden"] is True


def test_a_post_deleted_during_a_round_is_left_out_and_the_round_goes_on(
    network: FacebookNetwork, graph: FakeGraph, page: Page
) -> None:
    start = graph.now() - timedelta(hours=1)
    posts = [graph.add_post(page, f"Post {n}", created=start + timedelta(minutes=n)) for n in range(7)]
    first = network.read_inbox(account_of(page), None)
    assert first.more, "seven posts take more than one read"
    with graph.lock:
        del graph.posts[posts[0]["id"]]  # the oldest, which the round has not read yet

    _, position = drain(network, page, first.position)
    comment = graph.comment_as("Ada", posts[3], "Still here")
    entries, _ = drain(network, page, position)

    assert [entry.external_id for entry in entries] == [comment["id"]]


def test_a_replys_preview_counts_it_against_a_comments_limit(network: FacebookNetwork, page: Page) -> None:
    target = ReplyTarget("1_2", {"post": "9_1", "comment": "1_2"})
    [preview] = network.preview(
        account_of(page), Draft(text="x" * (FACEBOOK_COMMENT_LIMIT + 1), reply_to=target)
    )
    assert preview.limit == FACEBOOK_COMMENT_LIMIT
    assert preview.problems
