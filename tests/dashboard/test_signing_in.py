"""Signing in to the dashboard with an API token, and what the browser's session may and may not do."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from services.api.app import create_app
from services.api.dashboard.signin import COOKIE_NAME, SESSION_SECRET_KEY, cookie_signing_key
from shared.bootstrap import Services
from shared.credentials import EMBEDDED_SECRET_FILE
from shared.db import utcnow
from shared.metrics.services import note_collection
from shared.workspaces.models import ApiToken, DashboardSession
from shared.workspaces.services import hash_token
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.seeding import OTHER_WORKSPACE_ERROR, SeededWorkspace
from tests.factories import make_channel, make_post, make_workspace

OLD_KEY = "the-key-before-rotation-kept-for-opening-old-credentials"
NEW_KEY = "the-key-after-rotation-that-seals-and-signs-from-now-on"


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None, "no session cookie was set"
    return cookie.value


def test_a_browser_that_is_not_signed_in_is_sent_to_the_sign_in_form(client: FlaskClient) -> None:
    response = client.get("/dashboard?tz=Europe/Paris")

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/sign-in?tz=Europe/Paris"
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="token"' in form
    assert 'name="tz" value="Europe/Paris"' in form


def test_signing_in_with_a_read_only_token_opens_the_dashboard(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    response = client.get("/dashboard")

    assert response.status_code == 200
    assert seeded.workspace.name in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_httponly_lax_and_holds_neither_the_token_nor_its_id(
    app: Flask, client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    form = client.get("/dashboard/sign-in")
    response = client.post(
        "/dashboard/sign-in",
        data={"token": seeded.reader_token, "csrf_token": csrf_token_of(form.get_data(as_text=True))},
    )

    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    cookie = session_cookie(client)
    assert seeded.reader_token not in cookie
    assert hash_token(seeded.reader_token) not in cookie
    stored = app.session_interface.get_signing_serializer(app).loads(cookie)
    with services.sessions() as session:
        token = session.query(ApiToken).filter_by(token_hash=hash_token(seeded.reader_token)).one()
        [opened] = session.query(DashboardSession).all()
    assert str(token.id) not in cookie
    assert set(stored) == {SESSION_SECRET_KEY, "csrf_token"}
    # The server keeps only the secret's hash: its table opens no browser's session.
    assert opened.secret_hash == hash_token(stored[SESSION_SECRET_KEY])
    assert opened.token_id == token.id


def test_a_token_that_is_not_known_is_refused_on_the_form(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    form = client.get("/dashboard/sign-in")
    response = client.post(
        "/dashboard/sign-in",
        data={"token": "crier_not-a-real-token", "csrf_token": csrf_token_of(form.get_data(as_text=True))},
    )

    assert response.status_code == 401
    assert "The bearer token is not known." in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_revoking_the_token_signs_the_browser_out_at_its_next_request(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    assert client.get("/dashboard").status_code == 200

    with services.sessions.begin() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(seeded.reader_token))
            .values(revoked_at=utcnow())
        )
    response = client.get("/dashboard")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/sign-in")
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The token this browser signed in with was revoked." in form
    assert client.get("/dashboard").status_code == 302


def test_a_token_that_expires_signs_the_browser_out(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    with services.sessions.begin() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(seeded.reader_token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    assert client.get("/dashboard").status_code == 302


def test_signing_in_without_the_forms_csrf_token_is_refused(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    client.get("/dashboard/sign-in")

    missing = client.post("/dashboard/sign-in", data={"token": seeded.reader_token})
    forged = client.post("/dashboard/sign-in", data={"token": seeded.reader_token, "csrf_token": "forged"})

    assert missing.status_code == 400
    assert forged.status_code == 400
    assert "reload the page" in forged.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_a_sign_in_posted_from_another_site_without_a_session_is_refused(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    # Another site's form cannot read this one's CSRF token, and SameSite=Lax keeps the cookie off its POST.
    response = client.post("/dashboard/sign-in", data={"token": seeded.reader_token, "csrf_token": ""})

    assert response.status_code == 400


def test_signing_out_needs_the_csrf_token_and_then_forgets_the_token(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    page = client.get("/dashboard").get_data(as_text=True)

    refused = client.post("/dashboard/sign-out", data={"csrf_token": "forged"})
    assert refused.status_code == 400
    assert client.get("/dashboard").status_code == 200

    signed_out = client.post("/dashboard/sign-out", data={"csrf_token": csrf_token_of(page)})
    assert signed_out.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_another_workspaces_posts_channels_and_errors_are_never_shown(
    client: FlaskClient, seeded: SeededWorkspace, other_workspace: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    page = client.get("/dashboard").get_data(as_text=True)

    assert seeded.workspace.name in page
    assert other_workspace.workspace.name not in page
    assert OTHER_WORKSPACE_ERROR not in page
    for channel in other_workspace.channels:
        assert str(channel.id) not in page
    for post_id in other_workspace.upcoming_post_ids:
        assert str(post_id) not in page
    assert str(other_workspace.failed_delivery_id) not in page


def test_the_session_cookie_does_not_open_the_json_api(client: FlaskClient, seeded: SeededWorkspace) -> None:
    sign_in(client, seeded.reader_token)

    response = client.get("/v1/channels")

    assert response.status_code == 401


def test_an_unknown_timezone_is_refused_with_the_closest_name(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    response = client.get("/dashboard?tz=Paris")

    assert response.status_code == 400
    assert "did you mean &#39;Europe/Paris&#39;?" in response.get_data(as_text=True)


def test_without_a_secret_key_every_api_process_signs_with_the_embedded_secret(
    services: Services, seeded: SeededWorkspace
) -> None:
    # gunicorn runs several processes: a cookie one of them signed must be good in the others.
    assert services.settings.secret_key is None
    first, second = create_app(services=services), create_app(services=services)
    secret_file = services.settings.data_dir / EMBEDDED_SECRET_FILE
    assert first.secret_key == second.secret_key == cookie_signing_key(secret_file.read_text().strip())

    browser = first.test_client()
    sign_in(browser, seeded.reader_token)
    elsewhere = second.test_client()
    elsewhere.set_cookie(COOKIE_NAME, session_cookie(browser))

    assert elsewhere.get("/dashboard").status_code == 200


def app_with_keys(services: Services, secret_key: str) -> Flask:
    """The API as a process started with CRIER_SECRET_KEY set so would be, over the same database."""
    settings = services.settings.model_copy(update={"secret_key": secret_key})
    return create_app(services=Services(**{**services.__dict__, "settings": settings}))


def test_the_cookie_is_signed_with_a_key_derived_from_the_first_secret_never_with_the_secret(
    services: Services, seeded: SeededWorkspace
) -> None:
    app = app_with_keys(services, f"{NEW_KEY},{OLD_KEY}")
    browser = app.test_client()
    sign_in(browser, seeded.reader_token)
    signed_in = app.session_interface.get_signing_serializer(app).loads(session_cookie(browser))  # type: ignore[attr-defined]

    assert app.secret_key == cookie_signing_key(NEW_KEY)
    assert app.secret_key not in (NEW_KEY, NEW_KEY.encode(), f"{NEW_KEY},{OLD_KEY}")
    # Signed with the secret itself (as the cookie was until now), the same contents open nothing.
    signed_as_before = Flask("before")
    signed_as_before.secret_key = f"{NEW_KEY},{OLD_KEY}"
    interface = signed_as_before.session_interface
    with_the_secret = interface.get_signing_serializer(signed_as_before).dumps(signed_in)  # type: ignore[attr-defined]
    forger = app.test_client()
    forger.set_cookie(COOKIE_NAME, with_the_secret)
    assert forger.get("/dashboard").status_code == 302


def test_putting_a_new_key_first_signs_nobody_out_and_moves_their_cookies_to_it(
    services: Services, seeded: SeededWorkspace
) -> None:
    before = app_with_keys(services, OLD_KEY)
    browser = before.test_client()
    sign_in(browser, seeded.reader_token)
    signed_with_the_old_key = session_cookie(browser)

    rotating = app_with_keys(services, f"{NEW_KEY},{OLD_KEY}").test_client()
    rotating.set_cookie(COOKIE_NAME, signed_with_the_old_key)
    assert rotating.get("/dashboard").status_code == 200, "still signed in"
    signed_again = session_cookie(rotating)

    after = app_with_keys(services, NEW_KEY)
    moved, left_behind = after.test_client(), after.test_client()
    moved.set_cookie(COOKIE_NAME, signed_again)
    left_behind.set_cookie(COOKIE_NAME, signed_with_the_old_key)
    assert moved.get("/dashboard").status_code == 200, "its next request signed it with the new key"
    assert left_behind.get("/dashboard").status_code == 302, "the old key, dropped, opens nothing"


def test_the_page_loads_only_its_own_stylesheet_and_forbids_anything_else(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    response = client.get("/dashboard")

    html = response.get_data(as_text=True)
    # What the page loads (a stylesheet, an image, a script), not where its links lead.
    assert re.findall(r'(?:<link [^>]*href|\bsrc)="([^"]+)"', html) == ["/dashboard/assets/dashboard.css"]
    assert all(link.startswith("/dashboard") for link in re.findall(r'<a [^>]*href="([^"]+)"', html))
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    stylesheet = client.get("/dashboard/assets/dashboard.css")
    assert stylesheet.status_code == 200
    assert b".calendar" in stylesheet.data
    stylesheet.close()


def test_the_best_time_grid_shows_the_channel_asked_for(client: FlaskClient, seeded: SeededWorkspace) -> None:
    sign_in(client, seeded.reader_token)
    news = seeded.channels[1]

    page = client.get(f"/dashboard?channel={news.id}").get_data(as_text=True)

    assert f'<section id="best-times" class="card wide" data-channel-id="{news.id}">' in page
    assert "channel's clock (Europe/Paris)" in page


def test_a_channel_whose_numbers_cannot_be_read_is_shown_with_the_networks_words(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    healthy, failing = seeded.channels
    assert 'data-test="no-collection-errors"' in client.get("/dashboard").get_data(as_text=True)
    with services.sessions.begin() as session:
        note_collection(session, healthy.id, now=utcnow())
        note_collection(
            session,
            failing.id,
            now=utcnow(),
            error="Engagement: example.social answered 501: <b>Not</b> there",
        )

    page = client.get("/dashboard").get_data(as_text=True)

    assert f'<tr data-channel-id="{failing.id}">' in page
    assert "Engagement: example.social answered 501: &lt;b&gt;Not&lt;/b&gt; there" in page, "escaped"
    assert (
        f'<tr data-channel-id="{healthy.id}">\n        <th scope="row">{healthy.name}</th>\n        <td><time'
        not in page
    )
    assert 'data-test="no-collection-errors"' not in page


def test_another_workspaces_channel_is_not_found_for_the_best_time_grid(
    client: FlaskClient, seeded: SeededWorkspace, other_workspace: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    response = client.get(f"/dashboard?channel={other_workspace.channels[0].id}")

    assert response.status_code == 404
    assert other_workspace.channels[0].name not in response.get_data(as_text=True)


def test_a_workspace_without_channels_or_posts_has_a_dashboard_too(
    client: FlaskClient, services: Services
) -> None:
    workspace, token = make_workspace(services, "A new team")
    sign_in(client, token)

    response = client.get("/dashboard")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert workspace.name in page
    assert '<strong data-test="upcoming-count">0</strong>' in page
    assert "Connect a channel" in page


def test_counts_of_one_read_in_the_singular(client: FlaskClient, services: Services) -> None:
    workspace, token = make_workspace(services, "A small team")
    channel = make_channel(services, workspace)
    make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(days=1))
    sign_in(client, token)

    page = client.get("/dashboard").get_data(as_text=True)

    assert '<strong data-test="upcoming-count">1</strong> post and' in page
    assert '<strong data-test="free-slot-count">0</strong> free queue slots,' in page
