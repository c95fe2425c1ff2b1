"""The Usenet inbox against a real INN: follow-ups by others to the account's articles, read by article
number without loss or repetition, threads, and replies posted from Crier as follow-ups, exactly once."""

from __future__ import annotations

import email.utils
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.networks.inbox import MAX_POSITION_LENGTH, InboxEntry, ReadsInbox
from shared.networks.nntp.adapter import NntpNetwork
from shared.networks.nntp.articles import message_id, trimmed_references
from shared.networks.ports import Account, Draft, InboxKind, OutcomeUnknown, PostGone, ReplyTarget
from tests.networks.nntp.conftest import SECRET, account_on
from tests.networks.nntp.inn import GROUP, OTHER_GROUP, ThrowawayInn
from tests.networks.nntp.wire import AnswerLosingProxy, Reader, body_of
from tests.networks.on_this_machine import outbound_here

# The draining test: articles posted while the inbox is read, a third of them unrelated, in bursts.
ARRIVING = 450
BURST = 30


def new_id(who: str = "reader") -> str:
    return f"<{who}.{uuid.uuid4().hex}@elsewhere.test>"


@pytest.fixture
def reader(inn: ThrowawayInn) -> Iterator[Reader]:
    reader = Reader(inn.port)
    yield reader
    reader.close()


@pytest.fixture
def account(inn: ThrowawayInn) -> Account:
    # A Message-ID domain of the test's own: the articles other tests leave in the group are not its own.
    return account_on(inn.port, tls="none", message_id_domain=f"t{uuid.uuid4().hex[:12]}.crier.test")


def paged(inn: ThrowawayInn, page: int) -> NntpNetwork:
    return NntpNetwork(
        outbound_here(deadline_seconds=5.0), secret_keys=[SECRET], tls_context=inn.client_tls, inbox_page=page
    )


def drain(
    network: NntpNetwork, account: Account, position: str | None
) -> tuple[list[InboxEntry], str | None]:
    """Every entry after the position, reading again while the adapter says more are waiting."""
    entries: list[InboxEntry] = []
    while True:
        page = network.read_inbox(account, position)
        entries += page.entries
        position = page.position
        assert position is not None
        assert len(position) <= MAX_POSITION_LENGTH
        if not page.more:
            return entries, position


def test_the_adapter_reads_an_inbox_of_replies_and_answers_them(network: NntpNetwork) -> None:
    assert isinstance(network, ReadsInbox)
    inbox = network.info.inbox
    assert (inbox.kinds, inbox.can_reply, inbox.can_search, inbox.can_like, inbox.can_hide) == (
        (InboxKind.REPLY,),
        True,
        False,
        False,
        False,
    )


# -- Reading --------------------------------------------------------------------------------------------


def test_follow_ups_by_others_are_replies_with_all_a_reply_needs(
    network: NntpNetwork, account: Account, reader: Reader
) -> None:
    start = network.read_inbox(account, None).position
    post = network.publish(
        account, Draft(text="Ask me anything", thread=("My own follow-up",)), str(uuid.uuid4())
    )
    ids = [part.external_id for part in post.parts]
    answer, deeper = new_id(), new_id()
    written = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    reader.post(
        answer,
        ids[:1],
        sender="=?UTF-8?B?Wm/DqyBSw6lhZGVy?= <zoe@elsewhere.test>",
        subject="Re: Ask me anything",
        body="Grüße!\n\n> quoted\n.a dotted line",
        extra=[f"Date: {email.utils.format_datetime(written)}", f"Followup-To: {GROUP},{OTHER_GROUP}"],
    )
    # An answer to the answer still names the post in its References: it is a reply in the account's thread.
    reader.post(deeper, [ids[0], answer])
    # Not replies: a new thread, an answer to another's article, the account writing from a newsreader,
    # and an answer to a Crier article of another channel's domain.
    reader.post(new_id(), subject="A new thread")
    reader.post(new_id(), [new_id("someone")])
    reader.post(new_id(), ids[:1], sender="Crier Tests <tests@crier.test>")
    reader.post(new_id(), [message_id("another key", 0, "elsewhere.crier.test")])

    entries, _ = drain(network, account, start)

    assert [entry.external_id for entry in entries] == [answer, deeper]
    entry = entries[0]
    assert entry.kind is InboxKind.REPLY
    assert (entry.author.handle, entry.author.display_name) == ("zoe@elsewhere.test", "Zoë Réader")
    assert entry.text == entry.plain_text == "Grüße!\n\n> quoted\n.a dotted line"
    assert entry.url == "news:" + answer.strip("<>")
    assert entry.created_at == written
    assert (entry.in_reply_to, entry.thread_root) == (ids[0], ids[0])
    assert entry.reply_target == ReplyTarget(
        answer,
        {
            "references": [ids[0]],
            "newsgroups": [GROUP],
            "subject": "Re: Ask me anything",
            "followup_to": [GROUP, OTHER_GROUP],
        },
    )
    assert (entries[1].in_reply_to, entries[1].thread_root) == (answer, ids[0])


