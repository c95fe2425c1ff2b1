"""X answering 2xx with fields missing or of the wrong type gets a NetworkError, never a crash: a write's
malformed answer is OutcomeUnknown (the post may exist), a read's is Transient. Over real HTTP, through the
misbehaving proxy in front of the fake."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from shared.networks.ports import Draft, NetworkError, OutcomeUnknown, PublishedPost, Transient
from tests.networks.misbehaving_proxy import Answer, Mode, Rule
from tests.networks.test_answers_table import Stage, x_stage


def json_answer(body: object) -> Answer:
    return Answer(200, json.dumps(body), "application/json")


def outcome_of(call: Callable[[], object]) -> object:
    try:
        return call()
    except NetworkError as error:
        return error


@pytest.fixture(scope="module")
def x() -> Iterator[Stage]:
    with x_stage() as stage:
        yield stage


@pytest.mark.parametrize(
    "body",
    [{}, {"data": None}, {"data": {"id": {"id": 1}}}, {"data": {"id": None}}, {"data": ["1"]}, ["1"]],
    ids=["no fields", "null data", "an id that is an object", "a null id", "data a list", "a list"],
)
def test_a_post_answered_malformed_is_an_unknown_outcome(x: Stage, body: object) -> None:
    x.proxy.reset()
    x.proxy.add(Rule("POST", "/2/tweets", Mode.ANSWER_AFTER_FORWARDING, json_answer(body)))

    outcome = outcome_of(lambda: x.network.publish(x.account, Draft(text=f"Hi {uuid.uuid4()}"), "k"))

    assert isinstance(outcome, OutcomeUnknown), outcome


@pytest.mark.parametrize(
    "body",
    [{"data": {"username": None}}, {"data": ["alice"]}, {"data": None}, {}],
    ids=["null", "a list", "null data", "none"],
)
def test_an_account_answered_malformed_is_transient_when_verifying(x: Stage, body: object) -> None:
    x.proxy.reset()
    x.proxy.add(Rule("GET", "/2/users/me", Mode.ANSWER, json_answer(body)))

    assert isinstance(outcome_of(lambda: x.network.verify(x.account)), Transient)


def test_counts_answered_without_ids_are_transient(x: Stage) -> None:
    x.proxy.reset()
    post = x.network.publish(x.account, Draft(text=f"Counted {uuid.uuid4()}"), "k")
    assert isinstance(post, PublishedPost)
    x.proxy.add(Rule("GET", "/2/tweets", Mode.ANSWER, json_answer({"data": [{"public_metrics": {}}]})))

    outcome = outcome_of(lambda: x.network.fetch_engagement(x.account, [post.external_id]))

    assert isinstance(outcome, Transient), outcome


@pytest.mark.parametrize(
    "posts",
    [[{"id": "1", "text": 5}], [{"id": "1", "text": "t", "created_at": "yesterday"}], {"id": "1"}],
    ids=["text a number", "a date that is not one", "data an object"],
)
def test_a_timeline_answered_malformed_is_transient_when_finding(x: Stage, posts: object) -> None:
    x.proxy.reset()
    # The account's timeline, /2/users/<id>/tweets (the fake's ids begin 19…), not /2/users/me.
    x.proxy.add(Rule("GET", "/2/users/19", Mode.ANSWER, json_answer({"data": posts})))

    outcome = outcome_of(
        lambda: x.network.find_published(
            x.account, "k", draft=Draft(text="t"), attempted_at=datetime.now(UTC)
        )
    )

    assert isinstance(outcome, Transient), outcome


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"id": "1", "text": "t", "created_at": "2026-01-01T00:00:00.000Z"}]},
        {"data": [{"id": "1", "text": "t", "author_id": "2"}]},
        {"data": {"id": "1"}},
        {"data": [], "includes": {"users": ["alice"]}},
        {"data": [], "meta": {"newest_id": {"id": 1}}},
    ],
    ids=["no author", "no time", "data an object", "users not objects", "an id that is an object"],
)
@pytest.mark.parametrize("read", ["mentions", "search"])
def test_an_inbox_page_answered_malformed_is_transient(x: Stage, body: object, read: str) -> None:
    x.proxy.reset()
    # The mentions timeline is /2/users/<id>/mentions (the fake's ids begin 19…), not /2/users/me.
    path = "/2/users/19" if read == "mentions" else "/2/tweets/search/recent"
    x.proxy.add(Rule("GET", path, Mode.ANSWER, json_answer(body)))

    outcome = outcome_of(
        lambda: (
            x.network.read_inbox(x.account, "{}")
            if read == "mentions"
            else x.network.search_posts(x.account, "#crier", "{}")
        )
    )

    assert isinstance(outcome, Transient), outcome
    assert "cannot read" in str(outcome)
