"""A server answering 2xx with fields missing or of the wrong type gets a NetworkError, never a crash.

Over real HTTP: the adapters talk to their fakes through the misbehaving proxy, which replaces one answer
with a malformed one. A write's malformed answer is OutcomeUnknown (the server may have stored the post,
so Crier checks); a read's is Transient (asked again later). A KeyError or TypeError escaping would fail a
worker's task or answer an API request with a 500.
"""

from __future__ import annotations

import json
import uuid

import pytest

from shared.networks.ports import Draft, NetworkError, OutcomeUnknown, Transient
from tests.networks.misbehaving_proxy import Answer, Mode, Rule
from tests.networks.test_answers_table import Stage, bluesky_stage, mastodon_stage

MALFORMED_STATUSES = {
    "no fields": {},
    "an id that is an object": {"id": {"id": 1}, "created_at": "2026-12-01T09:00:00.000Z"},
    "an id that is null": {"id": None, "created_at": "2026-12-01T09:00:00.000Z"},
    "a date that is not one": {"id": "1099", "created_at": "yesterday"},
    "a date that is a number": {"id": "1099", "created_at": 1733043600},
}
MALFORMED_RECORDS = {
    "no fields": {},
    "a uri that is a number": {"uri": 7, "cid": "bafyreib"},
    "a cid that is null": {"uri": "at://did:plc:x/app.bsky.feed.post/3k", "cid": None},
}


def json_answer(body: object) -> Answer:
    return Answer(200, json.dumps(body), "application/json")


def outcome_of(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except NetworkError as error:
        return error


@pytest.fixture(scope="module")
def mastodon() -> Stage:
    with mastodon_stage() as stage:
        yield stage  # type: ignore[misc]


@pytest.fixture(scope="module")
def bluesky() -> Stage:
    with bluesky_stage() as stage:
        yield stage  # type: ignore[misc]


@pytest.mark.parametrize("body", MALFORMED_STATUSES.values(), ids=MALFORMED_STATUSES)
def test_a_mastodon_publish_answered_with_a_malformed_status_is_an_unknown_outcome(
    mastodon: Stage, body: dict[str, object]
) -> None:
    mastodon.proxy.reset()
    mastodon.proxy.add(Rule("POST", "/api/v1/statuses", Mode.ANSWER_AFTER_FORWARDING, json_answer(body)))

    outcome = outcome_of(
        lambda: mastodon.network.publish(mastodon.account, Draft(text="Hi"), str(uuid.uuid4()))
    )

    assert isinstance(outcome, OutcomeUnknown), outcome
    assert "cannot read" in str(outcome)


def test_a_mastodon_reply_answered_malformed_carries_the_parts_made_before_it(mastodon: Stage) -> None:
    mastodon.proxy.reset()
    key = str(uuid.uuid4())
    root = mastodon.network.publish(mastodon.account, Draft(text="The start"), key)
    mastodon.proxy.add(Rule("POST", "/api/v1/statuses", Mode.ANSWER_AFTER_FORWARDING, json_answer({})))

    outcome = outcome_of(
        lambda: mastodon.network.publish(
            mastodon.account, Draft(text="The start", thread=("The reply",)), key, published=root.parts
        )
    )

    # The reply may exist; the post certainly does, and Crier records it before looking for the reply.
    assert isinstance(outcome, OutcomeUnknown), outcome
    assert outcome.published == root.parts


@pytest.mark.parametrize(
    "body",
    [{"acct": None}, {"acct": ["alice"]}, ["alice"], {}],
    ids=["null", "list", "not-an-object", "none"],
)
def test_a_mastodon_account_answered_malformed_is_transient_when_verifying(
    mastodon: Stage, body: object
) -> None:
    mastodon.proxy.reset()
    mastodon.proxy.add(Rule("GET", "/api/v1/accounts/verify_credentials", Mode.ANSWER, json_answer(body)))

    outcome = outcome_of(lambda: mastodon.network.verify(mastodon.account))

    assert isinstance(outcome, Transient), outcome


def test_mastodon_counts_answered_without_ids_are_transient(mastodon: Stage) -> None:
    mastodon.proxy.reset()
    published = mastodon.network.publish(mastodon.account, Draft(text="Counted"), str(uuid.uuid4()))
    mastodon.proxy.add(
        Rule("GET", "/api/v1/statuses", Mode.ANSWER, json_answer([{"favourites_count": 3}]), times=None)
    )

    outcome = outcome_of(lambda: mastodon.network.fetch_engagement(mastodon.account, [published.external_id]))

    assert isinstance(outcome, Transient), outcome


@pytest.mark.parametrize("body", MALFORMED_RECORDS.values(), ids=MALFORMED_RECORDS)
def test_a_bluesky_publish_answered_with_a_malformed_record_is_an_unknown_outcome(
    bluesky: Stage, body: dict[str, object]
) -> None:
    bluesky.proxy.reset()
    bluesky.proxy.add(
        Rule("POST", "/xrpc/com.atproto.repo.createRecord", Mode.ANSWER_AFTER_FORWARDING, json_answer(body))
    )

    outcome = outcome_of(
        lambda: bluesky.network.publish(bluesky.account, Draft(text="Hi"), str(uuid.uuid4()))
    )

    assert isinstance(outcome, OutcomeUnknown), outcome


@pytest.mark.parametrize(
    "body",
    [{"did": "did:plc:x", "handle": "alice.test", "accessJwt": 1, "refreshJwt": "r"}, {"did": "did:plc:x"}],
    ids=["a token that is a number", "no tokens"],
)
def test_a_bluesky_session_answered_malformed_is_transient(body: dict[str, object]) -> None:
    # A stage of its own: the module's shares a session the adapter already holds.
    with bluesky_stage() as stage:
        stage.proxy.add(
            Rule("POST", "/xrpc/com.atproto.server.createSession", Mode.ANSWER, json_answer(body))
        )

        outcome = outcome_of(lambda: stage.network.verify(stage.account))

    assert isinstance(outcome, Transient), outcome
