"""The Usenet adapter against a real INN: articles as RFC 5536 wants them, exactly once, threads, replies,
AUTHINFO, TLS, cancels."""

from __future__ import annotations

import email.header
import ipaddress
import uuid
from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from shared.config import Settings
from shared.networks.nntp.adapter import NntpNetwork
from shared.networks.nntp.articles import message_id
from shared.networks.outbound import AddressPolicy, Outbound
from shared.networks.ports import (
    AuthExpired,
    Draft,
    Engagement,
    Network,
    OutcomeUnknown,
    PostGone,
    PublishedPart,
    Rejected,
)
from shared.networks.registry import NetworkRegistry
from shared.text.nntp import MAX_LINE_OCTETS
from tests.networks.nntp.conftest import SECRET, account_on
from tests.networks.nntp.inn import GROUP, OTHER_GROUP, PASSWORD, USERNAME, ThrowawayInn, free_port
from tests.networks.nntp.wire import AnswerLosingProxy, Reader, body_of, post_raw
from tests.networks.on_this_machine import allowing_here, outbound_here


def new_key() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def reader(inn: ThrowawayInn) -> Iterator[Reader]:
    reader = Reader(inn.port)
    yield reader
    reader.close()


# -- The adapter as Crier loads it ---------------------------------------------------------------------


def test_the_entry_point_builds_an_adapter_that_satisfies_the_port(settings: Settings) -> None:
    entry = EntryPoint(name="nntp", value="shared.networks.nntp.adapter:NntpNetwork.from_settings", group="")
    network = entry.load()(settings)

    assert isinstance(network, Network)
    assert network.info.name == "nntp"
    assert isinstance(NetworkRegistry(settings).get("nntp"), NntpNetwork)


def test_credentials_are_both_or_neither(network: NntpNetwork) -> None:
    assert network.check_credentials({}) == []
    assert network.check_credentials({"username": "", "password": ""}) == []
    assert network.check_credentials({"username": "ada", "password": "pw"}) == []
    assert network.check_credentials({"username": "ada"}) != []
    assert network.check_credentials({"password": "pw"}) != []


def test_settings_are_checked_without_calling_the_server(network: NntpNetwork) -> None:
    good = account_on(119).settings
    assert network.check_settings(good) == []
    assert network.check_settings({**good, "newsgroups": ["not a group"]}) != []
    assert network.check_settings({**good, "newsgroups": [f"g.{n}" for n in range(6)]}) != []
    assert network.check_settings({**good, "from": "nobody"}) != []
    assert network.check_settings({**good, "tls": "sometimes"}) != []
    assert network.check_settings({**good, "port": "119"}) != []
    assert network.check_settings({**good, "colour": "blue"}) == ["unknown option 'colour'"]


def test_a_server_on_this_machine_is_refused_unless_the_operator_allows_it(settings: Settings) -> None:
    refusing = NntpNetwork.from_settings(settings)
    allowing = NntpNetwork.from_settings(allowing_here(settings))
    channel = account_on(119).settings

    assert any("private network" in problem for problem in refusing.check_settings(channel))
    assert allowing.check_settings(channel) == []


# -- Posting -------------------------------------------------------------------------------------------


