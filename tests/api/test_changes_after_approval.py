"""Approval means what was approved goes out: a member whose posts need approval (a contributor) who
changes an approved post in any way that goes out sends it back to an approver, and nothing goes out."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.scheduler.dispatcher import Dispatcher
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryPart, DeliveryState
from shared.deliveries.services import withdraw_unclaimed
from shared.errors import Conflict
from shared.task_names import PUBLISH_DELIVERIES
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.api.conftest import ClientAs
from tests.factories import make_channel
from tests.media.samples import image

POST_TIME = utcnow() + timedelta(hours=3)


def upload(client: FlaskClient, alt_text: str) -> str:
    response = client.post(
        "/v1/media",
        data={"file": (io.BytesIO(image()), "photo.png"), "alt_text": alt_text},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def approved_post(
    author: FlaskClient, approver: FlaskClient, channel: Channel, **fields: Any
) -> dict[str, Any]:
    """A post the author wrote and the approver approved: scheduled, its deliveries waiting."""
    body = {"text": "Spring meetup!", "channel_ids": [str(channel.id)], "scheduled_at": POST_TIME.isoformat()}
    created = author.post("/v1/posts", json={**body, **fields})
    assert created.status_code == 201, created.json
    approved = approver.post(f"/v1/posts/{created.json['id']}/approve", json={"comment": "Good"})
    assert approved.json["state"] == "scheduled", approved.json
    assert [delivery["state"] for delivery in approved.json["deliveries"]] == ["scheduled"] * len(
        approved.json["channels"]
    )
    return dict(approved.json)


def nothing_goes_out_at(services: Services, task_queue: MemoryTaskQueue, when: datetime) -> None:
    """The scheduler's tick at the post's time claims nothing and sends no publish task."""
    report = Dispatcher(services, jobs=[], clock=lambda: when).tick()
    assert report.claimed == 0
    assert [task for task in task_queue.sent if task.name == PUBLISH_DELIVERIES] == []
    with services.sessions() as session:
        assert session.query(Delivery).count() == 0


@pytest.fixture
def second_channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(services, workspace, name="Second sandbox")


Change = Callable[[dict[str, Any], Channel, Channel], dict[str, Any]]
CHANGES: dict[str, Change] = {
    "its text": lambda post, channel, other: {"text": "Spring meetup! Bring cash only."},
    "a variant's text": lambda post, channel, other: {
        "channels": [{"channel_id": str(channel.id), "text": "Something else for this channel"}]
    },
    "a variant's thread": lambda post, channel, other: {
        "channels": [{"channel_id": str(channel.id), "thread": ["And a reply nobody approved"]}]
    },
    "a variant's media": lambda post, channel, other: {
        "channels": [{"channel_id": str(channel.id), "media": []}]
    },
    "its channel list": lambda post, channel, other: {"channel_ids": [str(channel.id), str(other.id)]},
    "its media order": lambda post, channel, other: {"media": list(reversed(post["media"]))},
    "its labels (which UTM tags may carry)": lambda post, channel, other: {"labels": ["unapproved"]},
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=list(CHANGES))
def test_a_contributor_changing_an_approved_post_sends_it_back_and_nothing_goes_out(
    client_as: ClientAs,
    channel: Channel,
    second_channel: Channel,
    services: Services,
    task_queue: MemoryTaskQueue,
    change: Change,
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    media = [upload(contributor, "A cake"), upload(contributor, "A crowd")]
    post = approved_post(contributor, editor, channel, media=media)

    changed = contributor.patch(f"/v1/posts/{post['id']}", json=change(post, channel, second_channel))

    assert changed.status_code == 200, changed.json
    assert changed.json["state"] == "pending_approval"
    assert changed.json["deliveries"] == []
    assert changed.json["review"] is None, "the earlier approval was of another content"
    nothing_goes_out_at(services, task_queue, POST_TIME + timedelta(seconds=1))
    after = editor.get(f"/v1/posts/{post['id']}").json
    assert after["state"] == "expired", "still unapproved when its time came"


def test_the_post_sent_back_is_announced_and_logged_as_waiting_for_approval(
    client_as: ClientAs, channel: Channel, workspace_client: FlaskClient
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    post = approved_post(contributor, editor, channel)

    contributor.patch(f"/v1/posts/{post['id']}", json={"text": "Changed after approval"})

    log = workspace_client.get("/v1/audit", query_string={"subject_id": post["id"]}).json["items"]
    assert [entry["action"] for entry in log[:2]] == ["post.approval_requested", "post.changed"]
    assert "changed after its approval" in log[0]["detail"]["reason"]


def test_once_approved_again_the_changed_post_goes_out_at_its_time(
    client_as: ClientAs, channel: Channel, services: Services, task_queue: MemoryTaskQueue
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    post = approved_post(contributor, editor, channel)
    contributor.patch(f"/v1/posts/{post['id']}", json={"text": "Changed after approval"})

    again = editor.post(f"/v1/posts/{post['id']}/approve", json={"comment": "Fine too"})

    assert again.json["state"] == "scheduled"
    report = Dispatcher(services, jobs=[], clock=lambda: POST_TIME + timedelta(seconds=1)).tick()
    assert report.claimed == 1


def test_an_editor_changing_an_approved_post_keeps_it_scheduled(
    client_as: ClientAs, channel: Channel
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    post = approved_post(contributor, editor, channel)

    changed = editor.patch(f"/v1/posts/{post['id']}", json={"text": "Fixed a typo"})

    assert changed.json["state"] == "scheduled"
    assert [delivery["state"] for delivery in changed.json["deliveries"]] == ["scheduled"]


def test_a_contributor_changing_the_alt_text_of_an_approved_posts_media_sends_it_back(
    client_as: ClientAs, channel: Channel, services: Services, task_queue: MemoryTaskQueue
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    media_id = upload(contributor, "Twelve people around a table")
    own = approved_post(contributor, editor, channel, media=[media_id])
    # An editor's own post may use the contributor's upload: the alt text goes out with it all the same.
    editors = editor.post(
        "/v1/posts",
        json={
            "text": "The editor's post",
            "channels": [{"channel_id": str(channel.id), "media": [media_id]}],
            "scheduled_at": POST_TIME.isoformat(),
        },
    ).json
    unrelated = editor.post(
        "/v1/posts",
        json={"text": "No media", "channel_ids": [str(channel.id)], "scheduled_at": POST_TIME.isoformat()},
    ).json

    described = contributor.patch(
        f"/v1/media/{media_id}", json={"alt_text": "Buy cheap watches at spam.example"}
    )

    assert described.status_code == 200, described.json
    assert editor.get(f"/v1/posts/{own['id']}").json["state"] == "pending_approval"
    assert editor.get(f"/v1/posts/{editors['id']}").json["state"] == "pending_approval"
    assert editor.get(f"/v1/posts/{unrelated['id']}").json["state"] == "scheduled"
    report = Dispatcher(services, jobs=[], clock=lambda: POST_TIME + timedelta(seconds=1)).tick()
    assert report.claimed == 1, "only the post without that media goes out"


def test_an_editor_changing_alt_text_leaves_the_posts_scheduled(
    client_as: ClientAs, channel: Channel
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    media_id = upload(contributor, "A cake")
    post = approved_post(contributor, editor, channel, media=[media_id])

    described = editor.patch(f"/v1/media/{media_id}", json={"alt_text": "A chocolate cake"})

    assert described.status_code == 200
    assert editor.get(f"/v1/posts/{post['id']}").json["state"] == "scheduled"


def test_the_same_alt_text_again_changes_nothing(client_as: ClientAs, channel: Channel) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    media_id = upload(contributor, "A cake")
    post = approved_post(contributor, editor, channel, media=[media_id])

    contributor.patch(f"/v1/media/{media_id}", json={"alt_text": "A cake"})

    assert editor.get(f"/v1/posts/{post['id']}").json["state"] == "scheduled"


def test_alt_text_of_media_a_post_is_sending_now_is_refused_and_kept(
    client_as: ClientAs, channel: Channel, services: Services
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    media_id = upload(contributor, "A cake")
    post = approved_post(contributor, editor, channel, media=[media_id])
    # The scheduler has claimed it: it may be on its way to the network right now.
    Dispatcher(services, jobs=[], clock=lambda: POST_TIME).tick()

    refused = contributor.patch(f"/v1/media/{media_id}", json={"alt_text": "Changed in flight"})

    assert refused.status_code == 409
    assert "ask an editor" in refused.json["detail"]
    assert contributor.get(f"/v1/media/{media_id}").json["alt_text"] == "A cake"
    assert editor.get(f"/v1/posts/{post['id']}").json["deliveries"][0]["state"] == "enqueued"


def test_a_contributor_cannot_edit_a_published_post_on_its_networks(
    client_as: ClientAs, channel: Channel
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    post = approved_post(contributor, editor, channel)

    refused = contributor.post(f"/v1/posts/{post['id']}/edit-published", json={"text": "Unapproved"})

    assert refused.status_code == 403
    assert "'publish'" in refused.json["detail"]


def test_approving_a_post_changed_since_the_approver_read_it_is_412(
    client_as: ClientAs, channel: Channel
) -> None:
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    created = contributor.post(
        "/v1/posts",
        json={"text": "Harmless", "channel_ids": [str(channel.id)], "scheduled_at": POST_TIME.isoformat()},
    )
    read = editor.get(f"/v1/posts/{created.json['id']}")
    contributor.patch(f"/v1/posts/{created.json['id']}", json={"text": "Not what the approver read"})

    stale = editor.post(
        f"/v1/posts/{created.json['id']}/approve", json={}, headers={"If-Match": read.headers["ETag"]}
    )

    assert stale.status_code == 412
    assert editor.get(f"/v1/posts/{created.json['id']}").json["state"] == "pending_approval"


def test_a_delivery_with_a_part_on_its_network_is_never_withdrawn(
    client_as: ClientAs, channel: Channel, services: Services
) -> None:
    # A thread a rate limit stopped midway waits as `scheduled` with its first part out there.
    contributor, editor = client_as(Role.CONTRIBUTOR), client_as(Role.EDITOR)
    post = approved_post(contributor, editor, channel, thread=["Part two"])
    delivery_id = uuid.UUID(post["deliveries"][0]["id"])
    with services.sessions.begin() as session:
        session.add(DeliveryPart(delivery_id=delivery_id, position=0, external_id="1", url="https://x/1"))

    with services.sessions() as session:
        delivery = session.get_one(Delivery, delivery_id)
        with pytest.raises(Conflict):
            withdraw_unclaimed(session, [delivery])
        session.rollback()
    # Not even an editor's change: the new delivery would begin the thread again, a duplicate.
    refused = editor.patch(f"/v1/posts/{post['id']}", json={"text": "Changed midway"})

    assert refused.status_code == 409
    with services.sessions() as session:
        assert session.get_one(Delivery, delivery_id).state is DeliveryState.SCHEDULED
