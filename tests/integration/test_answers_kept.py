"""What a network says it made is checked before it is kept: a post's id and address are shown, linked and
exported, so one Crier cannot keep is an answer it cannot read, and the post may exist all the same."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from shared.bootstrap import Services
from shared.deliveries.models import AttemptOutcome, DeliveryPart, DeliveryState
from shared.deliveries.publishing import reconcile_unknown
from tests.factories import make_post, make_workspace, read_delivery
from tests.integration.fake_networks import script, scripted_channel
from tests.integration.test_publishing import claim_and_publish

UNKEEPABLE = {
    "a script for an address": {"published_url": "javascript:alert(document.cookie)"},
    "a data address": {"published_url": "data:text/html,<script>alert(1)</script>"},
    "CR/LF in the address": {"published_url": "https://x.example/a\r\nSet-Cookie: session=stolen"},
    "a tab in the address": {"published_url": "https://x.example/\ta"},
    "an address of 3,000 characters": {"published_url": "https://x.example/" + "a" * 3000},
    "another scheme": {"published_url": "ftp://x.example/post"},
    "no host": {"published_url": "https:///post"},
    "an id of 300 characters": {"published_id": "7" * 300},
    "a line break in the id": {"published_id": "123\n456"},
    "a bidi override in the id": {"published_id": "123\u202e654"},
    "an empty id": {"published_id": ""},
}


@pytest.mark.parametrize("answer", UNKEEPABLE.values(), ids=UNKEEPABLE.keys())
def test_a_post_the_network_describes_in_a_way_crier_cannot_keep_is_an_unknown_outcome(
    scripted: Services, answer: dict[str, Any]
) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(scripted, workspace, [scripted_channel(scripted, workspace, **answer)])

    claim, state = claim_and_publish(scripted)

    assert state is DeliveryState.UNKNOWN
    delivery = read_delivery(scripted, claim.delivery_id)
    assert (delivery.external_id, delivery.external_url) == (None, None)
    assert "cannot keep" in (delivery.last_error or "")
    assert "\r" not in (delivery.last_error or "")
    assert "\n" not in (delivery.last_error or "")
    assert len(delivery.last_error or "") < 400
    assert [attempt.outcome for attempt in delivery.attempts] == [AttemptOutcome.UNKNOWN]
    with scripted.sessions() as session:
        assert session.scalars(select(DeliveryPart)).all() == []


def test_a_post_without_an_address_is_kept_by_its_id(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    make_post(scripted, workspace, [scripted_channel(scripted, workspace, published_url="")])

    claim, state = claim_and_publish(scripted)

    assert state is DeliveryState.PUBLISHED
    assert read_delivery(scripted, claim.delivery_id).external_url == ""


def test_a_lookup_that_finds_a_post_crier_cannot_keep_leaves_it_unknown(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown")
    make_post(scripted, workspace, [channel])
    claim, _ = claim_and_publish(scripted)
    script(scripted, channel, find="found", published_url="https://x.example/\r\nLocation: https://evil")

    reconcile_unknown(scripted)

    delivery = read_delivery(scripted, claim.delivery_id)
    assert delivery.state is DeliveryState.UNKNOWN  # asked again later; a person decides if it persists
    assert delivery.external_url is None
    with scripted.sessions() as session:
        assert session.scalars(select(DeliveryPart)).all() == []
