"""Every endpoint, every role: another workspace's ids answer 404, and a forbidden action answers 403.

The table below lists every /v1 operation of the OpenAPI document (a test checks it does), who may call it,
and a request that would succeed for them. A role the table does not allow must get 403 and change
nothing; an allowed one must not get 403. Acting on another workspace's resource must look exactly like
acting on one that does not exist.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from werkzeug.test import TestResponse

from shared.bootstrap import Services
from shared.db import utcnow
from shared.inbox.models import InboxItem
from shared.inbox.reading import read_due_sources
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_add_member, get_or_create_workspace
from shared.workspaces.signin import sign_in
from tests.factories import make_channel, make_member_token

EVERYONE = frozenset(Role)
ADMINS = frozenset({Role.OWNER, Role.ADMIN})
EDITORS = ADMINS | {Role.EDITOR}
WRITERS = EDITORS | {Role.CONTRIBUTOR}
DRAFT = (("post_id", "draft_id"),)
PENDING = (("post_id", "pending_id"),)


@dataclass
class World:
    """One workspace's resources, made through the API by its owner, with each id a case may need."""

    ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the OpenAPI path, with {placeholders} filled from World.ids
    allowed: frozenset[Role]
    body: Callable[[World], Any] | None = None
    read_scope_allowed: bool = False
    # Which of the world's resources fills a placeholder, when not the one of its name (a draft's post_id).
    use: tuple[tuple[str, str], ...] = ()
    upload: bool = False  # a multipart upload of a small image, rather than a JSON body

    def send(self, client: FlaskClient, world: World, body_world: World | None = None) -> TestResponse:
        if self.upload:
            image = (io.BytesIO(png()), "tiny.png")
            return client.open(self.url(world), method=self.method.upper(), data={"file": image})
        body = self.body(body_world or world) if self.body else None
        return client.open(self.url(world), method=self.method.upper(), json=body)

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def url(self, world: World) -> str:
        return self.path.format_map({**world.ids, **{name: world.ids[key] for name, key in self.use}})


def later() -> str:
    return (utcnow() + timedelta(days=2)).isoformat()


def new_post(world: World) -> dict[str, Any]:
    return {"text": "From the matrix", "channel_ids": [world.ids["channel_id"]], "scheduled_at": later()}


def reader(method: str, path: str) -> Case:
    return Case(method, path, EVERYONE, read_scope_allowed=True)