def test_the_first_read_returns_only_the_latest_page_and_later_reads_what_follows(
    inn: ThrowawayInn, account: Account, reader: Reader
) -> None:
    network = paged(inn, 10)
    post = network.publish(account, Draft(text="Popular"), str(uuid.uuid4()))
    answers = [new_id() for _ in range(25)]
    for answer in answers:
        reader.post(answer, [post.external_id])

    first = network.read_inbox(account, None)

    assert [entry.external_id for entry in first.entries] == answers[-10:]
    assert not first.more
    later = [new_id() for _ in range(3)]
    for answer in later:
        reader.post(answer, [post.external_id])
    entries, _ = drain(network, account, first.position)
    assert [entry.external_id for entry in entries] == later


def test_draining_while_hundreds_of_articles_arrive_loses_and_repeats_none(
    inn: ThrowawayInn, account: Account
) -> None:
    network = paged(inn, 40)
    post = network.publish(account, Draft(text="Busy thread"), str(uuid.uuid4()))
    position = network.read_inbox(account, None).position
    replies: list[str] = []
    read_once = threading.Event()

    def arrive() -> None:
        # Bursts of articles, each after a read has ended, so that they arrive between reads and during them.
        poster = Reader(inn.port)
        for number in range(ARRIVING):
            if number % BURST == 0:
                assert read_once.wait(10)
                read_once.clear()
            if number % 3 == 2:
                poster.post(new_id("unrelated"), [new_id("someone")])
            else:
                replies.append(new_id())
                poster.post(replies[-1], [post.external_id])
        poster.close()

    arriving = threading.Thread(target=arrive)
    arriving.start()
    read: list[str] = []
    reads = 0
    while arriving.is_alive():
        page = network.read_inbox(account, position)
        read += [entry.external_id for entry in page.entries]
        position = page.position
        reads += 1
        read_once.set()
    arriving.join()
    rest, _ = drain(network, account, position)
    read += [entry.external_id for entry in rest]

    assert reads >= ARRIVING // BURST  # the reading went on while articles arrived
    assert len(read) == len(set(read))
    assert set(read) == set(replies)


def test_a_reply_crossposted_to_two_of_the_channels_groups_is_returned_once_though_read_apart(
    inn: ThrowawayInn, account: Account, reader: Reader
) -> None:
    network = paged(inn, 10)
    both = replace(account, settings={**account.settings, "newsgroups": [GROUP, OTHER_GROUP]})
    start = network.read_inbox(both, None).position
    post = network.publish(both, Draft(text="In two groups"), str(uuid.uuid4()))
    # The first group's first page ends before the reply; the second group's takes it in.
    for _ in range(15):
        reader.post(new_id("unrelated"), subject="Chatter")
    crossposted = new_id()
    reader.post(crossposted, [post.external_id], newsgroups=f"{GROUP},{OTHER_GROUP}")

    first = network.read_inbox(both, start)
    entries, _ = drain(network, both, first.position)

    assert first.entries == ()
    assert first.more
    assert [entry.external_id for entry in entries] == [crossposted]


