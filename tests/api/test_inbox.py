"""GET/PATCH /v1/inbox…: items read from the sandbox listed by cursor, worked, answered, liked; streams."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from services.api.app import create_app
from shared.bootstrap import Services
from shared.broker import CeleryTaskQueue
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.inbox.answering import perform_due_actions
from shared.inbox.models import InboxSource
from shared.inbox.reading import read_due_sources
from shared.networks.ports import InboxKind
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.notifications.models import EventType, WebhookMessage
from shared.posts.models import Post
from shared.task_names import PERFORM_INBOX_ACTIONS, READ_INBOX_SOURCE, READ_INBOXES
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.api.conftest import ClientAs
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, read_delivery
from tests.inbox.conftest import Audience

ITEM_FIELDS = {
    "id", "channel_id", "network", "kind", "external_id", "url", "author", "text", "plain_text", "created_at",
    "received_at", "in_reply_to", "quotes", "thread_root", "post_id", "delivery_id", "state", "unread",
    "assignee_id", "labels", "version",
}  # fmt: skip


@pytest.fixture
def sandbox(services: Services) -> SandboxNetwork:
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    return network


@pytest.fixture
def audience(sandbox: SandboxNetwork, channel: Channel) -> Audience:
    return Audience(sandbox.store, channel.handle)


@pytest.fixture
def published(services: Services, workspace: Workspace, channel: Channel) -> Delivery:
    """A post of the channel's, out on the sandbox."""
    post = make_post(services, workspace, [channel], text="Our spring book fair opens on Saturday.")
    publish_what_is_due(services)
    delivery = read_delivery(services, post.deliveries[0].id)
    assert delivery.external_id is not None
    return delivery


def read_inboxes(services: Services) -> int:
    """Every inbox and stream read now, as the worker's periodic read would once they are due."""
    with services.sessions.begin() as session:
        session.execute(update(InboxSource).values(next_read_at=utcnow()))
    return read_due_sources(services)


def answer(audience: Audience, delivery: Delivery, text: str = "Love this!", author: str = "ada") -> str:
    assert delivery.external_id is not None
    return audience.reply(delivery.external_id, text, author=author)