def test_an_article_arrives_with_exactly_the_headers_rfc_5536_asks_for(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    key = new_key()
    draft = Draft(
        text="Grüße aus Crier ✨\n\nA second paragraph, naïve café.\n.a line starting with a dot\n."
    )

    post = network.publish(account_on(inn.port, tls="none"), draft, key)

    assert post.external_id == message_id(key, 0, "crier.test")
    assert post.url == "news:" + post.external_id.strip("<>")
    found = reader.article(post.external_id)
    assert found is not None
    headers, body = found
    assert headers["From"] == "Crier Tests <tests@crier.test>"
    assert headers["Newsgroups"] == GROUP
    decoded = str(email.header.make_header(email.header.decode_header(headers["Subject"])))
    assert decoded == "Grüße aus Crier ✨"
    assert headers["Message-ID"] == post.external_id
    assert headers["MIME-Version"] == "1.0"
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert headers["Content-Transfer-Encoding"] == "8bit"
    assert headers["Cancel-Lock"].startswith("sha256:")
    assert "References" not in headers
    assert "Date" in headers
    # The body's bytes are the text's UTF-8, a leading dot doubled on the wire and only there.
    assert body_of(body) == draft.text
    assert b"..a line starting with a dot" in body


def test_a_display_name_that_is_not_ascii_is_encoded_and_the_address_is_not(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    account = account_on(inn.port, tls="none", **{"from": "Zoë Tëster <zoe@crier.test>"})
    post = network.publish(account, Draft(text="Hello"), new_key())

    found = reader.article(post.external_id)
    assert found is not None
    assert found[0]["From"].endswith(" <zoe@crier.test>")
    assert str(email.header.make_header(email.header.decode_header(found[0]["From"]))) == (
        "Zoë Tëster <zoe@crier.test>"
    )


def test_a_subject_option_is_the_subject_and_a_long_first_line_is_cut_at_a_word(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    chosen = network.publish(
        account_on(inn.port, tls="none"), Draft(text="Body", options={"subject": "Chosen subject"}), new_key()
    )
    long = network.publish(account_on(inn.port, tls="none"), Draft(text="word " * 40), new_key())

    chosen_found = reader.article(chosen.external_id)
    long_found = reader.article(long.external_id)
    assert chosen_found is not None
    assert long_found is not None
    assert chosen_found[0]["Subject"] == "Chosen subject"
    subject = long_found[0]["Subject"]
    decoded = str(email.header.make_header(email.header.decode_header(subject)))
    assert decoded.endswith("word…")
    assert len(decoded) <= 72


def test_a_line_over_998_octets_is_wrapped_and_nothing_else_changes(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    paragraph = " ".join(["Äpfel"] * 400)  # 2,399 characters, 2,799 octets
    post = network.publish(account_on(inn.port, tls="none"), Draft(text=paragraph), new_key())

    found = reader.article(post.external_id)
    assert found is not None
    lines = found[1]
    assert len(lines) > 1
    assert all(len(line) <= MAX_LINE_OCTETS for line in lines)
    assert "".join(line.decode("utf-8") for line in lines) == paragraph


def test_a_thread_is_a_chain_of_follow_ups_naming_the_parts_before_them(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    key = new_key()
    draft = Draft(text="Thread start", thread=("Second", "Third"))

    post = network.publish(account_on(inn.port, tls="none"), draft, key)

    ids = [part.external_id for part in post.parts]
    assert ids == [message_id(key, index, "crier.test") for index in range(3)]
    second, third = reader.article(ids[1]), reader.article(ids[2])
    assert second is not None
    assert third is not None
    assert second[0]["References"] == ids[0]
    assert third[0]["References"] == f"{ids[0]} {ids[1]}"
    assert second[0]["Subject"] == "Re: Thread start"
    assert body_of(third[1]) == "Third"


def test_a_thread_stopped_midway_is_finished_from_its_last_recorded_part(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    key = new_key()
    account = account_on(inn.port, tls="none")
    first = network.publish(account, Draft(text="Only the start"), key)
    before = reader.count(GROUP)

    post = network.publish(
        account, Draft(text="Only the start", thread=("Then more",)), key, published=first.parts
    )

    assert post.external_id == first.external_id
    assert reader.count(GROUP) == before + 1
    reply = reader.article(post.thread[0].external_id)
    assert reply is not None
    assert reply[0]["References"] == first.external_id


def test_a_message_id_the_server_has_already_is_taken_as_posted_once(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    key = new_key()
    account = account_on(inn.port, tls="none")
    first = network.publish(account, Draft(text="Once"), key)
    before = reader.count(GROUP)

    again = network.publish(account, Draft(text="Once"), key)

    assert again.external_id == first.external_id
    assert reader.count(GROUP) == before


def test_posting_to_a_group_the_server_does_not_carry_is_rejected(
    network: NntpNetwork, inn: ThrowawayInn
) -> None:
    with pytest.raises(Rejected, match="No valid newsgroups"):
        network.publish(
            account_on(inn.port, tls="none", newsgroups=["no.such.group"]), Draft(text="x"), new_key()
        )


def test_a_crosspost_names_every_group(network: NntpNetwork, inn: ThrowawayInn, reader: Reader) -> None:
    post = network.publish(
        account_on(inn.port, tls="none", newsgroups=[GROUP, OTHER_GROUP]), Draft(text="Both"), new_key()
    )

    found = reader.article(post.external_id)
    assert found is not None
    assert found[0]["Newsgroups"] == f"{GROUP},{OTHER_GROUP}"


# -- An answer lost after the article's final dot -------------------------------------------------------


def test_a_post_whose_answer_was_lost_is_found_by_stat_and_never_sent_twice(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    proxy = AnswerLosingProxy(inn.port)
    key = new_key()
    draft = Draft(text="Lost answer")
    before = reader.count(GROUP)
    try:
        with pytest.raises(OutcomeUnknown):
            network.publish(account_on(proxy.port, tls="none"), draft, key)
    finally:
        proxy.close()
    assert proxy.answers_dropped == 1

    found = network.find_published(account_on(inn.port, tls="none"), key, draft=draft)

    assert found is not None
    assert found.external_id == message_id(key, 0, "crier.test")
    assert reader.count(GROUP) == before + 1


def test_a_thread_whose_second_answer_was_lost_is_found_in_part_and_finished_once(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    key = new_key()
    draft = Draft(text="Part one", thread=("Part two", "Part three"))
    account = account_on(inn.port, tls="none")
    first = network.publish(account, Draft(text="Part one"), key)

    found = network.find_published(account, key, draft=draft, published=first.parts)

    assert found is not None
    assert found.parts == first.parts
    done = network.publish(account, draft, key, published=found.parts)
    assert [part.external_id for part in done.parts] == [message_id(key, n, "crier.test") for n in range(3)]


def test_a_post_never_made_is_not_found(network: NntpNetwork, inn: ThrowawayInn) -> None:
    assert network.find_published(account_on(inn.port, tls="none"), new_key(), draft=Draft(text="x")) is None


# -- Replies ------------------------------------------------------------------------------------------


def test_follow_ups_by_others_count_as_replies_and_the_threads_own_do_not(
    network: NntpNetwork, inn: ThrowawayInn
) -> None:
    account = account_on(inn.port, tls="none")
    post = network.publish(account, Draft(text="Ask me anything", thread=("My own follow-up",)), new_key())
    quiet = network.publish(account, Draft(text="Nobody answers this"), new_key())
    # Two readers answer: one to the post, one to the thread's follow-up (so it names the post too).
    ids = [part.external_id for part in post.parts]
    for references in (ids[:1], ids[:2]):
        post_raw(inn.port, f"<reader.{uuid.uuid4()}@elsewhere.test>", references)
    gone = "<never.posted@crier.test>"

    readings = network.fetch_engagement(account, [post.external_id, quiet.external_id, gone])

    reading = readings[post.external_id]
    assert isinstance(reading, Engagement)
    assert (reading.replies, reading.likes, reading.reposts, reading.views) == (2, None, None, None)
    quiet_reading = readings[quiet.external_id]
    assert isinstance(quiet_reading, Engagement)
    assert quiet_reading.replies == 0
    assert isinstance(readings[gone], PostGone)


# -- Signing in, and TLS -------------------------------------------------------------------------------


def test_a_server_that_wants_a_login_refuses_a_channel_without_one_as_expired_credentials(
    network: NntpNetwork, inn: ThrowawayInn
) -> None:
    with pytest.raises(AuthExpired, match="480"):
        network.publish(account_on(inn.auth_port, tls="none"), Draft(text="x"), new_key())


def test_a_wrong_password_is_expired_credentials(network: NntpNetwork, inn: ThrowawayInn) -> None:
    wrong = {"username": USERNAME, "password": "not-it"}
    with pytest.raises(AuthExpired, match="481"):
        network.verify(account_on(inn.auth_port, wrong, tls="none"))


def test_authinfo_with_the_right_password_posts(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    login = {"username": USERNAME, "password": PASSWORD}
    account = account_on(inn.auth_port, login, tls="starttls")

    profile = network.verify(account)
    post = network.publish(account, Draft(text="Signed in"), new_key())

    assert profile.handle == "tests@crier.test"
    assert reader.article(post.external_id) is not None


def test_starttls_is_used_when_the_server_offers_it(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    # No tls setting: STARTTLS because INN's CAPABILITIES lists it; the certificate is checked for 127.0.0.1.
    post = network.publish(account_on(inn.port), Draft(text="Over STARTTLS"), new_key())
    assert reader.article(post.external_id) is not None

    untrusting = NntpNetwork(outbound_here(deadline_seconds=5.0))
    with pytest.raises(Rejected, match="TLS failed"):
        untrusting.publish(account_on(inn.port), Draft(text="x"), new_key())


def test_implicit_tls_from_the_first_byte(network: NntpNetwork, inn: ThrowawayInn, reader: Reader) -> None:
    post = network.publish(account_on(inn.tls_port, tls="implicit"), Draft(text="Over TLS"), new_key())
    assert reader.article(post.external_id) is not None


# -- Cancels and checks --------------------------------------------------------------------------------


def test_delete_cancels_the_article_with_its_cancel_key(
    network: NntpNetwork, inn: ThrowawayInn, reader: Reader
) -> None:
    account = account_on(inn.port, tls="none")
    post = network.publish(account, Draft(text="Soon gone"), new_key())

    network.delete(account, post.external_id)

    assert reader.article(post.external_id) is None
    with pytest.raises(PostGone):
        network.delete(account, post.external_id)


def test_an_article_posted_without_a_cancel_lock_cannot_be_cancelled_and_says_so(
    inn: ThrowawayInn, reader: Reader
) -> None:
    keyless = NntpNetwork(outbound_here(deadline_seconds=5.0), tls_context=inn.client_tls)
    account = account_on(inn.port, tls="none")
    post = keyless.publish(account, Draft(text="Stays"), new_key())

    with pytest.raises(Rejected, match="keeps the article"):
        NntpNetwork(outbound_here(), secret_keys=[SECRET]).delete(account, post.external_id)

    assert reader.article(post.external_id) is not None


def test_verify_names_a_group_the_server_does_not_carry(network: NntpNetwork, inn: ThrowawayInn) -> None:
    assert network.verify(account_on(inn.port, tls="none")).handle == "tests@crier.test"
    with pytest.raises(Rejected, match=r"no group no\.such\.group"):
        network.verify(account_on(inn.port, tls="none", newsgroups=[GROUP, "no.such.group"]))


def test_a_closed_port_is_a_retry_not_a_question(network: NntpNetwork) -> None:
    from shared.networks.ports import Transient

    with pytest.raises(Transient):
        network.publish(account_on(free_port(), tls="none"), Draft(text="x"), new_key())


def test_preview_shows_the_wrapped_body(network: NntpNetwork) -> None:
    [preview] = network.preview(account_on(119), Draft(text="x" * 2000))

    assert preview.text == "x" * 998 + "\n" + "x" * 998 + "\n" + "xxxx"
    assert preview.limit is None
    assert preview.problems == ()


def test_validate_refuses_media_and_empty_parts(network: NntpNetwork) -> None:
    from shared.networks.ports import MediaItem

    assert network.validate(Draft(text="ok", thread=("",))) == ["thread item 1 is empty"]
    assert network.validate(Draft(text="ok", media=(MediaItem("image/png", b"x"),))) != []


def test_published_parts_are_used_as_given(network: NntpNetwork, inn: ThrowawayInn) -> None:
    key = new_key()
    recorded = PublishedPart(message_id(key, 0, "crier.test"), "news:x")
    # The post is recorded already: only the follow-up is sent, naming it.
    post = network.publish(
        account_on(inn.port, tls="none"), Draft(text="a", thread=("b",)), key, published=[recorded]
    )
    assert post.parts[0] == recorded
    assert len(post.thread) == 1


def test_a_password_is_never_sent_unencrypted_to_a_server_the_operator_did_not_name(
    inn: ThrowawayInn,
) -> None:
    # news.test leads to 127.0.0.1, which may be connected to, but the operator named the network, not the
    # server: as with plain http, a secret crosses unencrypted only to a server named in the settings.
    policy = AddressPolicy(
        allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),), resolve=lambda host, port: ["127.0.0.1"]
    )
    network = NntpNetwork(Outbound(policy=policy, deadline_seconds=5.0))
    login = {"username": USERNAME, "password": PASSWORD}

    with pytest.raises(Rejected, match="unencrypted"):
        network.verify(account_on(inn.auth_port, login, tls="none", server="news.test"))
    assert network.verify(account_on(inn.port, tls="none", server="news.test")).handle == "tests@crier.test"
