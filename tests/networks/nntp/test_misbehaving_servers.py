"""What a real INN will not do on cue, against a fake news server: hang-ups and stalls after the article's
final dot, a 400 in mid-session, garbage, refusals at the greeting and to POST."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from shared.networks.nntp.adapter import NntpNetwork
from shared.networks.nntp.answers import is_duplicate
from shared.networks.nntp.articles import message_id
from shared.networks.nntp.client import Reply
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    NetworkError,
    OutcomeUnknown,
    PublishedPost,
    Rejected,
    Transient,
)
from tests.networks.nntp.fake import FakeNewsServer, serving, serving_one_account
from tests.networks.on_this_machine import outbound_here

DEADLINE = 1.0


@pytest.fixture
def network() -> NntpNetwork:
    return NntpNetwork(outbound_here(deadline_seconds=DEADLINE), secret_keys=["secret"])


def account_for(server: FakeNewsServer, credentials: dict[str, str] | None = None) -> Account:
    return Account("channel-1", "tests@crier.test", settings=server.channel(), credentials=credentials or {})


@pytest.fixture
def server() -> Iterator[FakeNewsServer]:
    with serving() as fake:
        yield fake


def publish(network: NntpNetwork, server: FakeNewsServer, draft: Draft, key: str) -> PublishedPost:
    return network.publish(account_for(server), draft, key)


@pytest.mark.parametrize("stored", [True, False])
def test_a_hang_up_after_the_final_dot_is_unknown_and_stat_settles_it(
    network: NntpNetwork, server: FakeNewsServer, stored: bool
) -> None:
    server.after_dot, server.store_before_failing = "hang up", stored
    key = str(uuid.uuid4())

    with pytest.raises(OutcomeUnknown):
        publish(network, server, Draft(text="Hello"), key)

    server.after_dot = "240 Article received"
    found = network.find_published(account_for(server), key, draft=Draft(text="Hello"))
    assert (found is not None) is stored
    if found is None:
        post = publish(network, server, Draft(text="Hello"), key)
        assert post.external_id == message_id(key, 0, "crier.test")
    assert len(server.articles) == 1


def test_a_stall_after_the_final_dot_is_unknown_within_the_deadline(
    network: NntpNetwork, server: FakeNewsServer
) -> None:
    server.after_dot = "stall"
    started = time.monotonic()

    with pytest.raises(OutcomeUnknown, match=r"stopped answering|did not answer"):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))

    assert time.monotonic() - started < DEADLINE + 1.5


def test_garbage_after_the_final_dot_is_unknown(network: NntpNetwork, server: FakeNewsServer) -> None:
    server.after_dot = "garbage"
    with pytest.raises(OutcomeUnknown, match="not NNTP"):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))


def test_a_400_after_the_final_dot_is_unknown(network: NntpNetwork, server: FakeNewsServer) -> None:
    server.after_dot = "400 Server going down"
    with pytest.raises(OutcomeUnknown, match="400"):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))


def test_a_441_after_the_final_dot_is_a_refusal_and_a_duplicate_is_posted(
    network: NntpNetwork, server: FakeNewsServer
) -> None:
    server.after_dot, server.store_before_failing = "441 Article rejected by filter", False
    with pytest.raises(Rejected, match="rejected by filter"):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))

    for words in ("435 Duplicate", "437 Duplicate article", "Duplicate article <x@y>"):
        assert is_duplicate(Reply(441, words))
    assert not is_duplicate(Reply(441, "No valid newsgroups"))
    assert not is_duplicate(Reply(240, "Duplicate"))


@pytest.mark.parametrize("greeting", ["400 Service temporarily unavailable", "502 Service unavailable"])
def test_a_greeting_that_refuses_is_a_retry(network: NntpNetwork, greeting: str) -> None:
    with serving(greeting=greeting) as server, pytest.raises(Transient, match=greeting[:3]):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))


def test_a_400_in_mid_session_before_the_article_is_a_retry(network: NntpNetwork) -> None:
    # CAPABILITIES is answered, POST is met with 400: nothing was sent.
    with serving(fail_after_commands=1) as server, pytest.raises(Transient, match="400"):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))
    assert server.articles == {}


def test_posting_not_permitted_is_a_refusal(network: NntpNetwork) -> None:
    with serving(reply_to_post="440 Posting not permitted") as server, pytest.raises(Rejected, match="440"):
        publish(network, server, Draft(text="Hello"), str(uuid.uuid4()))


def test_a_second_part_whose_answer_was_lost_carries_the_first(
    network: NntpNetwork, server: FakeNewsServer
) -> None:
    key = str(uuid.uuid4())
    draft = Draft(text="One", thread=("Two",))
    publish(network, server, Draft(text="One"), key)  # the post is out; the next attempt sends only "Two"
    server.after_dot = "hang up"

    with pytest.raises(OutcomeUnknown) as raised:
        network.publish(account_for(server), draft, key)

    error: NetworkError = raised.value
    assert [part.external_id for part in error.published] == [message_id(key, 0, "crier.test")]
    found = network.find_published(account_for(server), key, draft=draft)
    assert found is not None
    assert len(found.thread) == 1


def test_authinfo_is_sent_and_a_refusal_is_expired_credentials(network: NntpNetwork) -> None:
    with serving(credentials=("ada", "right")) as server:
        with pytest.raises(AuthExpired, match="481"):
            network.publish(
                account_for(server, {"username": "ada", "password": "wrong"}), Draft(text="x"), "k1"
            )
        post = network.publish(
            account_for(server, {"username": "ada", "password": "right"}), Draft(text="x"), "k2"
        )
    assert post.external_id in server.articles
    assert "AUTHINFO PASS right" in server.commands


def test_serving_one_account_is_ready_to_post(network: NntpNetwork) -> None:
    server, channel = serving_one_account()
    try:
        account = Account(
            "c", "tests@crier.test", settings=channel["settings"], credentials=channel["credentials"]
        )
        post = network.publish(account, Draft(text="Everywhere at once"), str(uuid.uuid4()))
        assert post.external_id in server.articles
    finally:
        server.close()


# The Usenet answers table the report proposes for docs/networks.md, held true row by row: the server's
# answer to a post, and what becomes of the delivery.
ANSWERS_TABLE = [
    ("240 after the final dot", {}, None),
    # The fake answers "441 435 Duplicate" for a Message-ID it has, as INN does.
    ("441 duplicate after the final dot", {}, None),
    ("441 refusal after the final dot", {"after_dot": "441 Rejected by filter"}, Rejected),
    ("440 to POST", {"reply_to_post": "440 Posting not permitted"}, Rejected),
    ("480 to POST", {"reply_to_post": "480 Authentication required"}, AuthExpired),
    ("483 to POST", {"reply_to_post": "483 Encryption required"}, Rejected),
    ("400 at the greeting", {"greeting": "400 Service temporarily unavailable"}, Transient),
    ("502 at the greeting", {"greeting": "502 Service unavailable"}, Transient),
    ("400 before the article", {"fail_after_commands": 1}, Transient),
    ("400 after the final dot", {"after_dot": "400 Going down"}, OutcomeUnknown),
    ("hang-up after the final dot", {"after_dot": "hang up"}, OutcomeUnknown),
    ("garbage after the final dot", {"after_dot": "garbage"}, OutcomeUnknown),
]


@pytest.mark.parametrize(("row", "switches", "outcome"), ANSWERS_TABLE, ids=[row[0] for row in ANSWERS_TABLE])
def test_the_answers_table_holds(
    network: NntpNetwork, row: str, switches: dict[str, object], outcome: type[NetworkError] | None
) -> None:
    key = str(uuid.uuid4())
    with serving(**switches) as server:
        if "duplicate" in row:
            server.articles[message_id(key, 0, "crier.test")] = ["stored by an earlier attempt"]
        if outcome is None:
            post = publish(network, server, Draft(text="Row"), key)
            assert post.external_id in server.articles
        else:
            with pytest.raises(outcome):
                publish(network, server, Draft(text="Row"), key)


def test_replies_are_read_with_xover_from_a_server_older_than_rfc_3977(network: NntpNetwork) -> None:
    with serving(knows_over=False) as server:
        account = account_for(server)
        post = publish(network, server, Draft(text="Old server"), str(uuid.uuid4()))
        server.articles["<reply@elsewhere.test>"] = [f"References: {post.external_id}"]

        readings = network.fetch_engagement(account, [post.external_id])

    reading = readings[post.external_id]
    assert isinstance(reading, Engagement)
    assert reading.replies == 1
    assert "XOVER 1-2" in server.commands


def test_the_inbox_is_read_header_by_header_from_a_server_without_an_overview(network: NntpNetwork) -> None:
    with serving(keeps_overview=False) as server:
        account = account_for(server)
        start = network.read_inbox(account, None).position
        post = publish(network, server, Draft(text="No overview here"), str(uuid.uuid4()))
        server.articles["<reply@elsewhere.test>"] = [
            "From: Reader <reader@elsewhere.test>",
            "Newsgroups: local.crier.test",
            "Subject: Re: No overview here",
            "Date: Sun, 06 Dec 2026 14:00:00 +0000",
            "Message-ID: <reply@elsewhere.test>",
            f"References: {post.external_id}",
            "",
            "Answered from a small server.",
        ]

        page = network.read_inbox(account, start)

    [entry] = page.entries
    assert (entry.external_id, entry.in_reply_to, entry.text) == (
        "<reply@elsewhere.test>",
        post.external_id,
        "Answered from a small server.",
    )
    assert [command for command in server.commands if command.split(" ")[0] in ("OVER", "XOVER", "HEAD")][
        -4:
    ] == ["OVER 1-2", "XOVER 1-2", "HEAD 1", "HEAD 2"]
