"""The outbound policy and the bounds of every call, attacked over real sockets.

A workspace admin chooses the addresses Crier calls. Each test here is something such an admin (or whoever
runs the DNS of a name they give) could try: reach this machine or its network by any spelling of an
address, by a name, by a name that changes its answer between two lookups, by a redirect; learn what listens
on a port from Crier's errors; hold a call open by answering slowly; or make Crier read a huge answer.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import threading
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.networks.mastodon.adapter import MastodonNetwork
from shared.networks.outbound import (
    PUBLIC_ONLY,
    UPLOAD,
    AddressPolicy,
    AddressRefused,
    AnswerCompressed,
    AnswerTooLarge,
    GuardedTransport,
    Outbound,
    calls_within,
    is_public,
)
from shared.networks.ports import Account, Draft, OutcomeUnknown, Transient
from shared.networks.toolkit.calls import transport_failure
from tests.networks.raw_servers import (
    RawServer,
    answering,
    flooding,
    like_redis,
    raw_server,
    silent,
    tls_for,
    trickling,
)

HERE = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1"),))
QUICK = httpx.Timeout(2.0)


def client(policy: AddressPolicy = PUBLIC_ONLY, **options: Any) -> httpx.Client:
    timeout = options.pop("timeout", QUICK)
    transport = GuardedTransport(policy, **options)
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)


@pytest.fixture
def listener() -> Iterator[RawServer]:
    """Something listening on 127.0.0.1 that answers HTTP: what an attack on this machine would reach."""
    with raw_server(answering("200 OK", b"the secret of this machine")) as server:
        yield server


def refused_before_connecting(call: Any) -> AddressRefused:
    with pytest.raises(httpx.ConnectError) as raised:
        call()
    assert isinstance(raised.value.__cause__, AddressRefused), raised.value.__cause__
    return raised.value.__cause__


# -- Which addresses are public ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "::1",
        "0.0.0.0",
        "::",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",  # a cloud's metadata service
        "100.64.0.1",  # CGNAT, shared address space
        "100.127.255.254",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "fec0::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_an_address_of_this_machine_or_a_private_shared_or_special_network_is_not_public(address: str):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.215.14", "2002:5db8:d70e::1"],
)
def test_an_address_on_the_internet_is_public(address: str):
    assert is_public(ipaddress.ip_address(address))


def test_the_operator_allows_hosts_and_networks_in_one_setting():
    settings = Settings(
        _env_file=None, allowed_private_hosts=" Mastodon.LAN., 10.0.0.0/8, 192.168.1.20,[::1] "
    )
    policy = AddressPolicy.from_settings(settings)

    assert policy.allowed_hosts == {"mastodon.lan"}
    assert [str(network) for network in policy.allowed_networks] == [
        "10.0.0.0/8",
        "192.168.1.20/32",
        "::1/128",
    ]
    assert policy.allows("mastodon.lan", ipaddress.ip_address("172.16.0.9"))
    assert policy.allows("other", ipaddress.ip_address("10.9.8.7"))
    assert not policy.allows("other", ipaddress.ip_address("172.16.0.9"))
    assert policy.allows_plain_http("mastodon.lan")
    assert policy.allows_plain_http("10.1.1.1")
    # A name leading into an allowed network is reached over https only: http is for what the operator named.
    assert not policy.allows_plain_http("pds.lan")


@pytest.mark.parametrize("entry", ["not a host!", "10.0.0.0/33", "-bad-.example"])
def test_an_entry_that_is_neither_a_host_nor_a_network_stops_the_process_at_start(entry: str):
    with pytest.raises(ValueError, match="allowed_private_hosts"):
        Settings(_env_file=None, allowed_private_hosts=f"mastodon.lan,{entry}")


def test_the_former_switch_for_private_webhooks_stops_the_process_with_the_setting_that_replaced_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("CRIER_WEBHOOK_ALLOW_PRIVATE_URLS", "true")

    with pytest.raises(ValueError, match="CRIER_ALLOWED_PRIVATE_HOSTS"):
        Settings(_env_file=None)


# -- Reaching this machine or its network --------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",  # decimal
        "0x7f.1",  # hexadecimal
        "0x7f000001",
        "017700000001",  # octal
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "0.0.0.0",  # Linux connects it to this machine
        "localhost",
        "LocalHost",
    ],
)
def test_no_spelling_of_this_machine_gets_a_connection(listener: RawServer, host: str):
    with client() as http:
        refused_before_connecting(lambda: http.get(f"https://{host}:{listener.port}/"))

    assert listener.accepted == 0


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "[::1]",
        "[fd00::1]",
        "[fe80::1]",
    ],
)
def test_a_private_address_is_refused_without_trying_it(host: str):
    started = time.monotonic()
    with client() as http:
        refusal = refused_before_connecting(lambda: http.get(f"https://{host}/latest/meta-data"))

    assert "not an address Crier connects to" in str(refusal)
    assert time.monotonic() - started < 1.0  # no connection was attempted, so none had to time out


def test_a_name_that_resolves_to_this_machine_is_refused(listener: RawServer):
    lookups: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    with client(AddressPolicy(resolve=resolve)) as http:
        refused_before_connecting(lambda: http.get(f"https://intranet.example:{listener.port}/"))

    assert lookups == ["intranet.example"]
    assert listener.accepted == 0


def test_one_private_address_among_a_names_public_ones_refuses_the_name(listener: RawServer):
    policy = AddressPolicy(resolve=lambda host, port: ["93.184.215.14", "2606:4700::1", "127.0.0.1"])

    with client(policy) as http:
        refusal = refused_before_connecting(lambda: http.get(f"https://mixed.example:{listener.port}/"))

    assert "127.0.0.1" in str(refusal)
    assert listener.accepted == 0


def test_a_name_is_looked_up_once_and_the_connection_goes_to_the_address_that_was_checked():
    # DNS rebinding: the name's first answer passes the check, every later one is private. The first
    # answer is 127.0.0.1, which this operator allows, so that a real server can be there to connect to.
    tls = tls_for("rebind.test")
    answers = iter([["127.0.0.1"]])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        lookups.append(host)
        return next(answers, ["10.0.0.7"])

    policy = AddressPolicy(allowed_networks=HERE.allowed_networks, resolve=rebinding)
    with (
        raw_server(answering("200 OK", b"checked"), tls=tls.server) as server,
        client(policy, ssl_context=tls.client) as http,
    ):
        answer = http.get(f"https://rebind.test:{server.port}/", headers={"Connection": "close"})
        # Had anything looked the name up again to connect, it would have found no such name at all.
        assert (answer.status_code, answer.content, lookups) == (200, b"checked", ["rebind.test"])
        assert f"host: rebind.test:{server.port}" in server.requests[0].decode().lower()

        refused_before_connecting(lambda: http.get(f"https://rebind.test:{server.port}/"))

    assert lookups == ["rebind.test", "rebind.test"]
    assert server.accepted == 1


def test_the_certificate_is_still_checked_for_the_name_not_the_address():
    tls = tls_for("other.test")
    policy = AddressPolicy(allowed_networks=HERE.allowed_networks, resolve=lambda host, port: ["127.0.0.1"])
    with (
        raw_server(answering("200 OK"), tls=tls.server) as server,
        client(policy, ssl_context=tls.client) as http,
        pytest.raises(httpx.ConnectError, match="certificate"),
    ):
        http.get(f"https://rebind.test:{server.port}/")


def test_a_redirect_to_this_machine_is_not_followed(listener: RawServer):
    target = f"http://127.0.0.1:{listener.port}/"
    with (
        raw_server(answering("302 Found", headers={"Location": target})) as redirecting,
        client(HERE) as http,
    ):
        answer = http.get(f"http://127.0.0.1:{redirecting.port}/")
    # A caller who asks to follow one still goes through the policy: a new name, a new check.
    sneaky = f"http://2130706433:{listener.port}/"
    with (
        raw_server(answering("302 Found", headers={"Location": sneaky})) as second,
        client(HERE) as http,
        pytest.raises(httpx.ConnectError),
    ):
        http.get(f"http://127.0.0.1:{second.port}/", follow_redirects=True)

    assert answer.status_code == 302
    assert listener.accepted == 0


def test_plain_http_goes_only_to_a_host_the_operator_named():
    with client() as http, pytest.raises(httpx.ConnectError, match="plain http"):
        http.get("http://mastodon.example/")


# -- What Crier's errors tell ---------------------------------------------------------------------------


def closed_port() -> int:
    with raw_server(silent) as server:
        port = server.port
    return port


def verify_error(base_url: str, outbound: Outbound) -> str:
    network = MastodonNetwork(outbound, http=outbound.client(httpx.Timeout(1.0)))
    account = Account(
        channel_id="c", handle="a", settings={"base_url": base_url}, credentials={"access_token": "t"}
    )
    with pytest.raises(Transient) as raised:
        network.verify(account)
    return str(raised.value)


BEHIND_THE_PORT = {"a Redis": like_redis, "a silent service": silent, "a web server": answering("200 OK")}


def test_a_refused_address_reads_the_same_whatever_listens_there():
    # 2130706433 is a name to the URL parser and 127.0.0.1 to the resolver: it passes the check of the
    # channel's settings, and is refused when the call is made.
    errors: dict[str, str] = {}
    servers = {name: RawServer(behaviour) for name, behaviour in BEHIND_THE_PORT.items()}
    try:
        ports = {"nothing": closed_port(), **{name: server.port for name, server in servers.items()}}
        for name, port in ports.items():
            errors[name] = verify_error(f"https://2130706433:{port}", Outbound()).replace(str(port), "PORT")
    finally:
        for server in servers.values():
            server.close()

    assert len(set(errors.values())) == 1, errors
    assert "no connection could be made" in errors["nothing"]
    assert all(server.accepted == 0 for server in servers.values())


def test_on_a_network_the_operator_allowed_a_failed_connection_reads_the_same_whatever_listens_there():
    # The operator allowed 127.0.0.1: now connections are made, and fail differently underneath (refused,
    # a TLS handshake Redis or a web server cannot make, one nobody answers), all in the same words.
    errors: dict[str, str] = {}
    servers = {name: RawServer(behaviour) for name, behaviour in BEHIND_THE_PORT.items()}
    try:
        ports = {"nothing": closed_port(), **{name: server.port for name, server in servers.items()}}
        for name, port in ports.items():
            errors[name] = verify_error(f"https://127.0.0.1:{port}", Outbound(HERE)).replace(
                str(port), "PORT"
            )
    finally:
        for server in servers.values():
            server.close()

    assert len(set(errors.values())) == 1, errors
    assert all(server.accepted == 1 for server in servers.values())


def test_what_happened_goes_to_the_log_and_not_into_the_error(caplog: pytest.LogCaptureFixture):
    failure = httpx.ConnectError("[Errno 111] Connection refused")

    error = transport_failure(failure, what="mastodon.example", secrets=["t0ken"])

    assert "Connection refused" not in str(error)
    assert "mastodon.example: ConnectError: [Errno 111] Connection refused" in caplog.text


# -- Deadlines --------------------------------------------------------------------------------------------


def timed(call: Any, error: type[Exception]) -> float:
    started = time.monotonic()
    with pytest.raises(error):
        call()
    return time.monotonic() - started


def test_an_answer_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline():
    # Each byte comes well within the read timeout, so only the call's deadline can end it.
    head = b"HTTP/1.1 200 OK\r\nX-Slow: "
    with (
        raw_server(trickling(head, every=0.2)) as server,
        client(HERE, deadline_seconds=1.0, timeout=httpx.Timeout(5.0)) as http,
    ):
        took = timed(lambda: http.get(f"http://127.0.0.1:{server.port}/"), httpx.ReadTimeout)

    assert 1.0 <= took < 5.0


def test_a_body_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with (
        raw_server(trickling(head, every=0.2)) as server,
        client(HERE, deadline_seconds=1.0, timeout=httpx.Timeout(5.0)) as http,
    ):
        took = timed(lambda: http.get(f"http://127.0.0.1:{server.port}/"), httpx.ReadTimeout)

    assert 1.0 <= took < 5.0


def test_a_name_server_that_does_not_answer_costs_no_more_than_the_deadline():
    release = threading.Event()

    def stalled(host: str, port: int) -> Sequence[str]:
        release.wait(30)
        return ["93.184.215.14"]

    try:
        with client(AddressPolicy(resolve=stalled), deadline_seconds=0.5) as http:
            took = timed(lambda: http.get("https://slow-dns.example/"), httpx.ConnectTimeout)
    finally:
        release.set()

    assert took < 5.0


def test_an_upload_has_the_longer_deadline():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with raw_server(trickling(head, every=0.1)) as server:
        url = f"http://127.0.0.1:{server.port}/"
        with client(
            HERE, deadline_seconds=0.5, upload_deadline_seconds=2.0, timeout=httpx.Timeout(5.0)
        ) as http:
            ordinary = timed(lambda: http.get(url), httpx.ReadTimeout)
            upload = timed(lambda: http.post(url, content=b"file", extensions=UPLOAD), httpx.ReadTimeout)

    assert ordinary < 2.0 <= upload < 6.0


def test_a_caller_can_give_all_its_calls_a_shorter_deadline():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with (
        raw_server(trickling(head, every=0.1)) as server,
        client(HERE, deadline_seconds=30.0, timeout=httpx.Timeout(5.0)) as http,
        calls_within(0.5),
    ):
        took = timed(lambda: http.get(f"http://127.0.0.1:{server.port}/"), httpx.ReadTimeout)

    assert took < 5.0


def test_a_caller_is_told_before_its_first_call_and_may_refuse_it(listener: RawServer):
    told: list[str] = []

    class Refused(Exception):
        pass

    def first() -> None:
        told.append("first")
        if len(told) > 1:
            raise Refused

    with client(HERE) as http:
        with calls_within(5, before_first=first):
            pass  # no call made: nothing taken
        with calls_within(5, before_first=first):
            http.get(f"http://127.0.0.1:{listener.port}/")
            http.get(f"http://127.0.0.1:{listener.port}/")
        with calls_within(5, before_first=first), pytest.raises(Refused):
            http.get(f"http://127.0.0.1:{listener.port}/")

    assert told == ["first", "first"]
    assert listener.accepted == 2


# -- Sizes -----------------------------------------------------------------------------------------------


def test_a_huge_answer_is_cut_off_at_the_limit_and_never_held_in_memory():
    total = 256 * 1024 * 1024
    with raw_server(flooding(total)) as server, client(HERE, max_answer_bytes=1024 * 1024) as http:
        tracemalloc.start()
        try:
            with pytest.raises(AnswerTooLarge):
                http.get(f"http://127.0.0.1:{server.port}/")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert peak < 8 * 1024 * 1024
    assert server.sent_bytes < total // 4  # the rest was never asked for


def test_an_answer_that_declares_itself_too_long_is_not_read_at_all():
    with (
        raw_server(flooding(64 * 1024 * 1024, declare_length=True)) as server,
        client(HERE, max_answer_bytes=1024 * 1024) as http,
        pytest.raises(AnswerTooLarge, match="says"),
    ):
        http.get(f"http://127.0.0.1:{server.port}/")


def test_a_refusal_keeps_its_status_and_only_the_start_of_its_words():
    refusing = flooding(64 * 1024 * 1024, status="500 Internal Server Error")
    with raw_server(refusing) as server, client(HERE) as http:
        answer = http.get(f"http://127.0.0.1:{server.port}/")

    assert answer.status_code == 500
    assert 0 < len(answer.content) <= 16 * 1024


def test_an_answer_compressed_though_asked_for_plain_is_refused():
    bomb = gzip.compress(b"{" + b" " * 50_000_000 + b"}")
    with (
        raw_server(answering("200 OK", bomb, headers={"Content-Encoding": "gzip"})) as server,
        client(HERE) as http,
        pytest.raises(AnswerCompressed),
    ):
        http.get(f"http://127.0.0.1:{server.port}/", headers={"Accept-Encoding": "identity"})

    assert b"accept-encoding: identity" in server.requests[0].lower()


def test_a_write_answered_with_more_than_crier_reads_may_have_landed():
    outbound = Outbound(HERE, max_answer_bytes=64 * 1024)
    network = MastodonNetwork(outbound)
    with raw_server(flooding(8 * 1024 * 1024)) as server:
        account = Account(
            channel_id="c",
            handle="a",
            settings={"base_url": f"http://127.0.0.1:{server.port}"},
            credentials={"access_token": "t"},
        )
        with pytest.raises(OutcomeUnknown, match="longer than Crier reads"):
            network.publish(account, Draft(text="Hello"), "key")


def test_the_outbound_client_asks_for_plain_answers_and_ignores_proxies_from_the_environment(
    listener: RawServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")

    with Outbound(HERE).client() as http:
        answer = http.get(f"http://127.0.0.1:{listener.port}/")

    assert answer.status_code == 200
    head = listener.requests[0].decode().lower()
    assert "accept-encoding: identity" in head
    assert re.search(r"user-agent: crier", head)
