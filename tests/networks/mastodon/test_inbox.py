"""The Mastodon adapter's engagement inbox against the fake server over real HTTP: notifications read by
position, conversations, saved searches, favourites and replies."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from shared.networks.inbox import (
    MAX_POSITION_LENGTH,
    HidesReplies,
    InboxPage,
    ReactsToPosts,
    ReadsInbox,
    SearchesPosts,
)
from shared.networks.mastodon.adapter import MastodonNetwork
from shared.networks.mastodon.html_text import plain_text
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    InboxKind,
    OutcomeUnknown,
    PostGone,
    RateLimited,
    Rejected,
    ReplyTarget,
)
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon, RecordedRequest, serve
from tests.networks.mastodon.test_mastodon import account_on, make_network

KEY = "5b0e7a52-0000-4000-8000-000000000014"


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    yield from serve()


@pytest.fixture
def alice(server: FakeMastodon) -> FakeAccount:
    return server.add_account("alice", token="alice-token")


@pytest.fixture
def network() -> MastodonNetwork:
    return make_network()


@pytest.fixture
def reader() -> MastodonNetwork:
    # A server answering pages while others keep adding to them may take longer than half a second.
    return make_network(read_timeout=10.0)


def drain(network: MastodonNetwork, account: Account, position: str | None) -> tuple[list[str], str | None]:
    """Read as Crier does: again at once while the network says more is waiting."""
    read: list[str] = []
    while True:
        page = network.read_inbox(account, position)
        read += [entry.external_id for entry in page.entries]
        position = page.position
        if not page.more:
            return read, position


# -- What the adapter offers ---------------------------------------------------------------------------


def test_the_adapter_says_it_reads_replies_mentions_quotes_and_messages_and_cannot_hide() -> None:
    network = MastodonNetwork()
    inbox = network.info.inbox

    assert set(inbox.kinds) == {
        InboxKind.REPLY,
        InboxKind.MENTION,
        InboxKind.QUOTE,
        InboxKind.DIRECT_MESSAGE,
    }
    assert (inbox.can_search, inbox.can_reply, inbox.can_like, inbox.can_hide) == (True, True, True, False)
    assert isinstance(network, ReadsInbox)
    assert isinstance(network, SearchesPosts)
    assert isinstance(network, ReactsToPosts)
    assert not isinstance(network, HidesReplies)


# -- Reading notifications -----------------------------------------------------------------------------


def test_each_notification_becomes_the_entry_its_status_is_to_the_account(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    mine = server.post_by_hand(alice, "Out today: the new release")
    reply = server.post_by("bob", "@alice congratulations!", in_reply_to=mine["id"])
    mention = server.post_by("carol@elsewhere.example", "Have you seen what @alice made?")
    message = server.post_by("dave", "@alice a word in private", visibility="direct")
    quote = server.post_by("erin", "This is big", quoting=mine["id"])
    server.favourite_by("frank", mine["id"])  # not asked for

    page = network.read_inbox(account_on(server), None)

    by_id = {entry.external_id: entry for entry in page.entries}
    assert [entry.external_id for entry in page.entries] == [
        reply["id"],
        mention["id"],
        message["id"],
        quote["id"],
    ]
    assert {status_id: entry.kind for status_id, entry in by_id.items()} == {
        reply["id"]: InboxKind.REPLY,
        mention["id"]: InboxKind.MENTION,
        message["id"]: InboxKind.DIRECT_MESSAGE,
        quote["id"]: InboxKind.QUOTE,
    }
    answer = by_id[reply["id"]]
    assert answer.in_reply_to == mine["id"]
    assert answer.thread_root is None  # only the context says, and it is not read for each entry
    assert answer.author.handle == "bob"
    assert answer.author.display_name == "Bob"
    assert answer.author.avatar_url == f"{server.base_url}/avatars/bob.png"
    assert answer.text.startswith("<p>")
    assert answer.plain_text == "@alice congratulations!"
    assert answer.url == f"{server.base_url}/@bob/{reply['id']}"
    assert answer.created_at.tzinfo is not None
    assert answer.created_at.utcoffset() == UTC.utcoffset(None)
    assert answer.reply_target == ReplyTarget(reply["id"], ref={"acct": "bob", "visibility": "public"})
    assert by_id[mention["id"]].author.handle == "carol@elsewhere.example"
    assert by_id[mention["id"]].thread_root == mention["id"]
    assert by_id[message["id"]].reply_target.ref["visibility"] == "direct"
    assert by_id[quote["id"]].quotes == mine["id"]
    assert by_id[quote["id"]].plain_text == "This is big", "the quote's RE: paragraph is left out"
    # The position is a notification's id, which is not the id of any status.
    position = json.loads(page.position or "")
    assert position["after"] not in {status["id"] for status in server.all_statuses()}
    assert position["after"] == max(n.id for n in server.notifications if n.type != "favourite")


def test_only_mentions_and_quotes_are_asked_for(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    network.read_inbox(account_on(server), None)

    (request,) = server.requests_to("GET", "/api/v1/notifications")
    assert request.query["types[]"] == ["mention", "quote"]
    assert request.query["limit"] == ["80"], "the most a page may hold (methods/notifications)"


def test_a_first_read_takes_only_the_latest_page(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    older = [server.post_by("bob", f"@alice number {n}") for n in range(200)]

    first = network.read_inbox(account_on(server), None)

    assert [entry.external_id for entry in first.entries] == [status["id"] for status in older[-80:]]
    assert first.more is False, "nothing older than the latest page is read"
    again = network.read_inbox(account_on(server), first.position)
    assert (again.entries, again.more) == ((), False)
    newer = server.post_by("carol", "@alice and one more")
    assert [e.external_id for e in network.read_inbox(account_on(server), again.position).entries] == [
        newer["id"]
    ]


def test_a_first_read_of_an_empty_inbox_reads_everything_that_comes_after_it(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    first = network.read_inbox(account_on(server), None)
    later = [server.post_by("bob", f"@alice number {n}") for n in range(100)]

    read, _ = drain(network, account_on(server), first.position)

    assert first.entries == ()
    assert read == [status["id"] for status in later]


def test_thousands_arriving_while_the_pages_are_read_are_each_read_once(
    server: FakeMastodon, alice: FakeAccount, reader: MastodonNetwork
) -> None:
    mine = server.post_by_hand(alice, "Something to answer")
    draw = random.Random(14)
    produced: list[str] = []
    kinds = Counter[str]()

    def someone_says_something() -> None:
        kind = draw.choice(["mention", "reply", "message", "quote", "favourite"])
        kinds[kind] += 1
        author = f"user{draw.randrange(50)}"
        if kind == "favourite":
            server.favourite_by(author, mine["id"])  # noise the reader must not take
            return
        status = server.post_by(
            author,
            f"@alice {kind} {len(produced)}" if kind != "quote" else f"quoting {len(produced)}",
            in_reply_to=mine["id"] if kind == "reply" else None,
            visibility="direct" if kind == "message" else "public",
            quoting=mine["id"] if kind == "quote" else None,
        )
        produced.append(status["id"])

    for _ in range(300):
        someone_says_something()

    def arrivals(request: RecordedRequest) -> None:
        # Between and during the reads: each request of the notifications brings up to a page and a half.
        if request.path == "/api/v1/notifications" and len(produced) < 4000:
            for _ in range(draw.randrange(0, 120)):
                someone_says_something()

    server.on_request = arrivals
    first = reader.read_inbox(account_on(server), None)
    read = [entry.external_id for entry in first.entries]
    position = first.position
    while len(produced) < 4000:
        more, position = drain(reader, account_on(server), position)
        read += more
    server.on_request = None
    rest, _ = drain(reader, account_on(server), position)
    read += rest

    # Each status made one notification, in the order of the ids: the first read took the latest 80.
    expected = [status_id for status_id in produced if int(status_id) >= int(read[0])]
    assert len(first.entries) == 80
    assert len(read) == len(set(read)), "no entry is read twice"
    assert set(read) == set(expected), "no entry is lost"
    assert len(read) > 3500
    assert min(kinds.values()) > 100


def test_a_position_crier_did_not_make_is_refused(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    with pytest.raises(Rejected, match="not one Crier made"):
        network.read_inbox(account_on(server), "after=12")


def test_a_revoked_token_asks_for_reconnection(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.revoke("alice-token")
    with pytest.raises(AuthExpired):
        network.read_inbox(account_on(server), None)


def test_reading_too_fast_carries_the_time_the_limit_resets(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    server.api_calls_per_window = 2
    page = network.read_inbox(account_on(server), None)
    network.read_inbox(account_on(server), page.position)

    with pytest.raises(RateLimited) as raised:
        network.read_inbox(account_on(server), page.position)

    reset_at = raised.value.reset_at
    assert reset_at is not None
    period = int(server.api_window.total_seconds())
    assert reset_at.timestamp() % period == 0
    assert datetime.now(UTC) < reset_at <= datetime.now(UTC) + server.api_window


# -- The text of a status ------------------------------------------------------------------------------


def test_plain_text_keeps_paragraphs_line_breaks_and_whole_links(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    text = "Hello @alice,\nsee https://example.com/a/rather/long/path/to/a/page?x=1 & #Crier\n\nBye <3"
    server.post_by("bob", text)

    (entry,) = network.read_inbox(account_on(server), None).entries

    assert 'class="invisible"' in entry.text
    assert entry.plain_text == text


def test_plain_text_leaves_out_a_quotes_fallback_and_reads_blocks_apart() -> None:
    content = (
        '<p class="quote-inline">RE: <a href="https://m.example/@a/1">https://m.example/@a/1</a></p>'
        "<p>First<br />second</p><ul><li>one</li><li>two &amp; three</li></ul><blockquote>said</blockquote>"
    )
    assert plain_text(content) == "First\nsecond\n\none\n\ntwo & three\n\nsaid"


# -- A conversation ------------------------------------------------------------------------------------


def test_a_thread_is_read_oldest_first_from_its_root(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    root = server.post_by_hand(alice, "What do you think?")
    first = server.post_by("bob", "@alice yes", in_reply_to=root["id"])
    second = server.post_by("dave", "@alice no", in_reply_to=root["id"])
    under_first = server.post_by("carol", "@bob why?", in_reply_to=first["id"])

    whole = network.read_thread(account_on(server), root["id"])
    from_first = network.read_thread(account_on(server), first["id"])

    # Mastodon lists the descendants in the order of the tree (first, under_first, second); a thread is
    # read in the order it was said.
    assert [e.external_id for e in whole] == [root["id"], first["id"], second["id"], under_first["id"]]
    assert [e.external_id for e in from_first] == [root["id"], first["id"], under_first["id"]]
    assert {e.thread_root for e in whole} == {root["id"]}
    assert [e.kind for e in whole] == [InboxKind.POST, InboxKind.REPLY, InboxKind.REPLY, InboxKind.POST]
    with pytest.raises(PostGone):
        network.read_thread(account_on(server), "1")


# -- Saved searches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("#", "empty"),
        ("#no-dashes", "not a hashtag"),
        ("#a.b", "not a hashtag"),
        ("#2024", "needs a letter"),
        ("x" * 501, "at most 500"),
    ],
)
def test_unsearchable_queries_are_explained(query: str, problem: str) -> None:
    problems = MastodonNetwork().query_problems(query)
    assert any(problem in each for each in problems), problems


@pytest.mark.parametrize("query", ["#crier", "#Über_Alles", "#café·bar", "open source", "#tag and words"])
def test_tags_and_words_can_be_searched(query: str) -> None:
    assert MastodonNetwork().query_problems(query) == []


def test_a_hashtag_is_read_from_its_timeline_page_by_page(
    server: FakeMastodon, alice: FakeAccount, reader: MastodonNetwork
) -> None:
    before = [server.post_by("bob", f"#Crier number {n}") for n in range(50)]
    server.post_by("bob", "nothing tagged")
    server.post_by("carol", "#crier but private", visibility="private")

    first = reader.search_posts(account_on(server), "#crier", None)
    later = [server.post_by(f"user{n % 7}", f"more about #crier {n}") for n in range(130)]
    read, position, more = [], first.position, True
    while more:
        page = reader.search_posts(account_on(server), "#crier", position)
        read += [entry.external_id for entry in page.entries]
        position, more = page.position, page.more

    assert [e.external_id for e in first.entries] == [status["id"] for status in before[-40:]]
    assert {e.kind for e in first.entries} == {InboxKind.POST}
    assert read == [status["id"] for status in later]
    assert server.requests_to("GET", "/api/v1/timelines/tag/crier")


def test_words_are_searched_down_from_the_newest_and_drained_while_more_arrive(
    server: FakeMastodon, alice: FakeAccount, reader: MastodonNetwork
) -> None:
    for n in range(50):
        server.post_by("bob", f"release notes {n}")
    first = reader.search_posts(account_on(server), "release notes", None)
    produced = [server.post_by("carol", f"new release notes {n}")["id"] for n in range(130)]
    server.post_by("dave", "only release")

    def arrivals(request: RecordedRequest) -> None:
        if request.path == "/api/v2/search" and len(produced) < 400:
            produced.extend(server.post_by("erin", f"Release Notes {len(produced)}")["id"] for _ in range(15))

    server.on_request = arrivals
    read: list[str] = []
    position, more = first.position, True
    while more or len(produced) < 400:
        page = reader.search_posts(account_on(server), "release notes", position)
        read += [entry.external_id for entry in page.entries]
        assert len(page.position or "") <= MAX_POSITION_LENGTH
        position, more = page.position, page.more
        server.on_request = arrivals if len(produced) < 400 else None
    # What came during the last read is there for the next poll.
    more = True
    while more:
        page = reader.search_posts(account_on(server), "release notes", position)
        read += [entry.external_id for entry in page.entries]
        position, more = page.position, page.more

    assert len(first.entries) == 40
    assert reader.search_posts(account_on(server), "release notes", position).entries == ()
    assert len(read) == len(set(read)), "no status is read twice"
    assert set(read) == set(produced), "none is lost"


def test_a_server_without_full_text_search_finds_no_words(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    # Mastodon answers no statuses then, and does not say why: statuses_search_service.rb needs Elasticsearch.
    server.full_text_search = False
    server.post_by("bob", "release notes")

    page = network.search_posts(account_on(server), "release notes", None)

    assert page.entries == ()


def test_an_unsearchable_query_is_refused_before_asking(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    with pytest.raises(Rejected, match="not a hashtag"):
        network.search_posts(account_on(server), "#no-dashes", None)
    assert server.requests_to("GET", "/api/v") == []


# -- Favourites ----------------------------------------------------------------------------------------


def test_liking_twice_keeps_one_favourite(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    status = server.post_by("bob", "@alice hello")
    target = ReplyTarget(status["id"], ref={"acct": "bob"})

    network.like(account_on(server), target, KEY)
    network.like(account_on(server), target, KEY)

    assert server.favourites_of(status["id"]) == {alice.id}
    assert server.statuses[status["id"]]["favourites_count"] == 1


def test_a_like_whose_answer_was_lost_is_asked_again_and_still_one(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    status = server.post_by("bob", "@alice hello")
    target = ReplyTarget(status["id"], ref={"acct": "bob"})
    server.answer_after_storing = [502]

    with pytest.raises(OutcomeUnknown):
        network.like(account_on(server), target, KEY)
    network.like(account_on(server), target, KEY)

    assert server.favourites_of(status["id"]) == {alice.id}


def test_liking_a_deleted_post_says_it_is_gone(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    with pytest.raises(PostGone):
        network.like(account_on(server), ReplyTarget("404", ref={"acct": "bob"}), KEY)


# -- Replying ------------------------------------------------------------------------------------------


def entry_for(server: FakeMastodon, network: MastodonNetwork, status_id: str) -> ReplyTarget:
    page: InboxPage = network.read_inbox(account_on(server), None)
    (entry,) = [entry for entry in page.entries if entry.external_id == status_id]
    return entry.reply_target


def test_a_reply_answers_the_post_and_names_its_author(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    question = server.post_by("bob@elsewhere.example", "@alice when is it out?")
    target = entry_for(server, network, question["id"])

    published = network.publish(account_on(server), Draft(text="Today!", thread=("And more",)), KEY)
    reply = network.publish(
        account_on(server), Draft(text="Today!", thread=("And more",), reply_to=target), "reply-key"
    )

    statuses = {status["id"]: status for status in server.statuses_of(alice)}
    assert statuses[published.external_id]["in_reply_to_id"] is None
    assert statuses[reply.external_id]["in_reply_to_id"] == question["id"]
    assert statuses[reply.external_id]["text"] == "@bob@elsewhere.example Today!"
    (thread_reply,) = reply.thread_ids
    assert statuses[thread_reply]["in_reply_to_id"] == reply.external_id
    assert statuses[thread_reply]["text"] == "And more"


def test_a_reply_that_names_the_author_already_is_sent_as_written(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    question = server.post_by("bob", "@alice when?")
    draft = Draft(text="Soon, @Bob.", reply_to=entry_for(server, network, question["id"]))

    (preview,) = network.preview(account_on(server), draft)
    reply = network.publish(account_on(server), draft, KEY)

    assert preview.text == "Soon, @Bob."
    assert server.statuses[reply.external_id]["text"] == "Soon, @Bob."


def test_an_answer_to_a_private_mention_stays_private(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    secret = server.post_by("bob", "@alice between us", visibility="direct")
    target = entry_for(server, network, secret["id"])

    reply = network.publish(account_on(server, visibility="public"), Draft(text="Sure", reply_to=target), KEY)

    assert server.statuses[reply.external_id]["visibility"] == "direct"


def test_the_length_of_a_reply_counts_the_name_it_starts_with(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    draft = Draft(text="x" * 495, reply_to=ReplyTarget("1", ref={"acct": "bob"}))

    (preview,) = network.preview(account_on(server), draft)

    assert preview.text.startswith("@bob ")
    assert preview.length == 500
    assert preview.problems == ()


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (ReplyTarget("1"), "names no account"),
        (ReplyTarget("1", ref={"acct": "bob smith"}), "names no account"),
        (ReplyTarget("1", ref={"acct": 7}), "names no account"),
        (ReplyTarget(" ", ref={"acct": "bob"}), "has no id"),
        (ReplyTarget("1", ref={"acct": "bob", "visibility": "secret"}), "unknown visibility"),
    ],
)
def test_a_reply_to_an_unusable_target_is_refused(target: ReplyTarget, problem: str) -> None:
    problems = MastodonNetwork().validate(Draft(text="Hi", reply_to=target))
    assert any(problem in each for each in problems), problems


def test_a_reply_whose_answer_was_lost_is_found_not_posted_again(
    server: FakeMastodon, alice: FakeAccount, network: MastodonNetwork
) -> None:
    question = server.post_by("bob", "@alice is it out?")
    target = entry_for(server, network, question["id"])
    # The same words from Crier, but as a post of their own: not the reply.
    server.post_by_hand(alice, "@bob Yes", application=server.application_name)
    server.honours_idempotency = False
    server.answer_after_storing = [504]
    attempted_at = datetime.now(UTC)
    draft = Draft(text="Yes", reply_to=target)

    with pytest.raises(OutcomeUnknown):
        network.publish(account_on(server), draft, KEY)
    found = make_network().find_published(account_on(server), KEY, draft=draft, attempted_at=attempted_at)

    replies = [s for s in server.statuses_of(alice) if s["in_reply_to_id"] == question["id"]]
    assert len(replies) == 1
    assert found is not None
    assert found.external_id == replies[0]["id"]


# -- The fake keeps to the documentation ---------------------------------------------------------------


def test_the_fake_pages_notifications_as_the_documentation_says(
    server: FakeMastodon, alice: FakeAccount
) -> None:
    mine = server.post_by_hand(alice, "Hello")
    ids = []
    for n in range(6):
        server.post_by("bob", f"@alice {n}")
        ids.append(server.notifications[-1].id)
    server.favourite_by("carol", mine["id"])
    url = f"{server.base_url}/api/v1/notifications"
    headers = {"Authorization": "Bearer alice-token"}

    def get(**params: object) -> httpx.Response:
        return httpx.get(url, params=params, headers=headers)  # type: ignore[arg-type]

    newest = get(limit=2, **{"types[]": "mention"})
    assert [n["id"] for n in newest.json()] == [ids[5], ids[4]]
    assert newest.links["next"]["url"].endswith(f"max_id={ids[4]}")
    assert newest.links["prev"]["url"].endswith(f"min_id={ids[5]}")
    assert "types%5B%5D=mention" in newest.links["next"]["url"]
    # min_id: the page just above it, still newest first; since_id: the newest above it.
    assert [n["id"] for n in get(limit=2, min_id=ids[0]).json()] == [ids[2], ids[1]]
    assert [n["id"] for n in get(limit=2, since_id=ids[0], **{"types[]": "mention"}).json()] == [
        ids[5],
        ids[4],
    ]
    assert [n["id"] for n in get(max_id=ids[2]).json()] == [ids[1], ids[0]]
    assert [n["type"] for n in get(limit=1).json()] == ["favourite"]
    assert [n["type"] for n in get(**{"exclude_types[]": "mention"}).json()] == ["favourite"]
    assert len(get(limit=500, max_id="999999999999999999").json()) == 7
    assert get(min_id=ids[5], **{"types[]": "mention"}).headers.get("Link") is None
    assert httpx.get(url).status_code == 401