def inbox(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/inbox", query_string=query)
    assert response.status_code == 200, response.json
    return list(response.json["items"])


def only_item(client: FlaskClient) -> dict[str, Any]:
    (item,) = inbox(client)
    return item


def member_id(client: FlaskClient) -> str:
    return str(client.get("/v1/members/me").json["id"])


def test_a_reply_is_listed_with_its_author_and_the_post_it_answers(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    external_id = answer(audience, published, "When does it close?")
    read_inboxes(services)

    item = only_item(workspace_client)

    assert set(item) == ITEM_FIELDS
    assert item["kind"] == "reply"
    assert item["network"] == "sandbox"
    assert item["external_id"] == external_id
    assert item["author"] == {
        "handle": "ada", "display_name": None, "avatar_url": None, "url": "https://sandbox.invalid/@ada"
    }  # fmt: skip
    assert item["text"] == item["plain_text"] == "When does it close?"
    assert item["in_reply_to"] == published.external_id
    assert item["post_id"] == str(published.post_id)
    assert item["delivery_id"] == str(published.id)
    assert item["state"] == "open"
    assert item["unread"] is True
    assert item["assignee_id"] is None
    assert item["labels"] == []
    assert item["version"] == 1
    assert item["created_at"].endswith("+00:00")


def test_each_filter_keeps_only_the_items_matching_it(
    workspace_client: FlaskClient,
    services: Services,
    workspace: Workspace,
    channel: Channel,
    published: Delivery,
    audience: Audience,
) -> None:
    reply_id = answer(audience, published, "When does the FAIR close?", author="ada")
    mention_id = audience.mention("Book lovers, look at", author="grace")
    other = make_channel(services, workspace, "Harbour Books")
    other_id = Audience(audience.store, other.handle).mention("Ask", author="linus")
    read_inboxes(services)
    by_id = {item["external_id"]: item for item in inbox(workspace_client)}
    me = member_id(workspace_client)
    workspace_client.patch(
        f"/v1/inbox/{by_id[reply_id]['id']}", json={"labels": ["question"], "assignee_id": me}
    )
    workspace_client.patch(f"/v1/inbox/{by_id[other_id]['id']}", json={"state": "done", "unread": False})

    def listed(**query: Any) -> set[str]:
        return {item["external_id"] for item in inbox(workspace_client, **query)}

    assert listed() == {reply_id, mention_id, other_id}
    assert listed(kind="mention") == {mention_id, other_id}
    assert listed(channel_id=str(other.id)) == {other_id}
    assert listed(network="sandbox") == {reply_id, mention_id, other_id}
    assert listed(network="mastodon") == set()
    assert listed(post_id=str(published.post_id)) == {reply_id}
    assert listed(state="done") == {other_id}
    assert listed(unread="true") == {reply_id, mention_id}
    assert listed(label="question") == {reply_id}
    assert listed(assignee_id=me) == {reply_id}
    assert listed(assignee_id="none") == {mention_id, other_id}
    assert listed(q="fair") == {reply_id}
    assert listed(q="GRACE") == {mention_id}


def test_paging_on_while_items_arrive_neither_repeats_nor_loses_one(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    first = {answer(audience, published, f"early {n}") for n in range(12)}
    read_inboxes(services)

    seen: list[str] = []
    cursor = None
    later: set[str] = set()
    for page_number in range(10):
        query = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        response = workspace_client.get("/v1/inbox", query_string=query)
        assert response.status_code == 200
        seen += [item["external_id"] for item in response.json["items"]]
        if page_number < 2:  # more people answer, and are read, between pages
            later |= {answer(audience, published, f"later {page_number} {n}") for n in range(4)}
            read_inboxes(services)
        cursor = response.json["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen))
    assert set(seen) == first
    top = {item["external_id"] for item in inbox(workspace_client, limit=len(later))}
    assert top == later


def test_a_cursor_this_api_did_not_give_is_refused_on_its_parameter(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/inbox", query_string={"cursor": "not-a-cursor"})

    assert response.status_code == 422
    assert response.json["errors"][0]["parameter"] == "cursor"


def test_unread_counts_are_per_channel_of_open_unread_items(
    workspace_client: FlaskClient,
    services: Services,
    channel: Channel,
    published: Delivery,
    audience: Audience,
) -> None:
    for n in range(3):
        answer(audience, published, f"reply {n}")
    read_inboxes(services)
    read, done, _ = inbox(workspace_client)
    workspace_client.patch(f"/v1/inbox/{read['id']}", json={"unread": False})
    workspace_client.patch(f"/v1/inbox/{done['id']}", json={"state": "done"})

    response = workspace_client.get("/v1/inbox/unread")

    assert response.status_code == 200
    assert response.json == {"total": 1, "channels": [{"channel_id": str(channel.id), "unread": 1}]}


def test_a_change_sent_with_a_stale_etag_is_refused_and_changes_nothing(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]
    etag = workspace_client.get(f"/v1/inbox/{item_id}").headers["ETag"]
    assert etag == '"1"'

    changed = workspace_client.patch(
        f"/v1/inbox/{item_id}", json={"labels": ["question"]}, headers={"If-Match": etag}
    )
    stale = workspace_client.patch(f"/v1/inbox/{item_id}", json={"state": "spam"}, headers={"If-Match": etag})
    without = workspace_client.patch(f"/v1/inbox/{item_id}", json={"state": "done"})

    assert changed.status_code == 200
    assert changed.headers["ETag"] == '"2"'
    assert changed.json["labels"] == ["question"]
    assert stale.status_code == 412
    assert stale.content_type == "application/problem+json"
    assert without.status_code == 200
    assert without.json["state"] == "done"
    assert without.json["labels"] == ["question"]
    assert without.headers["ETag"] == '"3"'


def test_an_item_is_assigned_announced_and_unassigned_with_null(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]
    me = member_id(workspace_client)
    hook = {"url": "https://hooks.example.org/crier", "events": ["inbox.item_assigned"]}
    assert workspace_client.post("/v1/webhooks", json=hook).status_code == 201

    assigned = workspace_client.patch(f"/v1/inbox/{item_id}", json={"assignee_id": me})
    unassigned = workspace_client.patch(f"/v1/inbox/{item_id}", json={"assignee_id": None})

    assert assigned.json["assignee_id"] == me
    assert unassigned.json["assignee_id"] is None
    with services.sessions() as session:
        (message,) = session.scalars(select(WebhookMessage)).all()
    assert message.event_type == EventType.INBOX_ITEM_ASSIGNED
    assert message.payload["item_id"] == item_id
    assert message.payload["assignee_id"] == me


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"assignee_id": str(uuid.uuid4())}, "/assignee_id"),
        ({"assignee_id": "someone"}, "/assignee_id"),
        ({"labels": ["fine", "  "]}, "/labels/1"),
        ({"labels": ["x" * 101]}, "/labels/0"),
        ({"state": "closed"}, "/state"),
        ({"unread": "maybe"}, "/unread"),
    ],
)
def test_a_bad_change_is_a_problem_naming_its_field(
    workspace_client: FlaskClient,
    services: Services,
    published: Delivery,
    audience: Audience,
    body: dict[str, Any],
    pointer: str,
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item = only_item(workspace_client)

    response = workspace_client.patch(f"/v1/inbox/{item['id']}", json=body)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert [error["pointer"] for error in response.json["errors"]] == [pointer]
    assert only_item(workspace_client)["version"] == item["version"]


def test_a_bad_filter_is_a_problem_naming_its_parameter(workspace_client: FlaskClient) -> None:
    for query, parameter in [({"assignee_id": "nobody"}, "assignee_id"), ({"kind": "like"}, "kind")]:
        response = workspace_client.get("/v1/inbox", query_string=query)

        assert response.status_code == 422
        assert [error["parameter"] for error in response.json["errors"]] == [parameter]


def test_notes_are_kept_on_the_item_for_the_team(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]

    created = workspace_client.post(f"/v1/inbox/{item_id}/notes", json={"text": "Sam knows the hours"})
    empty = workspace_client.post(f"/v1/inbox/{item_id}/notes", json={"text": ""})

    assert created.status_code == 201
    assert created.json["text"] == "Sam knows the hours"
    assert created.json["author_id"] == member_id(workspace_client)
    assert empty.status_code == 422
    assert empty.json["errors"][0]["pointer"] == "/text"
    notes = workspace_client.get(f"/v1/inbox/{item_id}").json["notes"]
    assert [note["id"] for note in notes] == [created.json["id"]]


def test_a_reply_is_a_post_published_on_the_sandbox_as_a_reply_exactly_once(
    workspace_client: FlaskClient,
    services: Services,
    channel: Channel,
    sandbox: SandboxNetwork,
    published: Delivery,
    audience: Audience,
) -> None:
    external_id = answer(audience, published, "When does it close?")
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]

    response = workspace_client.post(f"/v1/inbox/{item_id}/replies", json={"text": "At six, every day."})
    publish_what_is_due(services)
    publish_what_is_due(services)

    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/posts/{response.json['id']}"
    assert response.json["state"] == "scheduled"
    assert [delivery["channel_id"] for delivery in response.json["deliveries"]] == [str(channel.id)]
    answers = [row for row in sandbox.store.replies_to([external_id]) if row["handle"] == channel.handle]
    assert [(row["text"], row["in_reply_to_id"]) for row in answers] == [("At six, every day.", external_id)]
    detail = workspace_client.get(f"/v1/inbox/{item_id}").json
    assert detail["state"] == "done"
    assert detail["unread"] is False
    (made,) = detail["replies"]
    assert made["id"] == response.json["id"]
    assert made["state"] == "published"
    assert made["deliveries"][0]["state"] == "published"
    assert made["deliveries"][0]["url"] == f"https://sandbox.invalid/@{channel.handle}/{answers[0]['id']}"
    assert read_inboxes(services) == 0  # the account's own reply is not an item


def test_a_reply_sent_again_with_its_idempotency_key_is_the_first(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]
    headers = {"Idempotency-Key": "reply-1"}

    first = workspace_client.post(f"/v1/inbox/{item_id}/replies", json={"text": "Thanks!"}, headers=headers)
    again = workspace_client.post(f"/v1/inbox/{item_id}/replies", json={"text": "Thanks!"}, headers=headers)
    other = workspace_client.post(f"/v1/inbox/{item_id}/replies", json={"text": "Other"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other.status_code == 422
    assert len(workspace_client.get(f"/v1/inbox/{item_id}").json["replies"]) == 1


def test_a_contributors_reply_waits_for_approval(
    client_as: ClientAs, services: Services, sandbox: SandboxNetwork, published: Delivery, audience: Audience
) -> None:
    external_id = answer(audience, published)
    read_inboxes(services)
    contributor = client_as(Role.CONTRIBUTOR)
    item_id = only_item(contributor)["id"]

    response = contributor.post(f"/v1/inbox/{item_id}/replies", json={"text": "Thank you!"})
    publish_what_is_due(services)

    assert response.status_code == 201
    assert response.json["state"] == "pending_approval"
    assert sandbox.store.replies_to([external_id]) == []


def test_a_reply_where_crier_cannot_reply_is_a_conflict(
    workspace_client: FlaskClient,
    services: Services,
    sandbox: SandboxNetwork,
    published: Delivery,
    audience: Audience,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]
    silent = dataclasses.replace(sandbox.info.inbox, can_reply=False)
    monkeypatch.setattr(sandbox, "info", dataclasses.replace(sandbox.info, inbox=silent))

    response = workspace_client.post(f"/v1/inbox/{item_id}/replies", json={"text": "Hello"})

    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 1  # the published one alone


def test_a_like_asked_twice_is_one_action_performed_once_on_the_sandbox(
    workspace_client: FlaskClient,
    services: Services,
    task_queue: MemoryTaskQueue,
    channel: Channel,
    sandbox: SandboxNetwork,
    published: Delivery,
    audience: Audience,
) -> None:
    external_id = answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]

    first = workspace_client.post(f"/v1/inbox/{item_id}/like")
    again = workspace_client.post(f"/v1/inbox/{item_id}/like")

    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    assert first.json["kind"] == "like"
    assert first.json["state"] == "pending"
    assert PERFORM_INBOX_ACTIONS in [task.name for task in task_queue.sent]
    assert perform_due_actions(services) == 1
    assert perform_due_actions(services) == 0
    assert sandbox.store.likes_of(external_id) == [channel.handle]
    (action,) = workspace_client.get(f"/v1/inbox/{item_id}").json["actions"]
    assert (action["id"], action["state"], action["last_error"]) == (first.json["id"], "done", None)


def test_hiding_where_the_network_cannot_hide_is_a_conflict(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]

    response = workspace_client.post(f"/v1/inbox/{item_id}/hide")

    assert response.status_code == 409
    assert workspace_client.get(f"/v1/inbox/{item_id}").json["actions"] == []


def test_the_thread_is_shown_as_stored_and_as_the_network_has_it(
    workspace_client: FlaskClient,
    services: Services,
    channel: Channel,
    sandbox: SandboxNetwork,
    published: Delivery,
    audience: Audience,
) -> None:
    first = answer(audience, published, "First!", author="ada")
    second = answer(audience, published, "Second", author="grace")
    read_inboxes(services)
    item_id = next(item["id"] for item in inbox(workspace_client) if item["external_id"] == first)

    detail = workspace_client.get(f"/v1/inbox/{item_id}").json
    stored = workspace_client.get(f"/v1/inbox/{item_id}/thread").json
    live = workspace_client.get(f"/v1/inbox/{item_id}/thread", query_string={"live": "true"}).json

    assert [entry["external_id"] for entry in detail["thread"]] == [first, second]
    assert stored["live"] is False
    assert [entry["external_id"] for entry in stored["entries"]] == [first, second]
    assert live["live"] is True
    assert [entry["external_id"] for entry in live["entries"]] == [published.external_id, first, second]
    assert live["entries"][0]["author"]["handle"] == channel.handle
    assert live["entries"][0]["item_id"] is None  # the account's own post is no inbox item
    assert live["entries"][1]["item_id"] == item_id


def test_a_network_failing_to_give_the_thread_is_a_503_problem(
    workspace_client: FlaskClient,
    services: Services,
    sandbox: SandboxNetwork,
    published: Delivery,
    audience: Audience,
) -> None:
    external_id = answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]
    assert sandbox.store.delete(external_id)

    response = workspace_client.get(f"/v1/inbox/{item_id}/thread", query_string={"live": "true"})

    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.json["detail"].startswith("Sandbox could not be reached to read the thread")


def test_a_refresh_asks_a_worker_to_read_the_source_named_or_every_one_due(
    workspace_client: FlaskClient, services: Services, task_queue: MemoryTaskQueue, channel: Channel
) -> None:
    before_any_read = workspace_client.post("/v1/inbox/refresh", json={"channel_id": str(channel.id)})
    read_inboxes(services)
    with services.sessions() as session:
        inbox_id = session.scalars(select(InboxSource.id)).one()
    task_queue.sent.clear()

    everything = workspace_client.post("/v1/inbox/refresh", json={})
    one = workspace_client.post("/v1/inbox/refresh", json={"channel_id": str(channel.id)})
    unknown = workspace_client.post("/v1/inbox/refresh", json={"channel_id": str(uuid.uuid4())})

    assert before_any_read.status_code == 202
    assert before_any_read.json == {"source_id": None, "queued": True}
    assert everything.status_code == one.status_code == 202
    assert one.json["source_id"] == str(inbox_id)
    assert [(task.name, task.kwargs) for task in task_queue.sent] == [
        (READ_INBOXES, {}),
        (READ_INBOX_SOURCE, {"source_id": str(inbox_id)}),
    ]
    assert unknown.status_code == 422
    assert unknown.json["errors"][0]["pointer"] == "/channel_id"


def test_a_stream_is_saved_read_listed_apart_and_deleted(
    workspace_client: FlaskClient,
    services: Services,
    task_queue: MemoryTaskQueue,
    channel: Channel,
    sandbox: SandboxNetwork,
    published: Delivery,
    audience: Audience,
) -> None:
    created = workspace_client.post(
        "/v1/streams", json={"channel_id": str(channel.id), "name": "Fair", "query": "#bookfair"}
    )
    stream_id = created.json["id"]
    found = sandbox.store.add("zoe", "Off to the #bookfair", f"someone-else:{uuid.uuid4()}")["id"]
    sandbox.store.add("yann", "Nothing to see", f"someone-else:{uuid.uuid4()}")
    answer(audience, published)
    read_inboxes(services)

    assert created.status_code == 201
    assert created.headers["Location"] == f"/v1/streams/{stream_id}"
    assert (created.json["name"], created.json["query"]) == ("Fair", "#bookfair")
    assert (READ_INBOX_SOURCE, {"source_id": stream_id}) in [(t.name, t.kwargs) for t in task_queue.sent]
    streamed = inbox(workspace_client, stream_id=stream_id)
    assert [(item["external_id"], item["kind"]) for item in streamed] == [(found, InboxKind.POST.value)]
    assert found not in {item["external_id"] for item in inbox(workspace_client)}
    assert workspace_client.get("/v1/inbox/unread").json["total"] == 1  # the reply; the stream is not counted
    assert [stream["id"] for stream in workspace_client.get("/v1/streams").json["items"]] == [stream_id]
    assert workspace_client.get(f"/v1/streams/{stream_id}").json["last_read_at"] is not None
    refreshed = workspace_client.post("/v1/inbox/refresh", json={"stream_id": stream_id})
    assert refreshed.status_code == 202
    assert (task_queue.sent[-1].name, task_queue.sent[-1].kwargs) == (
        READ_INBOX_SOURCE,
        {"source_id": stream_id},
    )

    deleted = workspace_client.delete(f"/v1/streams/{stream_id}")

    assert deleted.status_code == 204
    assert workspace_client.get(f"/v1/streams/{stream_id}").status_code == 404
    assert workspace_client.get("/v1/inbox", query_string={"stream_id": stream_id}).status_code == 404
    assert workspace_client.post("/v1/inbox/refresh", json={"stream_id": stream_id}).status_code == 404
    assert workspace_client.get("/v1/streams").json["items"] == []


def test_a_stream_the_network_cannot_search_is_refused_on_its_field(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    empty = workspace_client.post(
        "/v1/streams", json={"channel_id": str(channel.id), "name": "Fair", "query": "   "}
    )
    elsewhere = workspace_client.post(
        "/v1/streams", json={"channel_id": str(uuid.uuid4()), "name": "Fair", "query": "fair"}
    )

    assert empty.status_code == 422
    assert [error["pointer"] for error in empty.json["errors"]] == ["/query"]
    assert elsewhere.status_code == 422
    assert [error["pointer"] for error in elsewhere.json["errors"]] == ["/channel_id"]


def test_the_networks_say_what_their_inbox_can_do(
    workspace_client: FlaskClient, sandbox: SandboxNetwork
) -> None:
    listed = {network["name"]: network for network in workspace_client.get("/v1/networks").json["items"]}

    assert listed["sandbox"]["inbox"] == {
        "kinds": ["reply", "mention"],
        "can_search": True,
        "can_reply": True,
        "can_like": True,
        "can_hide": False,
    }
    assert all(set(network["inbox"]) == set(listed["sandbox"]["inbox"]) for network in listed.values())


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        (Role.VIEWER, "patch", "", {"state": "done"}),
        (Role.VIEWER, "post", "/notes", {"text": "Mine"}),
        (Role.VIEWER, "post", "/replies", {"text": "Mine"}),
        (Role.VIEWER, "post", "/like", None),
        (Role.CONTRIBUTOR, "post", "/like", None),
        (Role.CONTRIBUTOR, "post", "/hide", None),
    ],
)
def test_a_member_whose_role_does_not_allow_it_gets_403_and_changes_nothing(
    client_as: ClientAs,
    services: Services,
    published: Delivery,
    audience: Audience,
    role: Role,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    answer(audience, published)
    read_inboxes(services)
    member = client_as(role)
    item = only_item(member)

    response = member.open(f"/v1/inbox/{item['id']}{path}", method=method.upper(), json=body)

    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    after = member.get(f"/v1/inbox/{item['id']}").json
    assert (after["version"], after["notes"], after["replies"], after["actions"]) == (
        item["version"],
        [],
        [],
        [],
    )


@pytest.mark.parametrize("if_match", ['""', '"1", "2"', "W/", '"abc"'])
def test_an_if_match_that_names_no_version_this_api_gave_is_a_422(
    workspace_client: FlaskClient, services: Services, published: Delivery, audience: Audience, if_match: str
) -> None:
    answer(audience, published)
    read_inboxes(services)
    item_id = only_item(workspace_client)["id"]

    response = workspace_client.patch(
        f"/v1/inbox/{item_id}", json={"state": "done"}, headers={"If-Match": if_match}
    )

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert only_item(workspace_client)["state"] == "open"


def test_a_refresh_while_the_broker_does_not_answer_is_a_503_problem_not_a_crash(
    services: Services, workspace_and_token: tuple[Workspace, str]
) -> None:
    # A real Celery sender, pointed at a port where nothing listens.
    down = services.settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    app = create_app(services=dataclasses.replace(services, tasks=CeleryTaskQueue(down)))
    client = app.test_client()

    response = client.post(
        "/v1/inbox/refresh", json={}, headers={"Authorization": f"Bearer {workspace_and_token[1]}"}
    )

    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.json["detail"].startswith("The task queue could not be reached")
