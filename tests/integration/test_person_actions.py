"""What a person may do to a delivery (retry, republish, mark published, cancel), and from which states."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.attempts import begin_attempt, begin_attempts, read_claimed
from shared.deliveries.claiming import claim_due
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.publishing import publish_delivery
from shared.deliveries.services import cancel_delivery, mark_published, republish_delivery, retry_delivery
from shared.errors import Conflict, NotFound
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id, read_delivery
from tests.integration.fake_networks import sandbox_of

LEASE = timedelta(seconds=60)
FOUND_AT = "https://sandbox.invalid/@sandbox/found-by-hand"
# Every column an action may change: a refused action changes none of them.
COLUMNS = (
    "state",
    "scheduled_at",
    "due_at",
    "failures",
    "attempt",
    "lease_expires_at",
    "external_id",
    "external_url",
    "published_at",
    "last_error",
    "updated_at",
)

S = DeliveryState


@dataclass(frozen=True)
class Action:
    name: str
    act: Callable[[Session, uuid.UUID, uuid.UUID, datetime], Delivery]
    allowed: frozenset[DeliveryState]
    becomes: DeliveryState
    refusal: str

    def __str__(self) -> str:
        return self.name


ACTIONS = [
    Action(
        "retry",
        lambda session, workspace_id, delivery_id, now: retry_delivery(
            session, workspace_id, delivery_id, now=now
        ),
        frozenset({S.FAILED, S.MISSED, S.CANCELLED}),
        S.SCHEDULED,
        "only one that is cancelled, failed, missed can be retried.",
    ),
    Action(
        "republish",
        lambda session, workspace_id, delivery_id, now: republish_delivery(
            session, workspace_id, delivery_id, now=now
        ),
        frozenset({S.UNKNOWN, S.NEEDS_REVIEW}),
        S.SCHEDULED,
        "only one that is needs_review, unknown can be republished.",
    ),
    Action(
        "mark published",
        lambda session, workspace_id, delivery_id, now: mark_published(
            session, workspace_id, delivery_id, url=FOUND_AT, external_id="found-by-hand", now=now
        ),
        frozenset({S.UNKNOWN, S.NEEDS_REVIEW}),
        S.PUBLISHED,
        "only one that is needs_review, unknown can be marked published.",
    ),
    Action(
        "cancel",
        lambda session, workspace_id, delivery_id, now: cancel_delivery(
            session, workspace_id, delivery_id, now=now
        ),
        # Not needs_review: a person settles that by saying what they found (mark published, republish).
        frozenset({S.SCHEDULED, S.RETRY_WAIT, S.ENQUEUED}),
        S.CANCELLED,
        "only one that is enqueued, retry_wait, scheduled can be cancelled.",
    ),
]
ACTION = {action.name: action for action in ACTIONS}


def delivery_in(services: Services, workspace: Workspace, state: DeliveryState, **values: Any) -> uuid.UUID:
    """A delivery that has been through some attempts and now is in `state`."""
    channel = make_channel(services, workspace)
    delivery_id = only_delivery_id(make_post(services, workspace, [channel]))
    columns: dict[str, Any] = {"state": state, "attempt": 2, "failures": 2, "last_error": "503 (earlier)"}
    if state in (S.ENQUEUED, S.PUBLISHING):
        columns["lease_expires_at"] = utcnow() + LEASE
    with services.sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**(columns | values)))
    return delivery_id


def snapshot(services: Services, delivery_id: uuid.UUID) -> dict[str, object]:
    delivery = read_delivery(services, delivery_id)
    return {column: getattr(delivery, column) for column in COLUMNS}


@pytest.mark.parametrize(
    ("action", "state"),
    [(action, state) for action in ACTIONS for state in DeliveryState],
    ids=[f"{action}-{state}" for action in ACTIONS for state in DeliveryState],
)
def test_each_action_is_allowed_from_its_states_and_refused_from_every_other_with_the_reason(
    services: Services, action: Action, state: DeliveryState
) -> None:
    workspace, _ = make_workspace(services)
    delivery_id = delivery_in(services, workspace, state)
    before = snapshot(services, delivery_id)
    now = utcnow()

    if state in action.allowed:
        with services.sessions.begin() as session:
            returned = action.act(session, workspace.id, delivery_id, now)
        assert returned.state is action.becomes
        after = read_delivery(services, delivery_id)
        assert (after.state, after.updated_at, after.lease_expires_at) == (action.becomes, now, None)
    else:
        with pytest.raises(Conflict) as refused, services.sessions.begin() as session:
            action.act(session, workspace.id, delivery_id, now)
        assert str(refused.value) == f"The delivery is {state}; {action.refusal}"
        assert refused.value.detail == str(refused.value)
        assert snapshot(services, delivery_id) == before


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_a_delivery_of_another_workspace_is_not_found_and_left_as_it_was(
    services: Services, action: Action
) -> None:
    owner, _ = make_workspace(services, "Riverside library")
    stranger, _ = make_workspace(services, "Someone else")
    delivery_id = delivery_in(services, owner, min(action.allowed))
    before = snapshot(services, delivery_id)

    with pytest.raises(NotFound) as not_found, services.sessions.begin() as session:
        action.act(session, stranger.id, delivery_id, utcnow())

    assert str(not_found.value) == f"There is no delivery with id {delivery_id} in this workspace."
    assert snapshot(services, delivery_id) == before


def test_an_unknown_id_is_not_found(services: Services) -> None:
    workspace, _ = make_workspace(services)
    missing = uuid.uuid4()

    for action in ACTIONS:
        with pytest.raises(NotFound) as not_found, services.sessions.begin() as session:
            action.act(session, workspace.id, missing, utcnow())
        assert str(not_found.value) == f"There is no delivery with id {missing} in this workspace."


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (ACTION["retry"], S.FAILED),
        (ACTION["retry"], S.MISSED),
        (ACTION["retry"], S.CANCELLED),
        (ACTION["republish"], S.UNKNOWN),
        (ACTION["republish"], S.NEEDS_REVIEW),
    ],
    ids=lambda value: str(value),
)
def test_retrying_or_republishing_starts_afresh_due_now_with_its_attempts_back(
    services: Services, action: Action, state: DeliveryState
) -> None:
    workspace, _ = make_workspace(services)
    max_attempts = services.settings.max_publish_attempts
    a_day_ago = utcnow() - timedelta(days=1)
    delivery_id = delivery_in(
        services, workspace, state, failures=max_attempts, scheduled_at=a_day_ago, due_at=a_day_ago
    )
    now = utcnow()

    with services.sessions.begin() as session:
        action.act(session, workspace.id, delivery_id, now)

    delivery = read_delivery(services, delivery_id)
    assert (delivery.state, delivery.scheduled_at, delivery.due_at) == (S.SCHEDULED, now, now)
    assert (delivery.failures, delivery.last_error, delivery.lease_expires_at) == (0, None, None)
    with services.sessions.begin() as session:
        [claim] = claim_due(session, now=now, lookahead=timedelta(0), batch_size=10, lease=LEASE)
    # Claimed under a new number: a message still around for an earlier claim is stale.
    assert (claim.delivery_id, claim.attempt) == (delivery_id, 3)


@pytest.mark.parametrize("state", [S.UNKNOWN, S.NEEDS_REVIEW])
@pytest.mark.parametrize("external_id", ["109876543210", None], ids=["with an id", "url only"])
def test_marking_published_records_where_the_person_found_the_post(
    services: Services, state: DeliveryState, external_id: str | None
) -> None:
    workspace, _ = make_workspace(services)
    delivery_id = delivery_in(services, workspace, state)
    now = utcnow()

    with services.sessions.begin() as session:
        mark_published(session, workspace.id, delivery_id, url=FOUND_AT, external_id=external_id, now=now)

    delivery = read_delivery(services, delivery_id)
    assert (delivery.state, delivery.external_url, delivery.external_id) == (
        S.PUBLISHED,
        FOUND_AT,
        external_id,
    )
    assert (delivery.published_at, delivery.last_error, delivery.failures) == (now, None, 2)
    with services.sessions.begin() as session:
        assert (
            claim_due(session, now=now + timedelta(days=1), lookahead=LEASE, batch_size=10, lease=LEASE) == []
        )


def test_a_cancelled_deliverys_message_arriving_later_does_nothing(services: Services) -> None:
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    now = utcnow()
    with services.sessions.begin() as session:
        [claim] = claim_due(session, now=now, lookahead=timedelta(0), batch_size=10, lease=LEASE)

    with services.sessions.begin() as session:
        cancel_delivery(session, workspace.id, claim.delivery_id, now=now)

    with services.sessions.begin() as session:
        assert begin_attempt(session, claim.delivery_id, claim.attempt, now=now, lease=LEASE) is None
    assert publish_delivery(services, claim.delivery_id, claim.attempt) is None
    delivery = read_delivery(services, claim.delivery_id)
    assert (delivery.state, delivery.attempts, delivery.lease_expires_at) == (S.CANCELLED, [], None)
    assert sandbox_of(services).store.count_by_key() == {}

    # Retried, it goes out once, under a new claim; the old message stays stale.
    with services.sessions.begin() as session:
        retry_delivery(session, workspace.id, claim.delivery_id, now=now)
    assert publish_delivery(services, claim.delivery_id, claim.attempt) is None
    with services.sessions.begin() as session:
        [again] = claim_due(session, now=now, lookahead=timedelta(0), batch_size=10, lease=LEASE)
    assert again.attempt == claim.attempt + 1
    assert publish_delivery(services, again.delivery_id, again.attempt) is S.PUBLISHED
    assert publish_delivery(services, claim.delivery_id, claim.attempt) is None
    assert sandbox_of(services).store.count_by_key() == {str(claim.delivery_id): 1}


def test_a_cancel_between_a_worker_reading_its_message_and_starting_the_attempt_wins(
    services: Services,
) -> None:
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    now = utcnow()
    with services.sessions.begin() as session:
        [claim] = claim_due(session, now=now, lookahead=timedelta(0), batch_size=10, lease=LEASE)
    with services.sessions.begin() as session:
        [job] = read_claimed(session, [(claim.delivery_id, claim.attempt)])

    with services.sessions.begin() as session:
        cancel_delivery(session, workspace.id, claim.delivery_id, now=now)
    with services.sessions.begin() as session:
        started = begin_attempts(session, [job], now=now, lease=LEASE)

    assert started == []
    delivery = read_delivery(services, claim.delivery_id)
    assert (delivery.state, delivery.attempts) == (S.CANCELLED, [])


def test_a_delivery_whose_attempt_has_started_can_no_longer_be_cancelled(services: Services) -> None:
    workspace, _ = make_workspace(services)
    make_post(services, workspace, [make_channel(services, workspace)])
    now = utcnow()
    with services.sessions.begin() as session:
        [claim] = claim_due(session, now=now, lookahead=timedelta(0), batch_size=10, lease=LEASE)
    with services.sessions.begin() as session:
        assert begin_attempt(session, claim.delivery_id, claim.attempt, now=now, lease=LEASE) is not None

    refusal = r"^The delivery is publishing; only one that is enqueued, "
    with pytest.raises(Conflict, match=refusal), services.sessions.begin() as session:
        cancel_delivery(session, workspace.id, claim.delivery_id, now=now)

    assert read_delivery(services, claim.delivery_id).state is S.PUBLISHING
