"""Every installed network adapter keeps the contract (shared/networks/ports.py), whoever wrote it.

A network shipped in another package is checked too: the test walks the installed entry points.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from shared.config import Settings
from shared.networks.inbox import HidesReplies, ReactsToPosts, ReadsInbox, SearchesPosts
from shared.networks.ports import Draft, InboxKind, MediaRule, Network, ReplyTarget
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry

INSTALLED = sorted(entry.name for entry in entry_points(group=ENTRY_POINT_GROUP))
KNOWN_METRICS = {"likes", "reposts", "replies", "quotes", "bookmarks", "views", "clicks"}


@pytest.fixture(params=INSTALLED)
def network(request: pytest.FixtureRequest, settings: Settings) -> Network:
    return NetworkRegistry(settings).get(request.param)


def test_the_sandbox_is_among_the_installed_networks():
    assert "sandbox" in INSTALLED


def test_each_adapter_implements_the_port_under_its_entry_point_name(
    network: Network, request: pytest.FixtureRequest
):
    assert isinstance(network, Network)
    assert network.info.name == request.node.callspec.params["network"]


def test_each_adapter_describes_itself_fully(network: Network):
    info = network.info
    assert info.display_name
    assert info.text_limit is None or info.text_limit > 0
    assert info.text_unit
    assert set(info.metrics) <= KNOWN_METRICS
    assert all(isinstance(key, str) and key for key in info.credential_keys)
    assert info.media is None or (
        isinstance(info.media, MediaRule) and info.media.max_items > 0 and info.media.max_bytes > 0
    )


def test_each_adapter_answers_problems_as_sentences_not_exceptions(network: Network):
    assert all(isinstance(problem, str) and problem for problem in network.check_settings({"no such": 1}))
    assert network.validate(Draft(text="Hello")) == []
    assert all(isinstance(problem, str) and problem for problem in network.validate(Draft(text="")))
    assert network.validate(Draft(text="")) != []


def test_each_adapter_that_needs_credentials_finds_empty_ones_wanting(network: Network):
    empty = dict.fromkeys(network.info.credential_keys, "")

    problems = network.check_credentials(empty)

    assert all(isinstance(problem, str) and problem for problem in problems)
    assert bool(problems) == bool(network.info.credential_keys)


def test_each_adapter_implements_the_inbox_protocols_its_info_claims(network: Network):
    inbox = network.info.inbox
    assert len(set(inbox.kinds)) == len(inbox.kinds)
    assert InboxKind.POST not in inbox.kinds  # a saved search's kind, not an inbox's
    assert bool(inbox.kinds) == isinstance(network, ReadsInbox)
    assert not inbox.can_search or isinstance(network, SearchesPosts)
    assert not inbox.can_like or isinstance(network, ReactsToPosts)
    assert not inbox.can_hide or isinstance(network, HidesReplies)


def test_each_adapter_that_replies_refuses_a_reply_to_what_is_not_a_post_id_of_its_own(settings: Settings):
    registry = NetworkRegistry(settings)
    replying = [network for network in registry.all() if network.info.inbox.can_reply]
    assert replying, "no installed network can reply"
    for network in replying:
        problems = network.validate(Draft(text="Hello", reply_to=ReplyTarget("")))
        assert problems, f"{network.info.name} would reply to an empty id"
        assert all(isinstance(problem, str) and problem for problem in problems)