@pytest.mark.parametrize("renumbered", ["numbers below the high mark", "another article at the number"])
def test_a_renumbered_group_is_read_again_from_its_low_mark_without_what_was_read(
    inn: ThrowawayInn, account: Account, reader: Reader, renumbered: str
) -> None:
    post = NntpNetwork(outbound_here(), tls_context=inn.client_tls).publish(
        account, Draft(text="Before the rebuild"), str(uuid.uuid4())
    )
    for _ in range(3):
        reader.post(new_id("unrelated"), subject="Chatter")
    old, new = new_id(), new_id()
    long_ago = email.utils.format_datetime(datetime.now(UTC) - timedelta(days=30))
    reader.post(old, [post.external_id], extra=[f"Date: {long_ago}"])
    reader.post(new, [post.external_id])
    low, high = reader.group(GROUP)
    # Pages of a third of the group, whatever the other tests left in it: catching up takes a few reads.
    network = paged(inn, (high - low) // 3 + 1)
    newest = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    # The position of a reader who read up to a day ago on a server whose numbers have changed since.
    number = high + 1000 if renumbered == "numbers below the high mark" else high
    position = f'{{"{GROUP}":[{number},"000000000000",{newest}]}}'

    catching_up = network.read_inbox(account, position)
    entries, after = drain(network, account, catching_up.position)

    assert catching_up.more
    assert [entry.external_id for entry in [*catching_up.entries, *entries]] == [new]
    # Caught up: reading on is by number again, with no date to compare.
    assert after is not None
    assert after.count(",") == 2
    again, _ = drain(network, account, after)
    assert again == []


def test_a_thread_is_its_references_and_the_follow_ups_the_overview_shows_oldest_first(
    network: NntpNetwork, account: Account, reader: Reader
) -> None:
    start = network.read_inbox(account, None).position
    post = network.publish(account, Draft(text="Root of it all"), str(uuid.uuid4()))
    answer = new_id()
    reader.post(answer, [post.external_id], subject="Re: Root of it all")
    [entry] = drain(network, account, start)[0]
    ours = network.publish(account, Draft(text="Thanks", reply_to=entry.reply_target), str(uuid.uuid4()))
    last = new_id()
    reader.post(last, [post.external_id, answer, ours.external_id])
    reader.post(new_id(), [new_id("someone")])

    thread = network.read_thread(account, answer)

    assert [item.external_id for item in thread] == [post.external_id, answer, ours.external_id, last]
    assert [item.kind for item in thread] == [InboxKind.POST, *[InboxKind.REPLY] * 3]
    assert thread[0].text == "Root of it all"
    with pytest.raises(PostGone):
        network.read_thread(account, new_id("never-posted"))


# -- Replying -------------------------------------------------------------------------------------------


def reply_target(network: NntpNetwork, account: Account, reader: Reader, **posted: object) -> ReplyTarget:
    """The target of a reply by another to one of the account's articles, as the inbox read it."""
    start = network.read_inbox(account, None).position
    post = network.publish(account, Draft(text="Original"), str(uuid.uuid4()))
    reader.post(new_id(), [post.external_id], **posted)  # type: ignore[arg-type]
    [entry] = drain(network, account, start)[0]
    return entry.reply_target


def test_a_reply_from_crier_follows_up_with_references_subject_and_the_groups_asked(
    network: NntpNetwork, account: Account, reader: Reader
) -> None:
    target = reply_target(
        network, account, reader, subject="Re: Original", extra=[f"Followup-To: {OTHER_GROUP}"]
    )

    reply = network.publish(
        account, Draft(text="My answer", thread=("And more",), reply_to=target), str(uuid.uuid4())
    )

    found = reader.article(reply.external_id)
    more = reader.article(reply.thread[0].external_id)
    assert found is not None
    assert more is not None
    headers = found[0]
    assert headers["References"] == " ".join([*target.ref["references"], target.external_id])
    assert headers["Subject"] == "Re: Original"
    assert headers["Newsgroups"] == OTHER_GROUP
    assert body_of(found[1]) == "My answer"
    assert more[0]["References"] == f"{headers['References']} {reply.external_id}"
    assert more[0]["Newsgroups"] == OTHER_GROUP


def test_a_reply_whose_answer_was_lost_is_found_and_never_posted_twice(
    network: NntpNetwork, inn: ThrowawayInn, account: Account, reader: Reader
) -> None:
    target = reply_target(network, account, reader, subject="Something")
    draft = Draft(text="Answered once", reply_to=target)
    key = str(uuid.uuid4())
    proxy = AnswerLosingProxy(inn.port)
    before = reader.count(GROUP)
    try:
        with pytest.raises(OutcomeUnknown):
            network.publish(replace(account, settings={**account.settings, "port": proxy.port}), draft, key)
    finally:
        proxy.close()
    assert proxy.answers_dropped == 1

    found = network.find_published(account, key, draft=draft)
    again = network.publish(account, draft, key)

    assert found is not None
    assert found.external_id == again.external_id == message_id(key, 0, account.settings["message_id_domain"])
    assert reader.count(GROUP) == before + 1
    article = reader.article(found.external_id)
    assert article is not None
    assert article[0]["Subject"] == "Re: Something"


def test_a_long_chain_of_references_keeps_the_first_and_the_last_three(network: NntpNetwork) -> None:
    chain = [f"<{'x' * 60}.{number}@elsewhere.test>" for number in range(40)]

    kept = trimmed_references(chain)

    assert kept[0] == chain[0]
    assert kept[-3:] == chain[-3:]
    assert len("References: " + " ".join(kept)) <= 998
    assert kept == [chain[0], *chain[-len(kept) + 1 :]]
    assert trimmed_references(chain[:5]) == chain[:5]


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ({"references": [], "newsgroups": [GROUP], "subject": "x", "followup_to": ["poster"]}, "by mail"),
        ({"references": [], "newsgroups": [], "subject": "x"}, "no newsgroups"),
        ({"references": ["not-an-id"], "newsgroups": [GROUP], "subject": "x"}, "not Message-IDs"),
        ({"references": [], "newsgroups": [GROUP]}, "no subject"),
    ],
)
def test_validate_refuses_a_reply_to_an_article_it_cannot_follow_up(
    network: NntpNetwork, ref: dict[str, object], problem: str
) -> None:
    problems = network.validate(Draft(text="x", reply_to=ReplyTarget(new_id(), ref)))
    assert any(problem in item for item in problems)
    assert network.validate(Draft(text="x", reply_to=ReplyTarget("no angle brackets", {}))) != []
    fine = ReplyTarget(new_id(), {"references": [], "newsgroups": [GROUP], "subject": "x"})
    assert network.validate(Draft(text="x", reply_to=fine)) == []
