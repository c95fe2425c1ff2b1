"""The outbox: an event is owed exactly when the action behind it commits, to the endpoints that asked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.config import parse_allowed_hosts
from shared.errors import Conflict, InvalidInput, NotFound
from shared.networks.outbound import AddressPolicy
from shared.notifications.endpoints import (
    EndpointSecret,
    get_endpoint,
    open_secret,
    rotate_secret,
    update_endpoint,
    url_problems,
)
from shared.notifications.models import EventType, MessageState, WebhookEndpoint, WebhookMessage
from shared.notifications.outbox import emit, ping_endpoint
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_workspace

AddEndpoint = Callable[..., EndpointSecret]


def owed(services: Services) -> list[tuple[uuid.UUID, str]]:
    """Every message in the outbox, as (endpoint id, event type)."""
    with services.sessions() as session:
        return [
            (message.endpoint_id, message.event_type)
            for message in session.scalars(select(WebhookMessage).order_by(WebhookMessage.created_at))
        ]


def emit_committed(services: Services, workspace: Workspace, event: EventType) -> list[WebhookMessage]:
    with services.sessions.begin() as session:
        return emit(session, workspace.id, event, {"delivery_id": uuid.uuid4()})


def test_an_event_is_owed_to_each_active_endpoint_subscribed_to_it(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    failures = add_endpoint(events=["delivery.failed"]).endpoint
    everything = add_endpoint(events=["*"]).endpoint
    add_endpoint(events=["delivery.published"])
    add_endpoint(events=["*"], active=False)

    messages = emit_committed(services, workspace, EventType.DELIVERY_FAILED)

    assert {message.endpoint_id for message in messages} == {failures.id, everything.id}
    assert sorted(owed(services)) == sorted(
        [(failures.id, "delivery.failed"), (everything.id, "delivery.failed")]
    )
    assert all(message.state is MessageState.PENDING for message in messages)
    assert all(message.next_attempt_at == message.created_at for message in messages)


def test_a_rolled_back_action_owes_nothing(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    add_endpoint()

    class ActionFailed(Exception):
        pass

    def publish_then_fail() -> None:
        with services.sessions.begin() as session:
            emit(session, workspace.id, EventType.DELIVERY_PUBLISHED, {"delivery_id": "d-1"})
            raise ActionFailed

    with pytest.raises(ActionFailed):
        publish_then_fail()

    assert owed(services) == []


def test_another_workspaces_endpoints_are_not_told(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    other, _ = make_workspace(services, "Other team")
    theirs = add_endpoint(of=other).endpoint

    assert emit_committed(services, workspace, EventType.DELIVERY_FAILED) == []
    [message] = emit_committed(services, other, EventType.DELIVERY_FAILED)
    assert message.endpoint_id == theirs.id
    assert message.workspace_id == other.id


def test_a_workspace_cannot_read_or_change_another_workspaces_endpoint(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    other, _ = make_workspace(services, "Other team")
    theirs = add_endpoint(of=other).endpoint

    with services.sessions.begin() as session, pytest.raises(NotFound):
        get_endpoint(session, workspace.id, theirs.id)
    with services.sessions.begin() as session, pytest.raises(NotFound):
        update_endpoint(session, Actor.system(workspace.id), theirs.id, active=False)
    with services.sessions.begin() as session, pytest.raises(NotFound):
        ping_endpoint(session, workspace.id, theirs.id)


def test_the_payload_is_stored_as_plain_json(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    add_endpoint()
    delivery_id = uuid.uuid4()
    at = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

    with services.sessions.begin() as session:
        emit(
            session,
            workspace.id,
            EventType.DELIVERY_FAILED,
            {"delivery_id": delivery_id, "at": at, "state": MessageState.FAILED, "tries": [1, 2]},
        )

    with services.sessions() as session:
        [message] = session.scalars(select(WebhookMessage)).all()
    assert message.payload == {
        "delivery_id": str(delivery_id),
        "at": "2026-05-01T09:00:00+00:00",
        "state": "failed",
        "tries": [1, 2],
    }


def test_a_payload_value_with_no_json_form_is_refused_before_anything_is_stored(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    add_endpoint()

    with pytest.raises(TypeError, match="cannot carry object"), services.sessions.begin() as session:
        emit(session, workspace.id, EventType.DELIVERY_FAILED, {"thing": object()})

    assert owed(services) == []


def test_nothing_subscribes_to_ping_but_a_ping_reaches_the_one_endpoint_pinged(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    pinged = add_endpoint().endpoint
    add_endpoint()

    assert emit_committed(services, workspace, EventType.PING) == []
    with services.sessions.begin() as session:
        message = ping_endpoint(session, workspace.id, pinged.id)

    assert owed(services) == [(pinged.id, "ping")]
    assert message.payload == {"webhook_id": str(pinged.id)}


def test_an_inactive_endpoint_cannot_be_pinged(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    endpoint = add_endpoint(active=False).endpoint

    with services.sessions.begin() as session, pytest.raises(Conflict, match="inactive"):
        ping_endpoint(session, workspace.id, endpoint.id)


@pytest.mark.parametrize(
    ("events", "pointers"),
    [
        ([], ["/events"]),
        (["delivery.failed", "delivery.exploded"], ["/events/1"]),
        (["ping"], ["/events/0"]),
    ],
)
def test_an_endpoint_must_name_events_one_can_subscribe_to(
    add_endpoint: AddEndpoint, events: list[str], pointers: list[str]
):
    with pytest.raises(InvalidInput) as refused:
        add_endpoint(events=events)

    assert [problem.pointer for problem in refused.value.problems] == pointers


@pytest.mark.parametrize(
    ("url", "allowance"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1"),
        ("https://10.1.2.3/hook", "10.0.0.0/8"),
        ("https://192.168.0.10/hook", "192.168.0.0/16"),
        ("https://172.16.5.4/hook", "172.16.0.0/12"),
        ("https://100.64.0.1/hook", "100.64.0.0/10"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]/hook", "::1"),
        ("https://[fd00::1]/hook", "fd00::/8"),
        ("https://[::ffff:127.0.0.1]/hook", "127.0.0.1"),
        ("https://0.0.0.0/hook", "0.0.0.0"),
        ("https://224.0.0.1/hook", "224.0.0.0/4"),
        ("https://localhost/hook", "localhost"),
        ("https://api.localhost./hook", "api.localhost"),
    ],
)
def test_an_address_on_this_machine_or_a_private_network_is_refused_unless_the_operator_allows_it(
    url: str, allowance: str
):
    [problem] = url_problems(url, policy=AddressPolicy(), pointer="/url")

    assert problem.pointer == "/url"
    assert "private network" in problem.detail
    hosts, networks = parse_allowed_hosts(allowance)
    allowed = AddressPolicy(allowed_hosts=hosts, allowed_networks=networks)
    assert url_problems(url, policy=allowed, pointer="/url") == []


@pytest.mark.parametrize("url", ["http://hooks.example.org/crier", "http://mastodon.lan/hook"])
def test_plain_http_is_refused_to_a_host_the_operator_did_not_name(url: str):
    [problem] = url_problems(url, policy=AddressPolicy(), pointer="/url")

    assert "must use https" in problem.detail
    named = AddressPolicy(allowed_hosts=frozenset({urlsplit(url).hostname or ""}))
    assert url_problems(url, policy=named, pointer="/url") == []


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("ftp://hooks.example.org/crier", "https://"),
        ("hooks.example.org/crier", "https://"),
        ("https:///crier", "host"),
        ("https://user:pw@hooks.example.org/crier", "user name or password"),
        ("https://hooks.example.org:99999/crier", "valid URL"),
        ("https://0177.0.0.1/crier", "valid URL"),
    ],
)
def test_a_url_must_be_https_with_a_host_and_no_login(url: str, detail: str):
    [problem] = url_problems(url, policy=AddressPolicy(), pointer="/url")

    assert detail in problem.detail


def test_public_urls_over_https_are_accepted():
    for url in ("https://hooks.example.org/crier?team=1", "https://93.184.215.14/hook"):
        assert url_problems(url, policy=AddressPolicy(), pointer="/url") == []


def test_the_secret_is_stored_sealed_and_a_rotation_replaces_it(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    created = add_endpoint()
    assert created.secret.startswith("whsec_")
    assert len(created.secret) >= len("whsec_") + 43  # 32 random bytes, base64url

    with services.sessions() as session:
        stored = session.get_one(WebhookEndpoint, created.endpoint.id)
    assert created.secret.encode() not in stored.sealed_secret
    assert open_secret(services.credentials, stored.sealed_secret) == created.secret

    with services.sessions.begin() as session:
        rotated = rotate_secret(
            session, Actor.system(workspace.id), services.credentials, created.endpoint.id
        )
    with services.sessions() as session:
        stored = session.get_one(WebhookEndpoint, created.endpoint.id)
    assert rotated.secret != created.secret
    assert open_secret(services.credentials, stored.sealed_secret) == rotated.secret


def test_changes_to_endpoints_are_audited_without_their_secrets(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    created = add_endpoint(events=["delivery.failed"])
    actor = Actor.system(workspace.id)
    with services.sessions.begin() as session:
        update_endpoint(session, actor, created.endpoint.id, events=["*"], description="Ops")
        rotated = rotate_secret(session, actor, services.credentials, created.endpoint.id)

    with services.sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.action)).all()
    assert [entry.action for entry in entries] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
    ]
    assert entries[1].detail == {"events": ["*"], "description": "Ops"}
    for entry in entries:
        assert created.secret not in str(entry.detail)
        assert rotated.secret not in str(entry.detail)


def test_activating_an_endpoint_again_clears_why_crier_stopped_it(
    services: Services, workspace: Workspace, add_endpoint: AddEndpoint
):
    endpoint = add_endpoint().endpoint
    with services.sessions.begin() as session:
        stored = session.get_one(WebhookEndpoint, endpoint.id)
        stored.active, stored.deactivated_reason = False, "The receiver answered 410 Gone"

    with services.sessions.begin() as session:
        reactivated = update_endpoint(session, Actor.system(workspace.id), endpoint.id, active=True)

    assert reactivated.active
    assert reactivated.deactivated_reason is None
