"""Dashboard sessions live on the server: signing out, or ending a session from the API or another browser,
makes every copy of its cookie useless; a member sees and ends only their own sessions."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from services.api.dashboard.signin import COOKIE_NAME
from shared.bootstrap import Services
from shared.db import utcnow
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import ApiToken, DashboardSession
from shared.workspaces.services import hash_token
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.seeding import SeededWorkspace
from tests.factories import make_member_token

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def stolen_copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another client carrying exactly the cookie `client` has: what an attacker who copied it holds."""
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE_NAME, cookie.value)
    return thief


def api_as(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def sign_out(client: FlaskClient) -> None:
    page = client.get("/dashboard").get_data(as_text=True)
    assert client.post("/dashboard/sign-out", data={"csrf_token": csrf_token_of(page)}).status_code == 302


def test_a_cookie_copied_before_signing_out_no_longer_opens_the_dashboard(
    app: Flask, client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    thief = stolen_copy(app, client)
    assert thief.get("/dashboard").status_code == 200, "the copy works while the session is open"

    sign_out(client)

    refused = thief.get("/dashboard")
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("/dashboard/sign-in")
    form = thief.get(refused.headers["Location"]).get_data(as_text=True)
    assert "This browser&#39;s session has ended" in form


def test_ending_a_session_from_the_api_signs_that_browser_and_its_copies_out(
    app: Flask, client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX
    sign_in(client, seeded.reader_token)
    thief = stolen_copy(app, client)
    api = api_as(app, make_member_token(services, seeded.workspace, Role.VIEWER, Scope.READ))

    [listed] = api.get("/v1/sessions").json["items"]
    ended = api.delete(f"/v1/sessions/{listed['id']}")

    assert listed["user_agent"] == FIREFOX
    assert listed["token"]["prefix"] == seeded.reader_token[:12]
    assert ended.status_code == 204
    assert client.get("/dashboard").status_code == 302
    assert thief.get("/dashboard").status_code == 302
    assert api.get("/v1/sessions").json["items"] == []
    assert api.delete(f"/v1/sessions/{listed['id']}").status_code == 404


def test_another_members_sessions_are_invisible_and_cannot_be_ended(
    app: Flask, client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    viewer_api = api_as(app, make_member_token(services, seeded.workspace, Role.VIEWER, Scope.READ))
    [victims] = viewer_api.get("/v1/sessions").json["items"]
    # An owner of the same workspace is still another member.
    owner_api = api_as(app, seeded.owner_token)

    listed = owner_api.get("/v1/sessions").json["items"]
    ended = owner_api.delete(f"/v1/sessions/{victims['id']}")

    assert listed == []
    assert ended.status_code == 404
    assert ended.json["title"] == owner_api.delete(f"/v1/sessions/{'0' * 32}").json["title"]
    assert client.get("/dashboard").status_code == 200, "the victim is still signed in"


def test_another_browser_of_the_same_member_is_listed_and_ended_from_the_dashboard(
    app: Flask, client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    forgotten = app.test_client()
    forgotten.environ_base["HTTP_USER_AGENT"] = "The library's computer"
    sign_in(forgotten, seeded.reader_token)

    page = client.get("/dashboard").get_data(as_text=True)
    assert page.count('<tr data-session-id="') == 2
    assert "The library&#39;s computer" in page
    assert "(this browser)" in page
    api = api_as(app, seeded.reader_token)
    other = next(
        s for s in api.get("/v1/sessions").json["items"] if s["user_agent"] == "The library's computer"
    )

    forged = client.post(f"/dashboard/sessions/{other['id']}/end", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert forgotten.get("/dashboard").status_code == 200
    ended = client.post(f"/dashboard/sessions/{other['id']}/end", data={"csrf_token": csrf_token_of(page)})

    assert ended.status_code == 302
    assert forgotten.get("/dashboard").status_code == 302
    assert client.get("/dashboard").status_code == 200


def test_a_session_expires_however_active_it_is(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    with services.sessions.begin() as session:
        session.execute(update(DashboardSession).values(expires_at=utcnow() - timedelta(seconds=1)))

    refused = client.get("/dashboard")

    assert refused.status_code == 302
    assert "expired" in client.get(refused.headers["Location"]).get_data(as_text=True)


def test_a_cookie_from_before_sessions_were_kept_opens_nothing(
    app: Flask, client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    # Until now the cookie named the token's id: such a cookie, signed with the same key, is refused.
    with services.sessions() as session:
        token = session.query(ApiToken).filter_by(token_hash=hash_token(seeded.reader_token)).one()
    old = app.session_interface.get_signing_serializer(app).dumps({"token_id": str(token.id)})  # type: ignore[attr-defined]
    client.set_cookie(COOKIE_NAME, old)

    assert client.get("/dashboard").status_code == 302


def test_a_guessed_session_secret_in_a_signed_cookie_opens_nothing(
    app: Flask, client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    forged = app.session_interface.get_signing_serializer(app).dumps({"session": "guessed"})  # type: ignore[attr-defined]
    attacker = app.test_client()
    attacker.set_cookie(COOKIE_NAME, forged)

    assert attacker.get("/dashboard").status_code == 302
