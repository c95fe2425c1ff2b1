"""API tokens: a token issued once authenticates; only its hash is kept; dead tokens say why."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.db import utcnow
from shared.errors import Unauthenticated
from shared.workspaces.models import ApiToken
from shared.workspaces.services import authenticate, get_or_create_workspace, issue_token


def test_an_issued_token_authenticates_as_its_workspace(services: Services) -> None:
    with services.sessions.begin() as session:
        workspace = get_or_create_workspace(session, "Harbour festival")
        plain, issued = issue_token(session, workspace, "deploy bot")

    with services.sessions() as session:
        token = authenticate(session, plain, utcnow())

    assert (token.id, token.workspace_id, token.name) == (issued.id, workspace.id, "deploy bot")
    assert plain.startswith("crier_")
    assert token.prefix == plain[:12]


def test_only_the_sha256_of_a_token_is_stored(services: Services) -> None:
    with services.sessions.begin() as session:
        plain, issued = issue_token(
            session, get_or_create_workspace(session, "Harbour festival"), "deploy bot"
        )

    with services.engine.connect() as connection:
        rows = connection.execute(select(ApiToken.__table__)).mappings().all()

    [row] = rows
    assert row["token_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    stored_text = [str(value) for value in row.values()]
    assert not any(plain in value for value in stored_text)
    assert row["id"] == issued.id


def test_two_tokens_for_one_workspace_are_different_secrets(services: Services) -> None:
    with services.sessions.begin() as session:
        workspace = get_or_create_workspace(session, "Harbour festival")
        first, _ = issue_token(session, workspace, "laptop")
        second, _ = issue_token(session, workspace, "phone")

    assert first != second
    with services.sessions() as session:
        assert authenticate(session, first, utcnow()).name == "laptop"
        assert authenticate(session, second, utcnow()).name == "phone"


def test_unknown_revoked_and_expired_tokens_are_refused_each_with_its_own_reason(services: Services) -> None:
    now = utcnow()
    with services.sessions.begin() as session:
        workspace = get_or_create_workspace(session, "Harbour festival")
        revoked, revoked_token = issue_token(session, workspace, "old laptop")
        expiring, _ = issue_token(session, workspace, "contractor", expires_at=now + timedelta(hours=1))
        session.execute(update(ApiToken).where(ApiToken.id == revoked_token.id).values(revoked_at=now))

    reasons = []
    with services.sessions() as session:
        for plain, at in [
            ("crier_" + "x" * 43, now),
            (revoked, now),
            (expiring, now + timedelta(hours=1)),
        ]:
            with pytest.raises(Unauthenticated) as refused:
                authenticate(session, plain, at)
            reasons.append(refused.value.detail)
        # The control: the expiring token still works until its last instant.
        assert authenticate(session, expiring, now + timedelta(minutes=59, seconds=59)).name == "contractor"

    assert reasons == [
        "The bearer token is not known.",
        "The bearer token was revoked.",
        "The bearer token has expired.",
    ]
