"""Answering items: a reply goes out once as a post of its own, a like is done once, each under retries."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.publishing import reconcile_unknown
from shared.errors import Conflict, Forbidden
from shared.inbox.answering import act_soon, ask_for_action, perform_due_actions, reply
from shared.inbox.models import ActionKind, ActionState, InboxAction, InboxItem, ItemState
from shared.inbox.reading import read_due_sources
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.posts.models import PostStage
from shared.task_names import PERFORM_INBOX_ACTIONS
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_add_member
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, read_delivery
from tests.inbox.conftest import Audience


def received(services: Services, channel: Channel, audience: Audience, published: Delivery) -> InboxItem:
    """One reply from ada to the channel's published post, read into the inbox."""
    assert published.external_id is not None
    audience.reply(published.external_id, "Is the fair open on Sunday too?")
    read_due_sources(services)
    with services.sessions() as session:
        return session.scalars(select(InboxItem).where(InboxItem.channel_id == channel.id)).one()


def actor_of(services: Services, workspace: Workspace, role: Role) -> Actor:
    with services.sessions.begin() as session:
        member = get_or_add_member(session, workspace, f"{role.value}@example.org", role=role)
        return Actor.of(workspace.id, member.id, role, Scope.ADMIN, member.name)


def sandbox_replies_to(sandbox: SandboxNetwork, external_id: str) -> list[dict[str, object]]:
    return sandbox.store.replies_to([external_id])


def test_a_reply_is_published_once_on_the_network_as_an_answer_to_the_item(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    audience: Audience,
    published: Delivery,
    sandbox: SandboxNetwork,
):
    item = received(services, channel, audience, published)
    editor = actor_of(services, workspace, Role.EDITOR)

    post, repeated = reply(services, editor, item, "Yes, from 10 to 4!", now=utcnow())
    assert not repeated
    assert post.stage is PostStage.SCHEDULED
    publish_what_is_due(services)
    publish_what_is_due(services)

    [answer] = sandbox_replies_to(sandbox, item.external_id)
    assert answer["text"] == "Yes, from 10 to 4!"
    assert answer["handle"] == channel.handle
    with services.sessions() as session:
        stored = session.get_one(InboxItem, item.id)
        assert [each.post_id for each in stored.replies] == [post.id]
        assert stored.state is ItemState.DONE
        assert not stored.unread
        [delivery] = session.scalars(select(Delivery).where(Delivery.post_id == post.id)).all()
        assert delivery.state is DeliveryState.PUBLISHED
        assert delivery.external_id == answer["id"]


def test_a_reply_whose_answer_was_lost_is_found_on_the_network_and_not_sent_again(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    audience: Audience,
    published: Delivery,
    sandbox: SandboxNetwork,
):
    item = received(services, channel, audience, published)
    # From now on the network stores each post and its answer never comes back.
    with services.sessions.begin() as session:
        session.execute(
            update(Channel).where(Channel.id == channel.id).values(settings={"stored_then_timeout_rate": 1})
        )

    answer, _ = reply(services, Actor.system(workspace.id), item, "See you there!", now=utcnow())
    assert set(publish_what_is_due(services).values()) == {DeliveryState.UNKNOWN}
    reconcile_unknown(services)
    publish_what_is_due(services)

    [made] = sandbox_replies_to(sandbox, item.external_id)
    assert made["text"] == "See you there!"
    with services.sessions() as session:
        [delivery] = session.scalars(select(Delivery).where(Delivery.post_id == answer.id)).all()
    assert delivery.state is DeliveryState.PUBLISHED
    assert delivery.external_id == made["id"]


def test_a_contributors_reply_waits_for_an_approver_and_nothing_is_sent_until_then(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    audience: Audience,
    published: Delivery,
    sandbox: SandboxNetwork,
):
    item = received(services, channel, audience, published)
    contributor = actor_of(services, workspace, Role.CONTRIBUTOR)

    post, _ = reply(services, contributor, item, "I think so, let me check.", now=utcnow())

    assert post.stage is PostStage.PENDING_APPROVAL
    publish_what_is_due(services)
    assert sandbox_replies_to(sandbox, item.external_id) == []


def test_a_viewer_cannot_reply(
    services: Services, workspace: Workspace, channel: Channel, audience: Audience, published: Delivery
):
    item = received(services, channel, audience, published)
    with pytest.raises(Forbidden):
        reply(services, actor_of(services, workspace, Role.VIEWER), item, "Hi", now=utcnow())