CASES = [
    reader("get", "/v1/members"),
    Case(
        "post", "/v1/members", ADMINS, lambda w: {"name": "New", "email": "new@example.org", "role": "viewer"}
    ),
    reader("get", "/v1/members/me"),
    # Every member chooses their own time zone, and only theirs, whatever their token's scope.
    Case(
        "patch", "/v1/members/me", EVERYONE, lambda w: {"timezone": "Europe/Paris"}, read_scope_allowed=True
    ),
    reader("get", "/v1/members/{member_id}"),
    Case("patch", "/v1/members/{member_id}", ADMINS, lambda w: {"role": "editor"}),
    Case("delete", "/v1/members/{member_id}", ADMINS),
    reader("get", "/v1/tokens"),
    # Every member makes and revokes their own tokens; a token cannot make one that could do more.
    Case(
        "post", "/v1/tokens", EVERYONE, lambda w: {"name": "laptop", "scope": "read"}, read_scope_allowed=True
    ),
    Case("delete", "/v1/tokens/{token_id}", EVERYONE, read_scope_allowed=True),
    # Every member sees and ends their own dashboard sessions, and only theirs.
    reader("get", "/v1/sessions"),
    Case("delete", "/v1/sessions/{session_id}", EVERYONE, read_scope_allowed=True),
    reader("get", "/v1/channels"),
    Case(
        "post",
        "/v1/channels",
        ADMINS,
        lambda w: {"network": "sandbox", "name": "Another", "handle": "another"},
    ),
    reader("get", "/v1/channels/{channel_id}"),
    Case("patch", "/v1/channels/{channel_id}", ADMINS, lambda w: {"timezone": "Europe/Paris"}),
    Case("delete", "/v1/channels/{channel_id}", ADMINS),
    Case("put", "/v1/channels/{channel_id}/credentials", ADMINS, lambda w: {"credentials": {}}),
    Case("post", "/v1/channels/{channel_id}/verify", ADMINS),
    Case(
        "post",
        "/v1/channels/authorizations",
        ADMINS,
        lambda w: {"network": "sandbox", "name": "Via OAuth", "settings": {}},
    ),
    Case(
        "post",
        "/v1/channels/authorizations/complete",
        ADMINS,
        lambda w: {"state": "s" * 43, "code": "code"},
    ),
    reader("get", "/v1/channels/{channel_id}/link-settings"),
    Case("put", "/v1/channels/{channel_id}/link-settings", ADMINS, lambda w: {"shorten": True}),
    Case("delete", "/v1/channels/{channel_id}/link-settings", ADMINS),
    reader("get", "/v1/link-settings"),
    Case("put", "/v1/link-settings", ADMINS, lambda w: {"shorten": True}),
    reader("get", "/v1/posts"),
    Case("post", "/v1/posts", WRITERS, new_post),
    reader("get", "/v1/posts/{post_id}"),
    # The scheduled post is the owner's: a contributor may change only their own posts (and sends them back
    # for approval: tests/api/test_changes_after_approval.py).
    Case("patch", "/v1/posts/{post_id}", EDITORS, lambda w: {"text": "Edited"}),
    Case("delete", "/v1/posts/{post_id}", EDITORS, use=DRAFT),
    Case("post", "/v1/posts/{post_id}/submit", EDITORS, use=DRAFT),
    Case("post", "/v1/posts/{post_id}/approve", EDITORS, lambda w: {"comment": "Fine"}, use=PENDING),
    Case("post", "/v1/posts/{post_id}/reject", EDITORS, lambda w: {"comment": "Not yet"}, use=PENDING),
    Case("post", "/v1/posts/{post_id}/cancel", EDITORS),
    Case("post", "/v1/posts/{post_id}/publish-now", EDITORS),
    Case("post", "/v1/posts/{post_id}/duplicate", WRITERS),
    Case("post", "/v1/posts/{post_id}/delete-published", EDITORS, lambda w: {}),
    Case("post", "/v1/posts/{post_id}/edit-published", EDITORS, lambda w: {"text": "Edited"}),
    reader("get", "/v1/posts/{post_id}/metrics"),
    reader("post", "/v1/posts/{post_id}/metrics/refresh"),
    reader("get", "/v1/deliveries"),
    reader("get", "/v1/deliveries/{delivery_id}"),
    Case("post", "/v1/deliveries/{delivery_id}/retry", EDITORS),
    Case("post", "/v1/deliveries/{delivery_id}/cancel", EDITORS),
    Case("post", "/v1/deliveries/{delivery_id}/resolve", EDITORS, lambda w: {"outcome": "republish"}),
    Case("post", "/v1/deliveries/{delivery_id}/delete-published", EDITORS),
    reader("get", "/v1/deliveries/{delivery_id}/links"),
    reader("get", "/v1/networks"),
    Case(
        "post",
        "/v1/preview",
        EVERYONE,
        lambda w: {"text": "Preview me", "channel_ids": [w.ids["channel_id"]]},
        read_scope_allowed=True,
    ),
    Case(
        "get",
        "/v1/calendar?from=2030-01-01T00:00:00Z&to=2030-01-08T00:00:00Z",
        EVERYONE,
        read_scope_allowed=True,
    ),
    Case("get", "/v1/audit", ADMINS),
    reader("get", "/v1/webhooks"),
    Case(
        "post",
        "/v1/webhooks",
        ADMINS,
        lambda w: {"url": "https://hooks.example.org/crier", "events": ["*"]},
    ),
    reader("get", "/v1/webhooks/{webhook_id}"),
    Case("patch", "/v1/webhooks/{webhook_id}", ADMINS, lambda w: {"description": "Changed"}),
    Case("delete", "/v1/webhooks/{webhook_id}", ADMINS),
    Case("post", "/v1/webhooks/{webhook_id}/rotate-secret", ADMINS),
    Case("post", "/v1/webhooks/{webhook_id}/ping", ADMINS),
    reader("get", "/v1/webhooks/{webhook_id}/messages"),
    reader("get", "/v1/media"),
    Case("post", "/v1/media", WRITERS, upload=True),
    reader("get", "/v1/media/{media_id}"),
    # The upload is the owner's: a member who may not publish changes only their own.
    Case("patch", "/v1/media/{media_id}", EDITORS, lambda w: {"alt_text": "Changed"}),
    Case("delete", "/v1/media/{media_id}", EDITORS),
    reader("get", "/v1/media/{media_id}/content"),
    Case(
        "post",
        "/v1/imports",
        WRITERS,
        lambda w: [{"text": "Imported", "channels": [w.ids["channel_id"]], "time": "now"}],
    ),
    reader("get", "/v1/imports/{import_id}"),
    reader("get", "/v1/exports/posts.csv"),
    reader("get", "/v1/exports/calendar.ics?from=2030-01-01T00:00:00Z&to=2030-01-08T00:00:00Z"),
    reader("get", "/v1/analytics/series"),
    reader("get", "/v1/analytics/summary"),
    reader("get", "/v1/analytics/posts"),
    reader("get", "/v1/analytics/channels/{channel_id}/series"),
    reader("get", "/v1/analytics/channels/{channel_id}/best-times"),
    reader("get", "/v1/analytics/channels/{channel_id}/snapshots"),
    reader("get", "/v1/analytics/posts/{post_id}/series"),
    reader("get", "/v1/analytics/responses"),
    reader("get", "/v1/inbox"),
    reader("get", "/v1/inbox/unread"),
    # Like a metrics refresh: asking for a read now changes nothing a reader could not see.
    Case("post", "/v1/inbox/refresh", EVERYONE, lambda w: {}, read_scope_allowed=True),
    reader("get", "/v1/inbox/{item_id}"),
    Case("patch", "/v1/inbox/{item_id}", WRITERS, lambda w: {"state": "done"}),
    reader("get", "/v1/inbox/{item_id}/thread"),
    Case("post", "/v1/inbox/{item_id}/notes", WRITERS, lambda w: {"text": "Ask Sam"}),
    # A contributor's reply waits for approval, as their posts do.
    Case("post", "/v1/inbox/{item_id}/replies", WRITERS, lambda w: {"text": "Thanks!"}),
    Case("post", "/v1/inbox/{item_id}/like", EDITORS),
    Case("post", "/v1/inbox/{item_id}/hide", EDITORS),
    reader("get", "/v1/streams"),
    Case(
        "post",
        "/v1/streams",
        WRITERS,
        lambda w: {"channel_id": w.ids["channel_id"], "name": "F", "query": "f"},
    ),
    reader("get", "/v1/streams/{stream_id}"),
    Case("delete", "/v1/streams/{stream_id}", WRITERS),
]
ID_FREE_PATHS = {case.path for case in CASES if "{" not in case.path.split("?")[0]}


