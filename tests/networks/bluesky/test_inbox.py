"""The Bluesky adapter's engagement inbox against the fake PDS: notifications and searches read by position
without loss or repeat while more arrive, threads, replies made once, likes made once, replies hidden."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from shared.networks.bluesky.adapter import BlueskyNetwork
from shared.networks.bluesky.record_keys import post_url, record_key
from shared.networks.inbox import (
    MAX_POSITION_LENGTH,
    HidesReplies,
    InboxEntry,
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
from tests.networks.bluesky.fake import LIKE, THREADGATE, FakeAccount, FakePds, serve
from tests.networks.bluesky.test_bluesky import HERE, account_on

KEY = "7c0de000-0000-4000-8000-000000000001"


@pytest.fixture
def pds() -> Iterator[FakePds]:
    yield from serve()


@pytest.fixture
def alice(pds: FakePds) -> FakeAccount:
    return pds.add_account("alice.test", "app-password")


@pytest.fixture
def bob(pds: FakePds) -> FakeAccount:
    bob = pds.add_account("bob.test", "bob-password")
    bob.display_name, bob.avatar = "Bob", "https://cdn.example/bob.jpg"
    return bob


@pytest.fixture
def carol(pds: FakePds) -> FakeAccount:
    return pds.add_account("carol.test", "carol-password")


@pytest.fixture
def network() -> BlueskyNetwork:
    # A read timeout short enough that a stalled write is given up on in a second.
    return BlueskyNetwork(HERE, http=HERE.client(httpx.Timeout(2.0, read=1.0)))


@pytest.fixture
def patient_network() -> BlueskyNetwork:
    # The fake makes people's posts inside a read (while_reading): hundreds of records before it answers,
    # which took over a second on a loaded CI machine. These tests count what is read, not how fast.
    return BlueskyNetwork(HERE, http=HERE.client(httpx.Timeout(2.0, read=60.0)))


def newest_first(pds: FakePds, uris: list[str], *, by: str = "indexedAt") -> list[str]:
    """The URIs in the order the AppView lists them: by the millisecond it indexed them (by sortAt in a
    search), then by cid."""
    when = (lambda uri: pds.records[uri]["indexed_ms"]) if by == "indexedAt" else pds.sort_ms
    return sorted(uris, key=lambda uri: (when(uri), pds.records[uri]["cid"]), reverse=True)


def drain(read: Callable[[str | None], InboxPage], position: str | None) -> tuple[list[str], str | None]:
    """Read until the adapter says nothing more is waiting; the ids read, in order, and the position."""
    ids: list[str] = []
    while True:
        page = read(position)
        assert page.position is None or len(page.position) <= MAX_POSITION_LENGTH
        ids += [entry.external_id for entry in page.entries]
        position = page.position
        if not page.more:
            return ids, position


# -- What the adapter says it does ---------------------------------------------------------------------


def test_the_adapter_reads_replies_mentions_and_quotes_and_can_answer_them(network: BlueskyNetwork) -> None:
    inbox = network.info.inbox
    assert inbox.kinds == (InboxKind.REPLY, InboxKind.MENTION, InboxKind.QUOTE)
    assert (inbox.can_search, inbox.can_reply, inbox.can_like, inbox.can_hide) == (True, True, True, True)
    assert isinstance(network, ReadsInbox)
    assert isinstance(network, SearchesPosts)
    assert isinstance(network, ReactsToPosts)
    assert isinstance(network, HidesReplies)


# -- Reading notifications -----------------------------------------------------------------------------


def test_the_first_read_takes_the_latest_page_only_and_later_reads_only_what_came_after(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    mine = network.publish(account, Draft(text="Say something"), KEY).external_id
    older = [pds.post_as(bob, f"old {n}", reply_to=mine) for n in range(150)]

    first = network.read_inbox(account, None)

    assert [entry.external_id for entry in first.entries] == newest_first(pds, older)[:100]
    assert first.more is False
    again = network.read_inbox(account, first.position)
    assert again.entries == ()
    assert again.more is False
    newer = [pds.post_as(bob, f"new {n}", reply_to=mine) for n in range(3)]
    assert drain(lambda p: network.read_inbox(account, p), again.position)[0] == newest_first(pds, newer)


def test_an_account_with_no_notifications_yet_reads_all_that_arrive_later(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    first = network.read_inbox(account, None)
    assert first.entries == ()
    mine = network.publish(account, Draft(text="Hello"), KEY).external_id
    replies = {pds.post_as(bob, f"reply {n}", reply_to=mine) for n in range(130)}

    ids, _ = drain(lambda p: network.read_inbox(account, p), first.position)

    assert sorted(ids) == sorted(replies)


@pytest.mark.parametrize("ignore_reasons", [False, True], ids=["reasons-honoured", "reasons-ignored"])
def test_replies_mentions_and_quotes_become_entries_and_likes_do_not(
    network: BlueskyNetwork,
    pds: FakePds,
    alice: FakeAccount,
    bob: FakeAccount,
    carol: FakeAccount,
    ignore_reasons: bool,
) -> None:
    pds.ignore_reasons = ignore_reasons
    account = account_on(pds)
    position = network.read_inbox(account, None).position
    mine = network.publish(account, Draft(text="A post of mine"), KEY).external_id
    carols = pds.post_as(carol, "Carol starts a thread")
    mine_in_carols = network.publish(
        account, Draft(text="Alice answers Carol"), KEY + "-2"
    ).external_id  # not a reply: only the mention below is in Carol's thread
    reply = pds.post_as(bob, "Nice post", reply_to=mine)
    mention = pds.post_as(bob, "Look at this, says", mention=alice, reply_to=carols)
    quote = pds.post_as(bob, "Quoting it", quote=mine)
    pds.like_as(bob, mine)
    pds.like_as(carol, mine_in_carols)

    page = network.read_inbox(account, position)

    by_id = {entry.external_id: entry for entry in page.entries}
    assert set(by_id) == {reply, mention, quote}
    answered = by_id[reply]
    assert answered.kind is InboxKind.REPLY
    assert (answered.author.handle, answered.author.display_name) == ("bob.test", "Bob")
    assert answered.author.avatar_url == "https://cdn.example/bob.jpg"
    assert answered.author.url == f"https://bsky.app/profile/{bob.did}"
    assert answered.text == answered.plain_text == "Nice post"
    assert answered.url == post_url(reply)
    assert answered.in_reply_to == mine
    assert answered.thread_root == mine
    assert answered.quotes is None
    assert answered.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - answered.created_at).total_seconds()) < 60
    assert answered.reply_target == ReplyTarget(
        reply,
        {"cid": pds.records[reply]["cid"], "root_uri": mine, "root_cid": pds.records[mine]["cid"]},
    )
    named = by_id[mention]
    assert named.kind is InboxKind.MENTION
    assert named.text == "Look at this, says @alice.test"
    assert (named.in_reply_to, named.thread_root) == (carols, carols)
    assert named.reply_target.ref["root_uri"] == carols
    quoting = by_id[quote]
    assert quoting.kind is InboxKind.QUOTE
    assert quoting.quotes == mine
    assert quoting.in_reply_to is None
    assert quoting.thread_root == quote  # a post that answers none starts its own thread
    assert quoting.reply_target.ref == {
        "cid": pds.records[quote]["cid"],
        "root_uri": quote,
        "root_cid": pds.records[quote]["cid"],
    }


def test_a_notification_crier_cannot_read_is_passed_over_and_the_rest_are_read(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    position = network.read_inbox(account, None).position
    mine = network.publish(account, Draft(text="Hello"), KEY).external_id
    broken, fine = (pds.post_as(bob, f"reply {n}", reply_to=mine) for n in range(2))
    pds.records[broken]["value"] = ["not", "a", "record"]

    ids, position = drain(lambda p: network.read_inbox(account, p), position)

    assert ids == [fine]
    assert network.read_inbox(account, position).entries == ()


def test_thousands_arriving_while_pages_are_read_are_each_read_once(
    patient_network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount, carol: FakeAccount
) -> None:
    account = account_on(pds)
    mine = patient_network.publish(account, Draft(text="Busy post"), KEY).external_id
    chance = random.Random(14)
    made: list[str] = []
    liked = 0

    def somebody_says_something() -> None:
        nonlocal liked
        author = chance.choice([bob, carol])
        kind = chance.choice(["reply", "mention", "quote", "like"])
        if kind == "like":
            pds.like_as(author, mine)  # listed by an AppView that ignores `reasons`; never an entry
            liked += 1
        elif kind == "reply":
            made.append(pds.post_as(author, "a reply", reply_to=mine))
        elif kind == "mention":
            made.append(pds.post_as(author, "hello", mention=alice))
        else:
            made.append(pds.post_as(author, "quoting", quote=mine))

    for _ in range(250):
        somebody_says_something()
    pds.ignore_reasons = True
    first = patient_network.read_inbox(account, None)
    expected = {entry.external_id for entry in first.entries}
    assert len(expected) < 100, "the likes on the first page are not entries"
    made.clear()

    pages = 0

    def while_reading() -> None:
        nonlocal pages
        pages += 1
        for _ in range(chance.randrange(0, 90)):
            somebody_says_something()
        if pages == 7:
            pds.expire_access_tokens()  # renewed without the reader noticing
        if pages == 11:
            pds.read_errors.append((429, "RateLimitExceeded", "Rate Limit Exceeded"))

    pds.while_reading = while_reading
    read: list[str] = [entry.external_id for entry in first.entries]
    position = first.position
    resets: list[datetime | None] = []
    while len(made) < 3000:
        try:
            ids, position = drain(lambda p: patient_network.read_inbox(account, p), position)
        except RateLimited as waiting:
            resets.append(waiting.reset_at)
            continue  # the position passed is kept: the same read is asked again
        read += ids
    pds.while_reading = None
    read += drain(lambda p: patient_network.read_inbox(account, p), position)[0]

    # The end of the fake's hour of points, as RateLimit-Reset said (this hour's, or the last if one ended).
    hour_began = int(datetime.now(UTC).timestamp()) // 3600 * 3600
    assert resets in [[datetime.fromtimestamp(t, UTC)] for t in (hour_began + 3600, hour_began)]
    assert len(read) == len(set(read)), "no entry is read twice"
    assert set(read) == expected | set(made), "every entry made after the first read is read"
    assert pages > 30


def test_more_at_one_millisecond_than_a_position_remembers_may_come_twice_but_never_go_missing(
    patient_network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    mine = patient_network.publish(account, Draft(text="Busy post"), KEY).external_id
    position = patient_network.read_inbox(account, None).position
    # Every reply indexed in one millisecond: far beyond one account's notifications on the real network.
    pds.records_per_millisecond = 1000
    pds.clock_ms = lambda: 1_900_000_000_000
    made: list[str] = []
    pds.while_reading = lambda: made.extend(
        pds.post_as(bob, "a reply", reply_to=mine) for _ in range(150 if len(made) < 600 else 0)
    )

    read, position = drain(lambda p: patient_network.read_inbox(account, p), position)
    pds.while_reading = None
    read += drain(lambda p: patient_network.read_inbox(account, p), position)[0]

    assert len({pds.records[uri]["indexed_ms"] for uri in made}) == 1
    assert set(read) == set(made)


# -- Threads -------------------------------------------------------------------------------------------


def test_a_thread_reads_from_its_first_post_down_to_the_replies(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount, carol: FakeAccount
) -> None:
    account = account_on(pds)
    root = network.publish(account, Draft(text="Root"), KEY).external_id
    made: list[str] = []
    for author, text, parent in [
        (bob, "Bob answers", root),
        (alice, "Alice answers Bob", None),
        (carol, "Carol answers Alice", None),
        (carol, "Carol answers the root", root),
    ]:
        time.sleep(0.002)  # each a millisecond of its own: replies are ordered by createdAt
        made.append(pds.post_as(author, text, reply_to=parent or made[-1]))
    first, second, third, aside = made

    around_second = network.read_thread(account, second)
    whole = network.read_thread(account, root)

    assert [entry.external_id for entry in around_second] == [root, first, second, third]
    assert [entry.external_id for entry in whole] == [root, first, second, third, aside]
    assert [entry.kind for entry in around_second] == [InboxKind.POST] + [InboxKind.REPLY] * 3
    assert around_second[3].in_reply_to == second
    assert all(entry.thread_root == root for entry in whole)


def test_the_thread_of_a_post_that_is_gone_says_so(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    account = account_on(pds)
    uri = network.publish(account, Draft(text="Soon gone"), KEY).external_id
    network.delete(account, uri)
    with pytest.raises(PostGone):
        network.read_thread(account, uri)


# -- Searching -----------------------------------------------------------------------------------------


def test_a_search_reads_every_new_match_once_while_new_posts_push_its_pages_down(
    patient_network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount, carol: FakeAccount
) -> None:
    account = account_on(pds)
    chance = random.Random(7)
    matching: list[str] = []

    def people_post() -> None:
        # Often more than a page between two pages read: a pass goes on over pages the new posts push down.
        for _ in range(chance.randrange(0, 220)):
            author = chance.choice([bob, carol])
            if chance.random() < 0.7:
                matching.append(pds.post_as(author, f"I like #Crier number {chance.random()}"))
            else:
                pds.post_as(author, "something else entirely")

    people_post()
    people_post()
    first = patient_network.search_posts(account, "#crier", None)
    assert [entry.external_id for entry in first.entries] == newest_first(pds, matching, by="sortAt")[:100]
    assert all(entry.kind is InboxKind.POST for entry in first.entries)
    expected = {entry.external_id for entry in first.entries}
    matching.clear()

    pds.while_reading = people_post
    read = [entry.external_id for entry in first.entries]
    position = first.position
    while len(matching) < 2000:
        ids, position = drain(lambda p: patient_network.search_posts(account, "#crier", p), position)
        read += ids
    pds.while_reading = None
    read += drain(lambda p: patient_network.search_posts(account, "#crier", p), position)[0]

    assert len(read) == len(set(read))
    assert set(read) == expected | set(matching)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("word " * 200, "at most 640"),
        ("#" + "a" * 65, "longer than a Bluesky hashtag"),
    ],
)
def test_a_search_that_cannot_work_is_explained(network: BlueskyNetwork, query: str, problem: str) -> None:
    assert any(problem in said for said in network.query_problems(query))


def test_words_and_hashtags_are_searchable(network: BlueskyNetwork) -> None:
    assert network.query_problems("#crier") == []
    assert network.query_problems("social scheduling") == []


# -- Replying ------------------------------------------------------------------------------------------


def reply_entry(network: BlueskyNetwork, account: Account, pds: FakePds, bob: FakeAccount) -> InboxEntry:
    """Bob's reply to Alice's post, as the inbox reads it."""
    position = network.read_inbox(account, None).position
    mine = network.publish(account, Draft(text="What do you think?"), "root-" + KEY).external_id
    pds.post_as(bob, "I think so", reply_to=mine)
    [entry] = network.read_inbox(account, position).entries
    return entry


def test_a_reply_whose_answer_was_lost_is_found_and_never_made_twice(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    entry = reply_entry(network, account, pds, bob)
    draft = Draft(text="Thanks, Bob", thread=("And another thing",), reply_to=entry.reply_target)
    assert network.validate(draft) == []

    pds.stall_next_writes = 1
    with pytest.raises(OutcomeUnknown):
        network.publish(account, draft, KEY)
    found = network.find_published(account, KEY, draft=draft)
    published = network.publish(account, draft, KEY)

    assert found is not None
    assert found.external_id == published.external_id
    answers = [uri for uri in pds.posts_of(alice) if uri != entry.reply_target.ref["root_uri"]]
    assert sorted(answers) == sorted([published.external_id, *published.thread_ids])
    root = {"uri": entry.reply_target.ref["root_uri"], "cid": entry.reply_target.ref["root_cid"]}
    first = pds.records[published.external_id]
    assert first["value"]["reply"] == {
        "root": root,
        "parent": {"uri": entry.external_id, "cid": entry.reply_target.ref["cid"]},
    }
    assert pds.records[published.thread_ids[0]]["value"]["reply"] == {
        "root": root,
        "parent": {"uri": published.external_id, "cid": first["cid"]},
    }


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (ReplyTarget("https://bsky.app/profile/x/post/y", {}), "names no Bluesky post"),
        (
            ReplyTarget("at://did:plc:abc/app.bsky.feed.post/3k", {"root_uri": "at://did:plc:abc"}),
            "as its thread's first post",
        ),
        (
            ReplyTarget(
                "at://did:plc:abc/app.bsky.feed.post/3k",
                {"root_uri": "at://did:plc:abc/app.bsky.feed.post/3k", "root_cid": "bafy"},
            ),
            "lacks the content id of the post answered",
        ),
    ],
)
def test_a_reply_to_a_target_that_cannot_be_answered_is_refused(
    network: BlueskyNetwork, target: ReplyTarget, problem: str
) -> None:
    assert any(problem in said for said in network.validate(Draft(text="Hi", reply_to=target)))


# -- Liking and hiding ---------------------------------------------------------------------------------


def test_a_like_asked_for_twice_after_a_lost_answer_is_one_like(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    entry = reply_entry(network, account, pds, bob)

    pds.stall_next_writes = 1
    with pytest.raises(OutcomeUnknown):
        network.like(account, entry.reply_target, KEY)
    network.like(account, entry.reply_target, KEY)
    network.like(account, entry.reply_target, KEY)

    likes = pds.records_in(alice, LIKE)
    assert list(likes) == [f"at://{alice.did}/{LIKE}/{record_key(KEY)}"]
    [like] = likes.values()
    assert like["value"]["subject"] == {"uri": entry.external_id, "cid": entry.reply_target.ref["cid"]}
    assert pds.records[entry.external_id]["likeCount"] == 1
    assert len(pds.requests_to("com.atproto.repo.createRecord")) == 2, "Alice's post and one like"


def test_a_like_without_the_post_s_content_id_is_refused_before_anything_is_sent(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount
) -> None:
    target = ReplyTarget(f"at://{alice.did}/app.bsky.feed.post/3kabc", {})
    with pytest.raises(Rejected, match="content id"):
        network.like(account_on(pds), target, KEY)
    assert pds.requests == []


def test_hiding_replies_keeps_them_in_the_threadgate_of_the_account_s_post(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount, carol: FakeAccount
) -> None:
    account = account_on(pds)
    entry = reply_entry(network, account, pds, bob)
    root = entry.reply_target.ref["root_uri"]
    other = pds.post_as(carol, "Me too", reply_to=root)

    network.hide_reply(account, entry.reply_target, root=None)
    network.hide_reply(account, entry.reply_target, root=root)  # hidden already: nothing to change
    network.hide_reply(account, ReplyTarget(other, {"cid": pds.records[other]["cid"]}), root=root)

    [gate] = pds.records_in(alice, THREADGATE).values()
    assert gate["value"]["post"] == root
    assert gate["value"]["hiddenReplies"] == [entry.external_id, other]
    assert len(pds.requests_to("com.atproto.repo.putRecord")) == 2


def test_a_threadgate_changed_meanwhile_is_read_again_not_overwritten(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount
) -> None:
    account = account_on(pds)
    entry = reply_entry(network, account, pds, bob)
    root = entry.reply_target.ref["root_uri"]
    rkey = root.rsplit("/", 1)[1]

    class PersonEditsFirst(BlueskyNetwork):
        """Between the adapter's read of the threadgate and its write, the person sets who may reply."""

        edited = False

        def _existing_record(self, channel, did, collection, rkey_):  # type: ignore[no-untyped-def]
            found = super()._existing_record(channel, did, collection, rkey_)
            if collection == THREADGATE and not self.edited:
                self.edited = True
                with pds.lock:
                    pds._store(
                        alice,
                        THREADGATE,
                        rkey,
                        {"$type": THREADGATE, "post": root, "createdAt": "2026-01-01T00:00:00Z", "allow": []},
                    )
            return found

    PersonEditsFirst(HERE, http=HERE.client(httpx.Timeout(2.0))).hide_reply(
        account, entry.reply_target, root=root
    )

    [gate] = pds.records_in(alice, THREADGATE).values()
    assert gate["value"]["allow"] == [], "the person's reply settings are kept"
    assert gate["value"]["hiddenReplies"] == [entry.external_id]


def test_only_the_thread_s_author_may_hide_replies(
    network: BlueskyNetwork, pds: FakePds, alice: FakeAccount, bob: FakeAccount, carol: FakeAccount
) -> None:
    bobs = pds.post_as(bob, "Bob's thread")
    reply = pds.post_as(carol, "Carol answers", reply_to=bobs)
    target = ReplyTarget(reply, {"cid": "x", "root_uri": bobs, "root_cid": "y"})
    with pytest.raises(Rejected, match="only the author"):
        network.hide_reply(account_on(pds), target, root=None)
    assert pds.records_in(alice, THREADGATE) == {}
