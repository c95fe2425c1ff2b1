"""The X adapter's inbox against the fake X API v2: mentions read by position while posts keep coming,
replies, quotes and mentions told apart, search, a conversation, replying exactly once, likes and hiding."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared.networks.inbox import (
    MAX_POSITION_LENGTH,
    HidesReplies,
    InboxPage,
    ReactsToPosts,
    ReadsInbox,
    SearchesPosts,
)
from shared.networks.ports import (
    Account,
    Draft,
    InboxKind,
    OutcomeUnknown,
    PostGone,
    RateLimited,
    Rejected,
    ReplyTarget,
)
from shared.networks.x.adapter import XNetwork
from tests.networks.x.fake import FakeTweet, FakeUser, FakeX

KEY = "4b1d6c1e-0000-4000-8000-000000000014"


@pytest.fixture
def bob(server: FakeX) -> FakeUser:
    return server.add_account("bob")


@pytest.fixture
def carol(server: FakeX) -> FakeUser:
    return server.add_account("carol")


def drain(network: XNetwork, account: Account, position: str | None) -> tuple[list[str], str | None]:
    """Read until X has nothing more waiting: the ids read, in order, and the position after them."""
    ids: list[str] = []
    while True:
        page = network.read_inbox(account, position)
        assert page.position is not None
        assert len(page.position) <= MAX_POSITION_LENGTH
        ids += [entry.external_id for entry in page.entries]
        position = page.position
        if not page.more:
            return ids, position


def test_the_adapter_says_what_it_reads_and_does(network: XNetwork) -> None:
    assert isinstance(network, ReadsInbox)
    assert isinstance(network, SearchesPosts)
    assert isinstance(network, ReactsToPosts)
    assert isinstance(network, HidesReplies)
    inbox = network.info.inbox
    assert inbox.kinds == (InboxKind.REPLY, InboxKind.MENTION, InboxKind.QUOTE)
    assert (inbox.can_search, inbox.can_reply, inbox.can_like, inbox.can_hide) == (True,) * 4


# -- Reading mentions by position ---------------------------------------------------------------------


def test_a_first_read_takes_the_latest_page_and_nothing_older(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    older = [server.post_by_hand(bob, f"@alice number {n}") for n in range(250)]

    first = network.read_inbox(account, None)

    assert [entry.external_id for entry in first.entries] == [t.id for t in reversed(older[-100:])]
    assert not first.more
    later = [server.post_by_hand(bob, f"@alice later {n}") for n in range(3)]
    ids, _ = drain(network, account, first.position)
    assert sorted(ids) == sorted(t.id for t in later)


def test_a_first_read_of_an_empty_timeline_reads_everything_after_it(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    first = network.read_inbox(account, None)
    assert first.entries == ()
    assert not first.more

    posted = [server.post_by_hand(bob, f"@alice hello {n}") for n in range(130)]

    ids, _ = drain(network, account, first.position)
    assert sorted(ids) == sorted(t.id for t in posted)


def test_thousands_of_mentions_arriving_while_pages_are_read_are_each_read_once(
    server: FakeX, alice: FakeUser, bob: FakeUser, carol: FakeUser, network: XNetwork, account: Account
) -> None:
    produced: list[FakeTweet] = []
    counter = itertools.count()
    alices = server.post_by_hand(alice, "something to answer")

    def post_some(count: int) -> None:
        for _ in range(count):
            n = next(counter)
            author = (bob, carol)[n % 2]
            if n % 3 == 0:
                produced.append(server.post_by_hand(author, f"thanks {n}", reply_to=alices.id))
            elif n % 3 == 1:
                produced.append(server.post_by_hand(author, f"see @alice {n}", quote=alices.id))
            else:
                produced.append(server.post_by_hand(author, f"hi @alice {n}"))
        server.post_by_hand(carol, f"not about anyone {n}")

    post_some(40)
    first = network.read_inbox(account, None)
    before = {t.id for t in produced}
    assert {entry.external_id for entry in first.entries} == before
    produced.clear()
    # While each page is read, X takes more posts: before the page is chosen and after.
    server.while_reading = lambda: post_some(7)
    position, read = first.position, []
    for round_ in range(30):
        post_some(150 if round_ % 2 else 20)
        ids, position = drain(network, account, position)
        read += ids
    server.while_reading = None
    ids, position = drain(network, account, position)
    read += ids

    assert len(produced) > 3000
    assert not [post_id for post_id, times in Counter(read).items() if times > 1]
    assert set(read) == {t.id for t in produced}
    assert network.read_inbox(account, position).entries == ()


def test_a_pass_under_way_goes_on_from_its_page_token_and_the_next_starts_at_its_newest(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    first = network.read_inbox(account, None)
    assert first.position is not None
    posted = [server.post_by_hand(bob, f"@alice {n}") for n in range(230)]

    one = network.read_inbox(account, first.position)
    assert one.more
    assert one.position is not None
    cursor = json.loads(one.position)
    # The first read found nothing: the pass reads down to the start, from the newest post it found.
    assert cursor["top"] == posted[-1].id
    assert cursor["token"]
    assert "since" not in cursor
    two = network.read_inbox(account, one.position)
    three = network.read_inbox(account, two.position)

    assert (two.more, three.more) == (True, False)
    assert three.position is not None
    assert json.loads(three.position) == {"since": posted[-1].id}
    read = [e.external_id for page in (one, two, three) for e in page.entries]
    assert read == [t.id for t in reversed(posted)]


def test_a_position_this_adapter_did_not_write_is_refused(
    alice: FakeUser, network: XNetwork, account: Account
) -> None:
    with pytest.raises(Rejected, match="not a position"):
        network.read_inbox(account, "since=12")


def test_replies_quotes_and_mentions_are_told_apart(
    server: FakeX, alice: FakeUser, bob: FakeUser, carol: FakeUser, network: XNetwork, account: Account
) -> None:
    first = network.read_inbox(account, None)
    alices = server.post_by_hand(alice, "my post")
    bobs = server.post_by_hand(bob, "bob's own post")
    reply = server.post_by_hand(bob, "well said", reply_to=alices.id)
    quote = server.post_by_hand(carol, "this, @alice", quote=alices.id)
    mention = server.post_by_hand(carol, "hello @alice & co: https://example.com/a?b=1")
    # Replying to Bob and naming Alice, and quoting Bob and naming her: mentions, not about her posts.
    reply_elsewhere = server.post_by_hand(carol, "cc @alice", reply_to=bobs.id)
    quote_elsewhere = server.post_by_hand(carol, "@alice look", quote=bobs.id)
    server.post_by_hand(alice, "talking to myself @alice")  # her own post: not in her inbox
    server.post_by_hand(bob, "not naming her")

    page = network.read_inbox(account, first.position)

    kinds = {entry.external_id: entry.kind for entry in page.entries}
    assert kinds == {
        reply.id: InboxKind.REPLY,
        quote.id: InboxKind.QUOTE,
        mention.id: InboxKind.MENTION,
        reply_elsewhere.id: InboxKind.MENTION,
        quote_elsewhere.id: InboxKind.MENTION,
    }
    entries = {entry.external_id: entry for entry in page.entries}
    answer = entries[reply.id]
    assert (answer.in_reply_to, answer.quotes, answer.thread_root) == (alices.id, None, alices.id)
    assert answer.text == "@alice well said"
    assert answer.reply_target == ReplyTarget(reply.id)
    assert answer.url == f"https://x.com/bob/status/{reply.id}"
    assert (answer.author.handle, answer.author.display_name) == ("bob", "Bob")
    assert answer.author.avatar_url == bob.profile_image_url
    assert answer.author.url == "https://x.com/bob"
    assert answer.created_at.tzinfo is not None
    assert abs(answer.created_at - reply.created_at).total_seconds() < 0.001
    quoting = entries[quote.id]
    assert (quoting.quotes, quoting.in_reply_to, quoting.thread_root) == (alices.id, None, quote.id)
    linking = entries[mention.id]
    assert "https://t.co/" in linking.text
    assert "&amp;" in linking.text
    assert linking.plain_text == "hello @alice & co: https://example.com/a?b=1"


def test_a_reply_to_a_post_alice_published_names_the_id_crier_keeps_for_it(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    first = network.read_inbox(account, None)
    published = network.publish(account, Draft(text="from Crier"), KEY)
    server.post_by_hand(bob, "answer", reply_to=published.external_id)

    (entry,) = network.read_inbox(account, first.position).entries

    assert (entry.kind, entry.in_reply_to) == (InboxKind.REPLY, published.external_id)


def test_reading_spends_xs_window_and_a_429_says_when_it_resets(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    server.read_window_limit = 2
    position = network.read_inbox(account, None).position
    network.read_inbox(account, position)
    with pytest.raises(RateLimited) as limited:
        network.read_inbox(account, position)
    window_end = datetime.fromtimestamp(datetime.now(UTC).timestamp() // 900 * 900 + 900, UTC)
    assert limited.value.reset_at == window_end


def test_more_than_x_reaches_between_two_reads_loses_only_the_oldest(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    # X's limit, not the reader's: the mentions timeline reaches the account's 800 most recent mentions.
    server.mentions_reach = 150
    position = network.read_inbox(account, None).position
    posted = [server.post_by_hand(bob, f"@alice {n}") for n in range(200)]

    ids, _ = drain(network, account, position)

    assert sorted(ids) == sorted(t.id for t in posted[-150:])


# -- Search --------------------------------------------------------------------------------------------


def test_search_reads_matches_by_position_and_a_first_read_only_the_latest_page(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    before = [server.post_by_hand(bob, f"about #crier {n}") for n in range(120)]
    server.post_by_hand(bob, "about something else")

    first = network.search_posts(account, "#crier", None)

    assert [e.external_id for e in first.entries] == [t.id for t in reversed(before[-100:])]
    assert {e.kind for e in first.entries} == {InboxKind.POST}
    assert not first.more
    later = [server.post_by_hand(bob, f"more on #Crier {n}") for n in range(250)]
    server.post_by_hand(bob, "not this one")
    position, read, pages = first.position, [], []
    while True:
        page: InboxPage = network.search_posts(account, "#crier", position)
        read += [e.external_id for e in page.entries]
        pages.append(page.more)
        position = page.position
        if not page.more:
            break
    assert pages == [True, True, False]
    assert sorted(read) == sorted(t.id for t in later)
    assert network.search_posts(account, "#crier", position).entries == ()


def test_a_search_last_read_more_than_seven_days_ago_reads_all_x_still_holds(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    seen = server.post_by_hand(bob, "#crier before")
    position = network.search_posts(account, "#crier", None).position
    seen.created_at -= timedelta(days=8)  # X now refuses it as a since_id
    later = [server.post_by_hand(bob, f"#crier after {n}") for n in range(120)]

    first = network.search_posts(account, "#crier", position)
    second = network.search_posts(account, "#crier", first.position)

    assert (first.more, second.more) == (True, False)
    read = [e.external_id for page in (first, second) for e in page.entries]
    assert sorted(read) == sorted(t.id for t in later)
    assert network.search_posts(account, "#crier", second.position).entries == ()


def test_a_query_x_would_refuse_is_named_before_it_is_saved(network: XNetwork) -> None:
    assert network.query_problems("#crier") == []
    assert network.query_problems("x" * 512) == []
    assert network.query_problems("  ") == ["the query is empty"]
    assert network.query_problems("x" * 513) == [
        "the query is 513 characters long; X's recent search takes at most 512"
    ]


# -- A conversation ------------------------------------------------------------------------------------


def test_a_thread_is_its_first_post_and_the_replies_of_the_last_seven_days_oldest_first(
    server: FakeX, alice: FakeUser, bob: FakeUser, carol: FakeUser, network: XNetwork, account: Account
) -> None:
    root = server.post_by_hand(alice, "a question")
    old = server.post_by_hand(carol, "an old answer", reply_to=root.id)
    old.created_at -= timedelta(days=8)
    answer = server.post_by_hand(bob, "an answer", reply_to=root.id)
    back = server.post_by_hand(alice, "thanks", reply_to=answer.id)
    last = server.post_by_hand(carol, "me too", reply_to=back.id)
    server.post_by_hand(bob, "another conversation")

    thread = network.read_thread(account, back.id)

    assert [entry.external_id for entry in thread] == [root.id, answer.id, back.id, last.id]
    assert old.id not in {entry.external_id for entry in thread}  # recent search: seven days
    kinds = [entry.kind for entry in thread]
    assert kinds == [InboxKind.POST, InboxKind.REPLY, InboxKind.POST, InboxKind.REPLY]
    assert {entry.thread_root for entry in thread} == {root.id}


def test_the_thread_of_a_deleted_post_is_gone(
    server: FakeX, alice: FakeUser, network: XNetwork, account: Account
) -> None:
    post = server.post_by_hand(alice, "soon gone")
    post.deleted = True
    with pytest.raises(PostGone):
        network.read_thread(account, post.id)


# -- Replying ------------------------------------------------------------------------------------------


def test_a_reply_is_posted_under_the_post_and_its_thread_under_the_reply(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    question = server.post_by_hand(bob, "@alice what time is it?")

    post = network.publish(
        account, Draft(text="noon", thread=("give or take",), reply_to=ReplyTarget(question.id)), KEY
    )

    reply, more = server.posts_of(alice)
    assert (reply.reply_to, more.reply_to) == (question.id, reply.id)
    assert reply.text == "@bob noon"
    assert [part.external_id for part in post.parts] == [reply.id, more.id]


def test_validate_refuses_a_reply_to_something_that_is_not_a_post_id(network: XNetwork) -> None:
    assert network.validate(Draft(text="hi", reply_to=ReplyTarget("1234567890123456789"))) == []
    assert network.validate(Draft(text="hi", reply_to=ReplyTarget("at://did:plc:x/post/1"))) == [
        "'at://did:plc:x/post/1' is not an X post's id: it cannot be replied to"
    ]


def test_a_reply_whose_answer_was_lost_is_found_and_not_taken_for_a_post_of_the_same_words(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    question = server.post_by_hand(bob, "@alice coffee?")
    draft = Draft(text="yes please", reply_to=ReplyTarget(question.id))
    attempted_at = datetime.now(UTC)
    server.duplicate_window = attempted_at - attempted_at  # X lets the same words be posted again
    server.post_by_hand(alice, "yes please")  # the same words, not a reply: not the one sent
    server.lose_next_answers(502)
    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)

    found = network.find_published(account, KEY, draft=draft, attempted_at=attempted_at)

    replies = [t for t in server.posts_of(alice) if t.reply_to == question.id]
    assert len(replies) == 1
    assert found is not None
    assert found.external_id == replies[0].id


def test_a_reply_sent_again_after_a_lost_answer_is_the_reply_x_already_has(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    question = server.post_by_hand(bob, "@alice tea?")
    draft = Draft(text="no thanks", reply_to=ReplyTarget(question.id))
    server.lose_next_answers("disconnect")
    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)

    # X refuses the same words as a duplicate; the one it has is this reply, found and not posted twice.
    post = network.publish(account, draft, KEY)

    (reply,) = server.posts_of(alice)
    assert (post.external_id, reply.reply_to) == (reply.id, question.id)


def test_a_reply_absent_after_a_refused_attempt_is_found_absent(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    question = server.post_by_hand(bob, "@alice cake?")
    server.post_by_hand(alice, "always")  # the same words at the top level are not the reply
    draft = Draft(text="always", reply_to=ReplyTarget(question.id))
    attempted_at = datetime.now(UTC)
    server.fail_next_posts(503)
    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)
    assert network.find_published(account, KEY, draft=draft, attempted_at=attempted_at) is None


# -- Likes and hiding ----------------------------------------------------------------------------------


def test_liking_twice_likes_once(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    post = server.post_by_hand(bob, "@alice nice day")
    network.like(account, ReplyTarget(post.id), KEY)
    network.like(account, ReplyTarget(post.id), KEY)
    assert server.likes == {(alice.id, post.id)}


def test_liking_a_deleted_post_finds_it_gone(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    post = server.post_by_hand(bob, "@alice soon gone")
    post.deleted = True
    with pytest.raises(PostGone):
        network.like(account, ReplyTarget(post.id), KEY)
    assert server.likes == set()


def test_a_reply_under_alices_post_is_hidden_and_hiding_it_again_is_no_error(
    server: FakeX, alice: FakeUser, bob: FakeUser, network: XNetwork, account: Account
) -> None:
    alices = server.post_by_hand(alice, "my post")
    rude = server.post_by_hand(bob, "rude words", reply_to=alices.id)

    network.hide_reply(account, ReplyTarget(rude.id), root=alices.id)
    network.hide_reply(account, ReplyTarget(rude.id), root=alices.id)

    assert rude.hidden


def test_a_reply_in_someone_elses_conversation_cannot_be_hidden(
    server: FakeX, alice: FakeUser, bob: FakeUser, carol: FakeUser, network: XNetwork, account: Account
) -> None:
    bobs = server.post_by_hand(bob, "bob's post")
    reply = server.post_by_hand(carol, "@alice look", reply_to=bobs.id)
    with pytest.raises(Rejected, match="403"):
        network.hide_reply(account, ReplyTarget(reply.id), root=None)
    assert not reply.hidden
