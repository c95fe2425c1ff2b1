"""A real INN for the Usenet tests, started once for the session, and the adapter pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.networks.nntp.adapter import NntpNetwork
from shared.networks.ports import Account
from tests.networks.nntp.inn import GROUP, ThrowawayInn, missing
from tests.networks.on_this_machine import outbound_here

SECRET = "a-test-secret-key-for-cancel-locks"


@pytest.fixture(scope="session")
def inn() -> Iterator[ThrowawayInn]:
    # Never a skip: the adapter's promises are about a real server, so a machine without INN fails here.
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)
    with ThrowawayInn.start() as server:
        yield server


@pytest.fixture
def network(inn: ThrowawayInn) -> NntpNetwork:
    return NntpNetwork(outbound_here(deadline_seconds=5.0), secret_keys=[SECRET], tls_context=inn.client_tls)


def account_on(port: int, credentials: dict[str, str] | None = None, **settings: Any) -> Account:
    return Account(
        channel_id="channel-1",
        handle="tests@crier.test",
        settings={
            "server": "127.0.0.1",
            "port": port,
            "newsgroups": [GROUP],
            "from": "Crier Tests <tests@crier.test>",
            **settings,
        },
        credentials=credentials or {},
    )