def client_for(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def build_world(app: Flask, services: Services, workspace: Workspace) -> World:
    """The resources every case acts on, made by the workspace's owner (and one by a contributor)."""
    owner = client_for(app, make_member_token(services, workspace, Role.OWNER))
    contributor = client_for(app, make_member_token(services, workspace, Role.CONTRIBUTOR))
    world = World()
    channel = make_channel(services, workspace, "Matrix")
    world.ids["channel_id"] = str(channel.id)
    post = owner.post("/v1/posts", json=new_post(world)).json
    world.ids["post_id"], world.ids["delivery_id"] = post["id"], post["deliveries"][0]["id"]
    world.ids["draft_id"] = owner.post("/v1/posts", json={**new_post(world), "draft": True}).json["id"]
    world.ids["pending_id"] = contributor.post("/v1/posts", json=new_post(world)).json["id"]
    hook = owner.post("/v1/webhooks", json={"url": "https://hooks.example.org/x", "events": ["*"]}).json
    world.ids["webhook_id"] = hook["id"]
    with services.sessions.begin() as session:
        target = get_or_add_member(session, workspace, "target@example.org", role=Role.VIEWER)
        world.ids["member_id"] = str(target.id)
    uploaded = owner.post("/v1/media", data={"file": (io.BytesIO(png()), "tiny.png")})
    world.ids["media_id"] = uploaded.json["id"]
    imported = owner.post(
        "/v1/imports", json=[{"text": "Imported", "channels": [world.ids["channel_id"]], "time": "now"}]
    )
    world.ids["import_id"] = imported.json["id"]
    sandbox = services.networks.get("sandbox")
    assert isinstance(sandbox, SandboxNetwork)
    sandbox.store.add("grace", f"Have you seen @{channel.handle}?", f"someone-else:{uuid.uuid4()}")
    read_due_sources(services)
    with services.sessions() as session:
        item_id = session.scalars(select(InboxItem.id).where(InboxItem.channel_id == channel.id)).first()
    world.ids["item_id"] = str(item_id)
    stream = owner.post("/v1/streams", json={"channel_id": str(channel.id), "name": "Fair", "query": "fair"})
    world.ids["stream_id"] = stream.json["id"]
    return world


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 90, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def own_token_id(client: FlaskClient) -> str:
    return str(client.get("/v1/tokens").json["items"][0]["id"])


def own_session_id(services: Services, token: str) -> str:
    """A dashboard session the token's member opened, as signing in from a browser opens one."""
    with services.sessions.begin() as session:
        return str(sign_in(session, token, utcnow()).session_id)


def test_the_table_covers_every_v1_operation(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    documented = {
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/")
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }

    assert {case.name.split("?")[0] for case in CASES} == documented


ROLES_AND_SCOPES = [(role, Scope.ADMIN) for role in Role] + [(Role.OWNER, Scope.READ)]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_role_may_do_exactly_what_the_table_allows(
    app: Flask, services: Services, workspace: Workspace, case: Case
) -> None:
    world = build_world(app, services, workspace)
    outcomes = {}
    for role, scope in ROLES_AND_SCOPES:
        token = make_member_token(services, workspace, role, scope)
        actor = client_for(app, token)
        world.ids["token_id"] = own_token_id(actor)
        world.ids["session_id"] = own_session_id(services, token)
        response = case.send(actor, world)
        outcomes[(role.value, scope.value)] = response.status_code
        allowed = case.read_scope_allowed if scope is Scope.READ else role in case.allowed
        if allowed:
            assert response.status_code != 403, (role, scope, response.json)
            assert response.status_code < 500, (role, scope, response.json)
        else:
            assert response.status_code == 403, (role, scope, response.status_code, response.json)
            assert response.content_type == "application/problem+json"
        if response.status_code < 400 and case.method != "get":
            world = build_world(app, services, workspace)  # the action used up its resource


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.path not in ID_FREE_PATHS], ids=lambda c: c.name
)
def test_another_workspaces_ids_answer_404_like_missing_ones(
    app: Flask, services: Services, workspace: Workspace, case: Case
) -> None:
    ours = build_world(app, services, workspace)
    with services.sessions.begin() as session:
        elsewhere = get_or_create_workspace(session, "Somebody else's agency")
    theirs = build_world(app, services, elsewhere)
    owner = client_for(app, make_member_token(services, workspace, Role.OWNER))
    their_token = make_member_token(services, elsewhere, Role.OWNER)
    theirs.ids["token_id"] = own_token_id(client_for(app, their_token))
    theirs.ids["session_id"] = own_session_id(services, their_token)
    missing = World({name: str(uuid.uuid4()) for name in theirs.ids})

    across = case.send(owner, theirs, ours)
    nowhere = case.send(owner, missing, ours)

    assert across.status_code == 404, across.json
    assert nowhere.status_code == 404, nowhere.json
    assert across.content_type == nowhere.content_type == "application/problem+json"
    assert across.json["title"] == nowhere.json["title"]
