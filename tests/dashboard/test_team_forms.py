"""The team page's forms without a browser: members and roles by the workspace's rules, one's own tokens
shown once, webhooks and their delivery log, each problem beside its field, and who may use which form."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.notifications.attempts import AttemptResult, claim_due_messages, record_attempt
from shared.notifications.models import WebhookEndpoint, WebhookMessage
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import ApiToken, Member
from shared.workspaces.services import authenticate
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.seeding import SeededWorkspace
from tests.factories import make_member_token

NEW_TOKEN = re.compile(r'<code data-test="new-token">([^<]+)</code>')
NEW_SECRET = re.compile(r'<code data-test="new-secret">([^<]+)</code>')
HOOK_URL = "https://hooks.example.org/crier/very-secret-path"


def error_beside(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="[^"]+" data-test="error-{field}">([^<]*)</p>', page)
    assert found is not None, f"no error beside {field}"
    return html.unescape(found.group(1))


def team_page(client: FlaskClient) -> str:
    response = client.get("/dashboard/team")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, **fields: str | list[str]) -> tuple[int, str, str]:
    """Send a form of the team page; the status, the page, and where it redirects."""
    response = client.post(path, data={"csrf_token": csrf_token_of(team_page(client)), **fields})
    return response.status_code, response.get_data(as_text=True), response.headers.get("Location", "")


def member_named(services: Services, email: str) -> Member | None:
    with services.sessions() as session:
        found = session.scalars(select(Member).where(Member.email == email)).one_or_none()
        if found is not None:
            session.expunge(found)
        return found


def count(services: Services, model: type) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_owner_adds_a_member_changes_their_role_and_removes_them(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)

    status, _, _ = post(
        client,
        "/dashboard/team/members",
        member_name="Rosa Parks",
        email="rosa@example.org",
        role="contributor",
    )
    assert status == 302
    rosa = member_named(services, "rosa@example.org")
    assert rosa is not None
    assert (rosa.name, rosa.role, rosa.workspace_id) == ("Rosa Parks", Role.CONTRIBUTOR, seeded.workspace.id)
    assert "Rosa Parks" in team_page(client)

    assert post(client, f"/dashboard/team/members/{rosa.id}/role", role="editor")[0] == 302
    changed = member_named(services, "rosa@example.org")
    assert changed is not None
    assert changed.role is Role.EDITOR

    assert post(client, f"/dashboard/team/members/{rosa.id}/remove")[0] == 302
    assert member_named(services, "rosa@example.org") is None


def test_a_refused_member_is_shown_again_with_each_problem_beside_its_field(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    before = count(services, Member)

    status, page, _ = post(
        client, "/dashboard/team/members", member_name="", email="not-an-email", role="editor"
    )

    assert status == 422
    assert error_beside(page, "member_name") == "A member needs a name."
    assert 'value="not-an-email"' in page, "what was typed is kept"

    status, page, _ = post(client, "/dashboard/team/members", member_name="Ann", email="ann@", role="editor")
    assert status == 422
    assert error_beside(page, "email") == "This is not an email address."
    assert 'aria-describedby="member-email-error"' in page

    status, page, _ = post(
        client, "/dashboard/team/members", member_name="Again", email="owner@example.org", role="editor"
    )
    assert status == 422
    assert error_beside(page, "email") == "owner@example.org is already a member of this workspace."
    assert count(services, Member) == before


def test_an_admin_may_not_make_an_owner_and_a_workspace_keeps_its_owner(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, make_member_token(services, seeded.workspace, Role.ADMIN))
    page = team_page(client)
    assert '<option value="owner"' not in page
    owner = member_named(services, "owner@example.org")
    assert owner is not None

    status, page, _ = post(
        client, "/dashboard/team/members", member_name="Boss", email="boss@example.org", role="owner"
    )
    assert status == 403
    assert "Only an owner" in page
    assert member_named(services, "boss@example.org") is None
    assert post(client, f"/dashboard/team/members/{owner.id}/role", role="viewer")[0] == 403

    sign_in(client, seeded.owner_token)
    status, page, _ = post(client, f"/dashboard/team/members/{owner.id}/role", role="admin")
    assert status == 409
    assert "keeps at least one owner" in html.unescape(page)
    still = member_named(services, "owner@example.org")
    assert still is not None
    assert still.role is Role.OWNER


def test_a_token_is_shown_once_works_and_is_revoked(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)

    status, page, _ = post(
        client, "/dashboard/team/tokens", token_name="deploy bot", scope="read", expires_in_days="30"
    )

    assert status == 200
    shown = NEW_TOKEN.search(page)
    assert shown is not None
    plain = shown.group(1)
    with services.sessions.begin() as session:
        actor = authenticate(session, plain, utcnow())
        token = session.scalars(select(ApiToken).where(ApiToken.name == "deploy bot")).one()
        assert actor.workspace_id == seeded.workspace.id
        assert token.scope is Scope.READ
        assert token.expires_at is not None
        assert timedelta(days=29) < token.expires_at - utcnow() <= timedelta(days=30)
        token_id = token.id
    again = team_page(client)
    assert plain not in again, "shown once: never again"
    assert token.prefix in again

    assert post(client, f"/dashboard/team/tokens/{token_id}/revoke")[0] == 302
    with services.sessions.begin() as session, pytest.raises(Unauthenticated):
        authenticate(session, plain, utcnow())
    row = re.search(rf'<tr data-token-id="{token_id}">(.*?)</tr>', team_page(client), re.S)
    assert row is not None
    assert re.search(r'data-test="token-state">\s*revoked', row.group(1))


def test_a_token_is_refused_beside_its_fields(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    # The owner's own token, scoped to write: a token with the admin scope could do more than it.
    sign_in(client, make_member_token(services, seeded.workspace, Role.OWNER, Scope.WRITE))
    before = count(services, ApiToken)

    status, page, _ = post(client, "/dashboard/team/tokens", token_name="", scope="read")
    assert status == 422
    assert error_beside(page, "token_name") == "A token needs a name of 1 to 200 characters."

    status, page, _ = post(client, "/dashboard/team/tokens", token_name="wider", scope="admin")
    assert status == 422
    assert "could do more than the token making it" in error_beside(page, "scope")

    status, page, _ = post(
        client, "/dashboard/team/tokens", token_name="long", scope="read", expires_in_days="0"
    )
    assert status == 422
    assert error_beside(page, "expires_in_days") == "Give a number of days from 1 to 3650, or none."
    assert 'value="long"' in page
    assert count(services, ApiToken) == before


def test_a_webhook_is_added_with_its_secret_shown_once_pinged_logged_and_deleted(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)

    status, page, _ = post(
        client, "/dashboard/team/webhooks", url=HOOK_URL, events=["delivery.failed", "channel.needs_reauth"]
    )

    assert status == 200
    secret = NEW_SECRET.search(page)
    assert secret is not None
    assert secret.group(1) not in team_page(client)
    with services.sessions() as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        assert endpoint.events == ["delivery.failed", "channel.needs_reauth"]
        assert endpoint.url == HOOK_URL
        webhook_id = endpoint.id

    status, _, location = post(client, f"/dashboard/team/webhooks/{webhook_id}/ping")
    assert status == 302
    assert location.endswith(f"/dashboard/team/webhooks/{webhook_id}")
    # The sender tried once, and the receiver was down.
    with services.sessions.begin() as session:
        [claim] = claim_due_messages(session, now=utcnow(), limit=10, lease=timedelta(minutes=1))
        record_attempt(
            session,
            claim,
            AttemptResult(duration=timedelta(milliseconds=42), status_code=503, error="Service Unavailable"),
            now=utcnow(),
            max_attempts=5,
        )
    log = client.get(location).get_data(as_text=True)
    message = re.search(r'<li class="stream webhook-message"[^>]*>(.*?)</li>', log, re.S)
    assert message is not None
    assert "<strong>ping</strong>" in message.group(1)
    assert '<span data-test="message-state">pending</span> · 1 attempt' in message.group(1)
    attempt = re.search(r'<tr data-test="attempt">(.*?)</tr>', message.group(1), re.S)
    assert attempt is not None
    assert "<td>503</td>" in attempt.group(1)
    assert "will retry" in attempt.group(1)
    assert "42 ms" in attempt.group(1)

    assert post(client, f"/dashboard/team/webhooks/{webhook_id}/delete")[0] == 302
    assert count(services, WebhookEndpoint) == 0
    assert count(services, WebhookMessage) == 0


def test_a_refused_webhook_is_shown_again_with_its_problems_beside_its_fields(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)

    status, page, _ = post(client, "/dashboard/team/webhooks", url="ftp://hooks.example.org/x", events=[])

    assert status == 422
    assert error_beside(page, "url")
    assert error_beside(page, "events")
    assert 'value="ftp://hooks.example.org/x"' in page
    assert count(services, WebhookEndpoint) == 0


@pytest.mark.parametrize(("role", "scope"), [(Role.EDITOR, Scope.ADMIN), (Role.OWNER, Scope.WRITE)])
def test_only_who_may_manage_the_workspace_sees_and_uses_its_forms(
    client: FlaskClient, services: Services, seeded: SeededWorkspace, role: Role, scope: Scope
) -> None:
    with services.sessions.begin() as session:
        owner = session.scalars(select(Member).where(Member.email == "owner@example.org")).one()
        owner_id = owner.id
    sign_in(client, seeded.owner_token)
    post(client, "/dashboard/team/webhooks", url=HOOK_URL, events=["*"])
    with services.sessions() as session:
        webhook_id = session.scalars(select(WebhookEndpoint.id)).one()
    sign_in(client, make_member_token(services, seeded.workspace, role, scope))

    page = team_page(client)
    assert 'data-test="add-member"' not in page
    assert 'data-test="add-webhook"' not in page
    assert "Ping" not in page
    assert 'data-test="create-token"' in page, "one's own tokens are one's own"
    assert HOOK_URL not in page, "the URL may be the receiver's credential: its host alone is shown"
    assert "https://hooks.example.org/…" in page

    tried = [
        ("/dashboard/team/members", {"member_name": "X", "email": "x@example.org", "role": "viewer"}),
        (f"/dashboard/team/members/{owner_id}/role", {"role": "viewer"}),
        (f"/dashboard/team/members/{owner_id}/remove", {}),
        ("/dashboard/team/webhooks", {"url": HOOK_URL, "events": "*"}),
        (f"/dashboard/team/webhooks/{webhook_id}/ping", {}),
        (f"/dashboard/team/webhooks/{webhook_id}/delete", {}),
    ]
    for path, fields in tried:
        status, refused, _ = post(client, path, **fields)
        assert status == 403, path
        assert "manage_workspace" in refused
    assert count(services, WebhookEndpoint) == 1
    assert count(services, WebhookMessage) == 0
    assert member_named(services, "x@example.org") is None
