"""Webhook endpoints: registering, changing and removing them, their signing secrets, and what they may be.

An endpoint's secret is sealed like a channel's credentials (shared.credentials), opened to sign
each message, and shown to a person only when the endpoint is made and when its secret is rotated.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.credentials import CredentialCipher
from shared.errors import InvalidInput, Problem
from shared.masking import masked_url
from shared.networks.outbound import PUBLIC_ONLY, AddressPolicy, address_problem, readable_url
from shared.notifications.models import ALL_EVENTS, SUBSCRIBABLE_EVENTS, WebhookEndpoint
from shared.workspaces.access import Actor
from shared.workspaces.services import get_in_workspace

# A prefix secret scanners and people recognise; the rest is 32 random bytes.
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000

# What the audit log calls an endpoint.
SUBJECT = "webhook"


@dataclass(frozen=True)
class EndpointSecret:
    """An endpoint with its signing secret in the clear: only when it is made or its secret rotated."""

    endpoint: WebhookEndpoint
    secret: str = field(repr=False)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def open_secret(cipher: CredentialCipher, sealed: bytes) -> str:
    """The endpoint's secret in the clear, for signing one message. Raises CredentialsUnreadable."""
    return str(cipher.open(sealed)["secret"])


def _seal(cipher: CredentialCipher, secret: str) -> bytes:
    # seal() answers None only for empty credentials, which these never are.
    return cast(bytes, cipher.seal({"secret": secret}))


def create_endpoint(
    session: Session,
    actor: Actor,
    cipher: CredentialCipher,
    *,
    url: str,
    events: Sequence[str],
    description: str = "",
    active: bool = True,
    policy: AddressPolicy = PUBLIC_ONLY,
) -> EndpointSecret:
    """Register an endpoint; the answer carries its new secret, which is never shown again."""
    _check(url_problems(url, policy=policy, pointer="/url") + event_problems(events, pointer="/events"))
    secret = new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=actor.workspace_id,
        url=url,
        description=description,
        events=list(dict.fromkeys(events)),
        sealed_secret=_seal(cipher, secret),
        active=active,
    )
    session.add(endpoint)
    session.flush()
    # The URL may be the receiver's credential: the log keeps its host alone (shared.masking).
    record(
        session, actor, "webhook.created", SUBJECT, endpoint.id, url=masked_url(url), events=endpoint.events
    )
    return EndpointSecret(endpoint, secret)


def list_endpoints(session: Session, workspace_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    """The workspace's endpoints, oldest first."""
    return session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).all()


def get_endpoint(session: Session, workspace_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return get_in_workspace(session, WebhookEndpoint, workspace_id, endpoint_id, SUBJECT)


def update_endpoint(
    session: Session,
    actor: Actor,
    endpoint_id: uuid.UUID,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    policy: AddressPolicy = PUBLIC_ONLY,
) -> WebhookEndpoint:
    """Change what is given (None leaves a field as it is). Activating clears Crier's reason for stopping."""
    endpoint = get_endpoint(session, actor.workspace_id, endpoint_id)
    problems: list[Problem] = []
    if url is not None:
        problems += url_problems(url, policy=policy, pointer="/url")
    if events is not None:
        problems += event_problems(events, pointer="/events")
    _check(problems)
    changes: dict[str, Any] = {}
    if url is not None and url != endpoint.url:
        endpoint.url = changes["url"] = url
    if events is not None and list(dict.fromkeys(events)) != endpoint.events:
        endpoint.events = changes["events"] = list(dict.fromkeys(events))
    if description is not None and description != endpoint.description:
        endpoint.description = changes["description"] = description
    if active is not None and active != endpoint.active:
        endpoint.active = changes["active"] = active
        endpoint.deactivated_reason = None
    if changes:
        if "url" in changes:
            changes["url"] = masked_url(changes["url"])
        record(session, actor, "webhook.updated", SUBJECT, endpoint.id, **changes)
    return endpoint


def delete_endpoint(session: Session, actor: Actor, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint with its messages and their log; messages still pending are never sent."""
    endpoint = get_endpoint(session, actor.workspace_id, endpoint_id)
    session.delete(endpoint)
    record(session, actor, "webhook.deleted", SUBJECT, endpoint_id, url=masked_url(endpoint.url))


def rotate_secret(
    session: Session, actor: Actor, cipher: CredentialCipher, endpoint_id: uuid.UUID
) -> EndpointSecret:
    """Give the endpoint a new secret, shown once. Every message sent from now on is signed with it,
    retries of older messages included."""
    endpoint = get_endpoint(session, actor.workspace_id, endpoint_id)
    secret = new_secret()
    endpoint.sealed_secret = _seal(cipher, secret)
    record(session, actor, "webhook.secret_rotated", SUBJECT, endpoint.id)
    return EndpointSecret(endpoint, secret)


def _check(problems: list[Problem]) -> None:
    if problems:
        raise InvalidInput(problems)


def url_problems(url: str, *, policy: AddressPolicy, pointer: str) -> list[Problem]:
    """What is wrong with an endpoint's URL: https (http only to a host the operator allowed), a host, no
    login, and not an address the policy refuses.

    A name is looked up when a message is sent (shared.networks.outbound), since what it leads to may
    change after the endpoint is saved; here only an address written out can be judged.
    """

    def problem(detail: str) -> list[Problem]:
        return [Problem(pointer, detail)]

    if len(url) > MAX_URL_LENGTH:
        return problem(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return problem("Not a valid URL.")
    if not readable_url(url):
        return problem("Not a valid URL.")
    if parts.scheme not in ("http", "https"):
        return problem("The URL must start with https://.")
    if not parts.hostname:
        return problem("The URL must name a host.")
    if parts.username or parts.password:
        return problem("The URL must not carry a user name or password: the signature authenticates Crier.")
    refused = address_problem(parts.scheme, parts.hostname, policy, secret="the signed message")
    if refused:
        return problem(f"The URL {refused}.")
    return []


def event_problems(events: Sequence[str], *, pointer: str) -> list[Problem]:
    if not events:
        return [
            Problem(
                pointer, f'Name at least one event, or "{ALL_EVENTS}" for all (to hear nothing, deactivate).'
            )
        ]
    known = ", ".join([ALL_EVENTS, *SUBSCRIBABLE_EVENTS])
    return [
        Problem(f"{pointer}/{index}", f"Not an event one can subscribe to; one of: {known}.")
        for index, event in enumerate(events)
        if event != ALL_EVENTS and event not in SUBSCRIBABLE_EVENTS
    ]