def test_a_reply_on_a_network_crier_cannot_reply_on_is_refused_before_anything_is_stored(
    services: Services, channel: Channel, audience: Audience, published: Delivery, workspace: Workspace
):
    item = received(services, channel, audience, published)
    with services.sessions.begin() as session:
        session.execute(update(InboxItem).where(InboxItem.id == item.id).values(network="slack"))
        item = session.get_one(InboxItem, item.id)
    with pytest.raises(Conflict, match="cannot reply on Slack"):
        reply(services, Actor.system(workspace.id), item, "Hi", now=utcnow())


def test_a_like_asked_twice_is_one_action_done_once_on_the_network(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    audience: Audience,
    published: Delivery,
    sandbox: SandboxNetwork,
):
    item = received(services, channel, audience, published)
    editor = actor_of(services, workspace, Role.EDITOR)
    with services.sessions.begin() as session:
        first = ask_for_action(
            services, session, editor, session.get_one(InboxItem, item.id), ActionKind.LIKE
        )
    with services.sessions.begin() as session:
        again = ask_for_action(
            services, session, editor, session.get_one(InboxItem, item.id), ActionKind.LIKE
        )
    assert again.id == first.id

    assert perform_due_actions(services) == 1
    assert perform_due_actions(services) == 0
    assert sandbox.store.likes_of(item.external_id) == [channel.handle]
    with services.sessions() as session:
        action = session.get_one(InboxAction, first.id)
    assert action.state is ActionState.DONE
    assert action.attempts == 1


def test_a_like_the_network_failed_is_tried_again_later_and_done_once(
    services: Services, workspace: Workspace, audience: Audience, sandbox: SandboxNetwork
):
    flaky = make_channel(services, workspace, "Flaky Branch")
    post = make_post(services, workspace, [flaky], text="Board games tonight.")
    publish_what_is_due(services)
    item = received(
        services, flaky, Audience(sandbox.store, flaky.handle), read_delivery(services, post.deliveries[0].id)
    )
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == flaky.id).values(settings={"failure_rate": 1}))
        action = ask_for_action(
            services,
            session,
            Actor.system(workspace.id),
            session.get_one(InboxItem, item.id),
            ActionKind.LIKE,
        )

    assert perform_due_actions(services, rng=random.Random(1)) == 0
    with services.sessions() as session:
        waiting = session.get_one(InboxAction, action.id)
    assert waiting.state is ActionState.PENDING
    assert waiting.last_error is not None
    assert "503" in waiting.last_error
    assert waiting.next_attempt_at > utcnow() + timedelta(seconds=5)

    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == flaky.id).values(settings={}))
        session.execute(update(InboxAction).values(next_attempt_at=utcnow()))
    assert perform_due_actions(services) == 1
    assert sandbox.store.likes_of(item.external_id) == [flaky.handle]


def test_asking_for_a_like_asks_a_worker_after_the_transaction(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    audience: Audience,
    published: Delivery,
    task_queue: MemoryTaskQueue,
):
    item = received(services, channel, audience, published)
    with services.sessions.begin() as session:
        ask_for_action(
            services,
            session,
            Actor.system(workspace.id),
            session.get_one(InboxItem, item.id),
            ActionKind.LIKE,
        )
    act_soon(services)
    assert [sent.name for sent in task_queue.sent] == [PERFORM_INBOX_ACTIONS]


def test_hiding_on_a_network_that_cannot_hide_is_refused(
    services: Services, workspace: Workspace, channel: Channel, audience: Audience, published: Delivery
):
    item = received(services, channel, audience, published)
    with services.sessions.begin() as session, pytest.raises(Conflict, match="cannot hide"):
        ask_for_action(
            services,
            session,
            Actor.system(workspace.id),
            session.get_one(InboxItem, item.id),
            ActionKind.HIDE,
        )


def test_answering_an_item_of_a_network_no_longer_installed_is_refused_as_a_conflict(
    services: Services, workspace: Workspace, channel: Channel, audience: Audience, published: Delivery
):
    item = received(services, channel, audience, published)
    with services.sessions.begin() as session:
        session.execute(update(InboxItem).where(InboxItem.id == item.id).values(network="myspace"))
        item = session.get_one(InboxItem, item.id)
    with pytest.raises(Conflict, match="No network named 'myspace' is installed"):
        reply(services, Actor.system(workspace.id), item, "Hi", now=utcnow())
    with services.sessions.begin() as session, pytest.raises(Conflict, match="myspace"):
        ask_for_action(
            services,
            session,
            Actor.system(workspace.id),
            session.get_one(InboxItem, item.id),
            ActionKind.LIKE,
        )
