"""API tokens: a token issued once authenticates; only its hash is kept; dead tokens say why."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.bootstrap import Services
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.workspaces.access import Permission, Role, Scope
from shared.workspaces.models import ApiToken, Member
from shared.workspaces.services import (
    authenticate,
    get_or_add_member,
    get_or_create_workspace,
    issue_token,
)


def editor(session: Session) -> Member:
    workspace = get_or_create_workspace(session, "Harbour festival")
    return get_or_add_member(session, workspace, "ana@example.org", name="Ana", role=Role.EDITOR)


def test_an_issued_token_acts_as_its_member_in_their_workspace(services: Services) -> None:
    with services.sessions.begin() as session:
        member = editor(session)
        plain, issued = issue_token(session, member, "deploy bot")

    with services.sessions.begin() as session:
        actor = authenticate(session, plain, utcnow())

    assert (actor.member_id, actor.workspace_id, actor.name) == (member.id, member.workspace_id, "Ana")
    assert plain.startswith("crier_")
    assert issued.prefix == plain[:12]


@pytest.mark.parametrize(
    ("role", "scope", "allowed"),
    [
        (
            Role.EDITOR,
            Scope.ADMIN,
            {Permission.READ, Permission.DRAFT, Permission.PUBLISH, Permission.APPROVE},
        ),
        (Role.OWNER, Scope.READ, {Permission.READ}),
        (Role.CONTRIBUTOR, Scope.WRITE, {Permission.READ, Permission.DRAFT}),
        (Role.ADMIN, Scope.ADMIN, set(Permission) - {Permission.MANAGE_OWNERS}),
    ],
)
def test_a_token_may_do_what_both_its_members_role_and_its_scope_allow(
    services: Services, role: Role, scope: Scope, allowed: set[Permission]
) -> None:
    with services.sessions.begin() as session:
        member = get_or_add_member(
            session, get_or_create_workspace(session, "Harbour festival"), "x@example.org", role=role
        )
        plain, _ = issue_token(session, member, "t", scope=scope)
        actor = authenticate(session, plain, utcnow())

    assert actor.permissions == allowed


def test_only_the_sha256_of_a_token_is_stored(services: Services) -> None:
    with services.sessions.begin() as session:
        plain, issued = issue_token(session, editor(session), "deploy bot")

    with services.engine.connect() as connection:
        rows = connection.execute(select(ApiToken.__table__)).mappings().all()

    [row] = rows
    assert row["token_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    stored_text = [str(value) for value in row.values()]
    assert not any(plain in value for value in stored_text)
    assert row["id"] == issued.id


def test_two_tokens_for_one_workspace_are_different_secrets(services: Services) -> None:
    with services.sessions.begin() as session:
        member = editor(session)
        first, _ = issue_token(session, member, "laptop")
        second, _ = issue_token(session, member, "phone")

    assert first != second
    with services.sessions.begin() as session:
        assert authenticate(session, first, utcnow()).member_id == member.id
        assert authenticate(session, second, utcnow()).member_id == member.id


def test_unknown_revoked_and_expired_tokens_are_refused_each_with_its_own_reason(services: Services) -> None:
    now = utcnow()
    with services.sessions.begin() as session:
        member = editor(session)
        revoked, revoked_token = issue_token(session, member, "old laptop")
        expiring, _ = issue_token(session, member, "contractor", expires_at=now + timedelta(hours=1))
        session.execute(update(ApiToken).where(ApiToken.id == revoked_token.id).values(revoked_at=now))

    reasons = []
    with services.sessions.begin() as session:
        for plain, at in [
            ("crier_" + "x" * 43, now),
            (revoked, now),
            (expiring, now + timedelta(hours=1)),
        ]:
            with pytest.raises(Unauthenticated) as refused:
                authenticate(session, plain, at)
            reasons.append(refused.value.detail)
        # The control: the expiring token still works until its last instant.
        assert authenticate(session, expiring, now + timedelta(minutes=59, seconds=59)).name == "Ana"

    assert reasons == [
        "The bearer token is not known.",
        "The bearer token was revoked.",
        "The bearer token has expired.",
    ]
