"""Deleting and editing published posts through Crier: exactly once, recorded, where the network allows.

Driven through the API, applied as a worker applies them (apply_due_changes), against the sandbox and a
fake Mastodon server over real HTTP whose edit answer a proxy can lose after the edit landed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.changing import apply_due_changes
from shared.deliveries.models import ChangeState, Delivery, DeliveryChange, DeliveryState
from shared.networks.sandbox.store import sandbox_posts
from shared.task_names import APPLY_DUE_CHANGES
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import (
    make_channel,
    make_mastodon_channel,
    make_slack_channel,
    read_delivery,
)
from tests.integration.fake_networks import ScriptedRandom, sandbox_of
from tests.networks.mastodon.fake import FakeAccount, FakeMastodon
from tests.networks.mastodon.fake import serve as serve_mastodon
from tests.networks.on_this_machine import allowing_here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake servers listen on 127.0.0.1, which the operator allows here.
    return allowing_here(settings)


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    yield from serve_mastodon()


def mastodon_channel(
    services: Services, workspace: Workspace, server: FakeMastodon
) -> tuple[Channel, FakeAccount]:
    alice = server.add_account("alice", token="alice-token")
    return make_mastodon_channel(services, workspace, server.base_url, "alice-token"), alice


def publish(client: FlaskClient, services: Services, channels: list[Channel], **post: object) -> dict:
    body = {
        "text": "Our meetup is on Friday",
        "channel_ids": [str(channel.id) for channel in channels],
        **post,
    }
    response = client.post("/v1/posts", json=body)
    assert response.status_code == 201, response.json
    publish_what_is_due(services)
    published = client.get(f"/v1/posts/{response.json['id']}").json
    assert {d["state"] for d in published["deliveries"]} == {"published"}, published
    return published


def sandbox_rows(services: Services) -> list[dict]:
    with sandbox_of(services).store.engine.begin() as connection:
        return [dict(row) for row in connection.execute(select(sandbox_posts)).mappings()]


def changes(services: Services) -> list[DeliveryChange]:
    with services.sessions() as session:
        return list(session.scalars(select(DeliveryChange).order_by(DeliveryChange.created_at)))


def test_a_published_thread_is_deleted_from_its_network_once_and_its_metrics_stop(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, task_queue: MemoryTaskQueue
) -> None:
    channel = make_channel(services, workspace, "Town hall")
    hook = workspace_client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.org/crier", "events": ["delivery.deleted"]}
    )
    assert hook.status_code == 201, hook.json
    post = publish(workspace_client, services, [channel], thread=["More on Friday", "See you there"])
    assert len(sandbox_rows(services)) == 3
    [delivery] = post["deliveries"]

    response = workspace_client.post(f"/v1/posts/{post['id']}/delete-published", json={})

    assert response.status_code == 202
    [change] = response.json["changes"]
    assert (change["kind"], change["state"], change["delivery_id"]) == ("delete", "waiting", delivery["id"])
    assert response.json["skipped"] == []
    assert [sent.name for sent in task_queue.sent][-1] == APPLY_DUE_CHANGES, "a worker is asked at once"
    assert apply_due_changes(services) == {uuid.UUID(change["id"]): ChangeState.DONE}

    assert sandbox_rows(services) == []
    deleted = read_delivery(services, uuid.UUID(delivery["id"]))
    assert deleted.state is DeliveryState.DELETED
    assert deleted.metrics_due_at is None
    body = workspace_client.get(f"/v1/deliveries/{delivery['id']}").json
    assert body["state"] == "deleted"
    assert [c["state"] for c in body["changes"]] == ["done"]
    assert workspace_client.get(f"/v1/posts/{post['id']}").json["state"] == "deleted"
    assert apply_due_changes(services) == {}, "nothing left to do"
    [told] = workspace_client.get(f"/v1/webhooks/{hook.json['id']}/messages").json["items"]
    assert told["type"] == "delivery.deleted"
    assert told["data"]["kind"] == "delete"
    again = workspace_client.post(f"/v1/posts/{post['id']}/delete-published", json={})
    assert again.status_code == 409
    with services.sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "post.deleted_from_networks"))
    assert entry.subject_id == uuid.UUID(post["id"])


def test_a_delete_whose_answer_was_lost_is_done_by_looking_again_not_left_unknown(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, "Town hall", stored_then_timeout_rate=0.5)
    sandbox = sandbox_of(services)
    sandbox._rng = ScriptedRandom([0.9, 0.9])  # the publish goes through and is answered
    post = publish(workspace_client, services, [channel])
    [delivery] = post["deliveries"]
    sandbox._rng = ScriptedRandom([0.9, 0.0])  # the delete lands, and its answer is lost

    workspace_client.post(f"/v1/deliveries/{delivery['id']}/delete-published")
    [(change_id, state)] = apply_due_changes(services).items()

    assert state is ChangeState.UNKNOWN
    assert sandbox_rows(services) == []
    assert read_delivery(services, uuid.UUID(delivery["id"])).state is DeliveryState.PUBLISHED, (
        "not known yet"
    )
    with services.sessions.begin() as session:  # its backoff has passed
        session.execute(update(DeliveryChange).values(due_at=utcnow() - timedelta(seconds=1)))
    sandbox._rng = ScriptedRandom([0.9, 0.9])
    assert apply_due_changes(services) == {change_id: ChangeState.DONE}
    assert read_delivery(services, uuid.UUID(delivery["id"])).state is DeliveryState.DELETED


def test_an_edit_whose_answer_a_proxy_lost_is_looked_at_and_not_sent_twice(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, mastodon: FakeMastodon
) -> None:
    channel, alice = mastodon_channel(services, workspace, mastodon)
    post = publish(workspace_client, services, [channel])
    mastodon.answer_after_storing = [502]  # the edit lands; nginx answers 502

    response = workspace_client.post(
        f"/v1/posts/{post['id']}/edit-published", json={"text": "Our meetup moves to Saturday"}
    )

    assert response.status_code == 202, response.json
    [(change_id, state)] = apply_due_changes(services).items()
    assert state is ChangeState.UNKNOWN
    with services.sessions.begin() as session:
        session.execute(update(DeliveryChange).values(due_at=utcnow() - timedelta(seconds=1)))
    assert apply_due_changes(services) == {change_id: ChangeState.DONE}

    [status] = mastodon.statuses_of(alice)
    assert status["text"] == "Our meetup moves to Saturday"
    assert len(status["history"]) == 1, "edited once: the second attempt looked and found it done"
    assert len(mastodon.requests_to("PUT", "/api/v1/statuses/")) == 1
    changed = workspace_client.get(f"/v1/posts/{post['id']}").json
    assert changed["channels"][0]["text"] == "Our meetup moves to Saturday", "the channel's text of the post"
    [delivery] = changed["deliveries"]
    assert delivery["state"] == "published"


def test_an_edit_is_checked_as_the_network_counts_it_and_refused_with_the_field(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, mastodon: FakeMastodon
) -> None:
    mastodon.max_characters = 30
    channel, alice = mastodon_channel(services, workspace, mastodon)
    post = publish(workspace_client, services, [channel], text="Short")

    response = workspace_client.post(
        f"/v1/posts/{post['id']}/edit-published", json={"text": "A text much longer than thirty characters"}
    )

    assert response.status_code == 422
    [problem] = response.json["errors"]
    assert problem["pointer"] == "/text"
    assert changes(services) == [], "nothing asked"
    assert "allows 30" in problem["detail"]
    assert changes(services) == []
    assert mastodon.statuses_of(alice)[0]["text"] == "Short"


def test_a_network_without_edits_is_skipped_and_one_with_nothing_editable_is_a_conflict(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, mastodon: FakeMastodon
) -> None:
    sandbox = make_channel(services, workspace, "Town hall")
    slack = make_slack_channel(services, workspace)
    post = publish_with_slack_published(workspace_client, services, [sandbox, slack])

    response = workspace_client.post(f"/v1/posts/{post['id']}/edit-published", json={"text": "Changed"})

    assert response.status_code == 202
    assert [change["kind"] for change in response.json["changes"]] == ["edit"]
    [skipped] = response.json["skipped"]
    assert skipped["channel_id"] == str(slack.id)
    assert "Slack does not let a published post be edited" in skipped["reason"]
    only_slack = workspace_client.post(
        f"/v1/posts/{post['id']}/delete-published", json={"channel_ids": [str(slack.id)]}
    )
    assert only_slack.status_code == 409
    assert "Slack offers no way for Crier to delete a post" in only_slack.json["detail"]


def test_a_second_change_while_one_is_under_way_is_refused(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, "Town hall")
    post = publish(workspace_client, services, [channel])
    assert (
        workspace_client.post(f"/v1/posts/{post['id']}/edit-published", json={"text": "New"}).status_code
        == 202
    )

    second = workspace_client.post(f"/v1/posts/{post['id']}/delete-published", json={})

    assert second.status_code == 409
    assert "still being applied" in second.json["detail"]
    apply_due_changes(services)
    assert workspace_client.post(f"/v1/posts/{post['id']}/delete-published", json={}).status_code == 202


def test_a_change_whose_worker_died_is_taken_again_as_uncertain_and_looked_at(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, "Town hall")
    post = publish(workspace_client, services, [channel])
    workspace_client.post(f"/v1/posts/{post['id']}/edit-published", json={"text": "Edited"})
    # A worker claims it and dies after the edit landed, before it could report.
    [row] = sandbox_rows(services)
    sandbox_of(services).store.edit(row["id"], "Edited")
    with services.sessions.begin() as session:
        session.execute(
            update(DeliveryChange).values(
                state=ChangeState.APPLYING, attempt=1, lease_expires_at=utcnow() - timedelta(seconds=1)
            )
        )

    [(_, state)] = apply_due_changes(services).items()

    assert state is ChangeState.DONE
    [row] = sandbox_rows(services)
    assert row["edits"] == 1, "looked at, found edited, not edited again"


def test_the_networks_say_what_can_be_done_after_publishing(workspace_client: FlaskClient) -> None:
    networks = {network["name"]: network for network in workspace_client.get("/v1/networks").json["items"]}
    assert {name: (n["can_delete"], n["can_edit"]) for name, n in networks.items()} == {
        "bluesky": (True, False),
        "discord": (True, True),
        "mastodon": (True, True),
        "sandbox": (True, True),
        "slack": (False, False),
        "webhook": (False, False),
        "x": (True, False),  # editing needs X's paid tier
        "linkedin": (True, True),
        "facebook": (True, True),
        "instagram": (True, False),  # no call changes a published caption
        "threads": (True, False),
        "telegram": (True, True),
        "nntp": (True, False),  # a cancel message; Usenet has no edit
    }


def publish_with_slack_published(client: FlaskClient, services: Services, channels: list[Channel]) -> dict:
    """A post published on the sandbox, and recorded as published on Slack (no Slack server here)."""
    body = {"text": "Our meetup is on Friday", "channel_ids": [str(channel.id) for channel in channels]}
    created = client.post("/v1/posts", json=body).json
    _, slack_delivery = created["deliveries"]
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == uuid.UUID(slack_delivery["id"]))
            .values(state=DeliveryState.PUBLISHED, external_id="key", external_url="", published_at=utcnow())
        )
    publish_what_is_due(services)
    return client.get(f"/v1/posts/{created['id']}").json


def test_an_edit_refused_for_a_revoked_token_waits_for_the_channel_to_be_reconnected(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, mastodon: FakeMastodon
) -> None:
    channel, _ = mastodon_channel(services, workspace, mastodon)
    post = publish(workspace_client, services, [channel])
    mastodon.revoke("alice-token")

    workspace_client.post(f"/v1/posts/{post['id']}/edit-published", json={"text": "Changed"})
    [(_, state)] = apply_due_changes(services).items()

    assert state is ChangeState.WAITING
    [change] = changes(services)
    assert "Waiting for the channel to be reconnected" in (change.last_error or "")
    assert workspace_client.get(f"/v1/channels/{channel.id}").json["state"] == "needs_reauth"
    assert apply_due_changes(services) == {}, "it waits: a channel to reconnect is not tried"


def test_a_channel_named_whose_delivery_is_not_out_is_skipped_with_why(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    out = make_channel(services, workspace, "Out")
    failing = make_channel(services, workspace, "Failing", failure_rate=1.0)
    created = workspace_client.post(
        "/v1/posts", json={"text": "Hello", "channel_ids": [str(out.id), str(failing.id)]}
    ).json
    publish_what_is_due(services)

    response = workspace_client.post(
        f"/v1/posts/{created['id']}/delete-published", json={"channel_ids": [str(out.id), str(failing.id)]}
    )

    assert response.status_code == 202
    assert len(response.json["changes"]) == 1
    [skipped] = response.json["skipped"]
    assert skipped["channel_id"] == str(failing.id)
    assert skipped["reason"] == "the delivery is retry_wait: nothing of it is on the network"
