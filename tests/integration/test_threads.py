"""A thread stopped midway is finished from its last part, exactly once, or goes to a person at once.

Each part the network confirms is recorded as soon as it is (delivery_parts); a later attempt sends only
the rest. Driven through the sandbox, whose store keeps every post it was asked to make, over a channel that
ignores idempotency keys: only Crier's own record of the parts keeps a retry from repeating them.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.claiming import Claim, claim_due, mark_missed
from shared.deliveries.models import DeliveryPart, DeliveryState
from shared.deliveries.publishing import publish_delivery, reconcile_unknown
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.store import sandbox_posts
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_mastodon_channel, make_workspace, read_delivery
from tests.integration.fake_networks import ScriptedRandom, sandbox_of, script, scripted_channel
from tests.networks.mastodon.fake import serve as serve_mastodon
from tests.networks.on_this_machine import allowing_here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake servers listen on 127.0.0.1, which the operator allows here.
    return allowing_here(settings)


THREAD = ("2/4: the venue", "3/4: the talks", "4/4: see you there")
LEASE = timedelta(seconds=60)


# One request that goes through, one refused before storing, one stored whose answer is lost.
OK = (0.99, 0.99)
REFUSED = (0.0,)
STORED_THEN_LOST = (0.99, 0.0)


def load_dice(services: Services, *requests: tuple[float, ...]) -> SandboxNetwork:
    sandbox = sandbox_of(services)
    sandbox._rng = ScriptedRandom([draw for request in requests for draw in request])
    return sandbox


def unreliable_channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(
        services,
        workspace,
        "Town hall",
        failure_rate=0.5,
        stored_then_timeout_rate=0.5,
        honours_idempotency_key=False,
    )


def schedule_thread(services: Services, workspace: Workspace, channel: Channel) -> uuid.UUID:
    request = PostRequest(text="1/4: our meetup", thread=THREAD, targets=[TargetRequest(channel.id)])
    with services.sessions.begin() as session:
        post = create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())
        return post.deliveries[0].id


def attempt_due(services: Services, now: datetime | None = None) -> DeliveryState | None:
    with services.sessions.begin() as session:
        [claimed] = claim_due(
            session, now=now or utcnow(), lookahead=timedelta(0), batch_size=10, lease=LEASE
        )
    assert isinstance(claimed, Claim)
    return publish_delivery(services, claimed.delivery_id, claimed.attempt)


def posts_on_the_network(services: Services) -> list[dict[str, object]]:
    with sandbox_of(services).store.engine.begin() as connection:
        rows = connection.execute(select(sandbox_posts).order_by(sandbox_posts.c.created_at)).mappings()
        return [dict(row) for row in rows]


def recorded_parts(services: Services, delivery_id: uuid.UUID) -> list[str]:
    with services.sessions() as session:
        return list(
            session.scalars(
                select(DeliveryPart.external_id)
                .where(DeliveryPart.delivery_id == delivery_id)
                .order_by(DeliveryPart.position)
            )
        )


def assert_one_chain(services: Services, delivery_id: uuid.UUID) -> None:
    """Every part on the network once, each answering the one before, as the delivery records them."""
    stored = posts_on_the_network(services)
    assert [row["text"] for row in stored] == ["1/4: our meetup", *THREAD]
    assert [row["in_reply_to_id"] for row in stored] == [None, *(row["id"] for row in stored[:-1])]
    assert recorded_parts(services, delivery_id) == [row["id"] for row in stored]


def test_a_reply_whose_answer_was_lost_is_found_and_the_thread_finished_from_it(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channel = unreliable_channel(services, workspace)
    delivery_id = schedule_thread(services, workspace, channel)
    # The post and reply 1 go through; reply 2 is stored but its answer is lost.
    load_dice(services, OK, OK, STORED_THEN_LOST)

    assert attempt_due(services) is DeliveryState.UNKNOWN
    assert len(recorded_parts(services, delivery_id)) == 2, "what was confirmed is kept at once"
    delivery = read_delivery(services, delivery_id)
    assert delivery.external_url is not None
    assert delivery.external_url.endswith(recorded_parts(services, delivery_id)[0])

    # The check finds reply 2 and not reply 3: it is recorded, and the rest is due to go out.
    assert reconcile_unknown(services) == {delivery_id: DeliveryState.RETRY_WAIT}
    assert len(recorded_parts(services, delivery_id)) == 3
    assert "the rest of the thread goes out from the last one found" in (
        read_delivery(services, delivery_id).last_error or ""
    )

    load_dice(services, OK)
    assert attempt_due(services, utcnow() + timedelta(minutes=5)) is DeliveryState.PUBLISHED
    assert_one_chain(services, delivery_id)
    delivery = read_delivery(services, delivery_id)
    first = posts_on_the_network(services)[0]
    assert delivery.external_id == first["id"]
    assert delivery.published_at is not None


def test_a_reply_refused_before_storing_is_sent_again_from_the_last_part(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channel = unreliable_channel(services, workspace)
    delivery_id = schedule_thread(services, workspace, channel)
    load_dice(services, OK, REFUSED)

    assert attempt_due(services) is DeliveryState.RETRY_WAIT
    assert len(recorded_parts(services, delivery_id)) == 1
    delivery = read_delivery(services, delivery_id)
    assert (delivery.last_error or "").startswith("The post and 0 of 3 thread replies are on the network")

    load_dice(services, OK, OK, OK)
    assert attempt_due(services, utcnow() + timedelta(minutes=5)) is DeliveryState.PUBLISHED
    assert_one_chain(services, delivery_id)


def test_a_thread_the_network_refuses_to_finish_goes_to_a_person_with_its_parts(services: Services) -> None:
    workspace, _ = make_workspace(services)
    with contextmanager(serve_mastodon)() as server:
        alice = server.add_account("alice", token="alice-token")
        channel = make_mastodon_channel(services, workspace, server.base_url, "alice-token")
        long_reply = "3/4: " + "the talks, " * 8
        request = PostRequest(
            text="1/4", thread=("2/4", long_reply, "4/4"), targets=[TargetRequest(channel.id)]
        )
        with services.sessions.begin() as session:
            post = create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())
            delivery_id = post.deliveries[0].id
        server.max_characters = 50  # lowered by the server's admin after the post was scheduled

        assert attempt_due(services) is DeliveryState.NEEDS_REVIEW

        statuses = [server._status_json(status) for status in server.statuses_of(alice)]
        assert [status["content"] for status in statuses] == ["<p>1/4</p>", "<p>2/4</p>"]
        assert recorded_parts(services, delivery_id) == [status["id"] for status in statuses]
        error = read_delivery(services, delivery_id).last_error or ""
        assert error.startswith("The post and 1 of 3 thread replies are on the network (")
        assert all(status["url"] in error for status in statuses)
        assert "422: Validation failed: Text character limit of 50 exceeded" in error


def test_a_check_that_cannot_settle_it_goes_to_a_person_at_once(scripted: Services) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown", find="cannot_tell")
    schedule_thread(scripted, workspace, channel)
    assert attempt_due(scripted) is DeliveryState.UNKNOWN
    script(scripted, channel, find="cannot_tell", find_message="2 statuses match the post")

    [(delivery_id, state)] = reconcile_unknown(scripted).items()

    assert state is DeliveryState.NEEDS_REVIEW, "no hour of unknown: waiting would not change the answer"
    assert "cannot settle it: 2 statuses match the post" in (
        read_delivery(scripted, delivery_id).last_error or ""
    )


def test_a_thread_with_parts_out_there_is_finished_however_late_never_missed(services: Services) -> None:
    workspace, _ = make_workspace(services)
    channel = unreliable_channel(services, workspace)
    delivery_id = schedule_thread(services, workspace, channel)
    load_dice(services, OK, REFUSED)
    assert attempt_due(services) is DeliveryState.RETRY_WAIT
    hours_later = utcnow() + timedelta(hours=3)
    with services.sessions.begin() as session:
        assert (
            mark_missed(session, now=hours_later, lookahead=timedelta(0), max_lateness=timedelta(minutes=30))
            == 0
        )

    load_dice(services, OK, OK, OK)
    assert attempt_due(services, hours_later) is DeliveryState.PUBLISHED
    assert_one_chain(services, delivery_id)
