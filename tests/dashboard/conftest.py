"""The app with a seeded workspace, served over real HTTP, and Debian's Chromium to look at it.

The browser test serves the app with werkzeug in a thread of the test process rather than starting
`crier up` (tests/e2e): the dashboard is a page of the API process alone, and a running scheduler and
worker would only add to what the test must wait for (the worker collects metrics on its own schedule,
which would change the numbers between the page and the API). The same app factory gunicorn calls builds
it, over the same services, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from werkzeug.serving import make_server

from services.api.app import create_app
from shared.bootstrap import Services
from shared.db import utcnow
from tests.dashboard.axe import context_options
from tests.dashboard.seeding import SeededWorkspace, seed_other_workspace, seed_workspace

CHROMIUM = os.environ.get("CRIER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like client: it keeps cookies, and sends no bearer token."""
    return app.test_client()


@pytest.fixture
def seeded(services: Services) -> SeededWorkspace:
    return seed_workspace(services, utcnow())


@pytest.fixture
def other_workspace(services: Services, seeded: SeededWorkspace) -> SeededWorkspace:
    return seed_other_workspace(services, utcnow())


def csrf_token_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, token: str, tz: str = "") -> None:
    """Sign in through the form, as a person would."""
    form = client.get("/dashboard/sign-in")
    response = client.post(
        "/dashboard/sign-in",
        data={"token": token, "tz": tz, "csrf_token": csrf_token_of(form.get_data(as_text=True))},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on a free loopback port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dashboard-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


# One browser for the module's tests (both backends), closed when they are done.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (which downloads no browser of its own here)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. `make test` (scripts/test) installs Debian's "
            "package; by hand: `apt-get install -y chromium`, or point CRIER_TEST_CHROMIUM at one.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # The tests run as root in CI, where Chromium's sandbox cannot start.
            chromium_sandbox=False,
            # The machine has no network beyond loopback: Chromium's own background calls would only fail.
            args=["--disable-gpu", "--disable-quic", "--disable-background-networking", "--no-first-run"],
        )
        yield launched
        launched.close()


# The screens a page is checked on: a laptop's, and a phone's 390 px, where nothing may scroll sideways.
SCREENS: dict[str, ViewportSize] = {
    "wide": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}


@pytest.fixture(params=sorted(SCREENS))
def page_on_each_screen(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context on each of SCREENS in turn, as axe needs it (context_options)."""
    context = browser.new_context(viewport=SCREENS[request.param], **context_options)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
