"""/docs in a real browser: Swagger UI runs under its Content-Security-Policy, from Crier's own files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def test_the_docs_render_under_their_policy_loading_nothing_from_elsewhere(
    page: Page, live_server: str
) -> None:
    console: list[ConsoleMessage] = []
    page.on("console", lambda message: console.append(message))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []
    page.on("response", lambda answer: failed.append(answer.url) if answer.status >= 400 else None)

    response = page.goto(f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    operations = page.locator(".opblock").count()

    assert response is not None
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "Crier" in page.inner_text(".swagger-ui .info .title")
    assert operations > 20
    # Nothing the policy refused, nothing missing but the icon a browser asks every site for, and
    # nothing asked of another origin.
    errors = [message for message in console if message.type == "error"]
    assert [
        message.text for message in errors if message.location["url"] != f"{live_server}/favicon.ico"
    ] == []
    assert [url for url in failed if url != f"{live_server}/favicon.ico"] == []
    assert [url for url in requested if not url.startswith(live_server)] == []


def test_another_site_cannot_frame_the_docs(page: Page, live_server: str) -> None:
    # The front page, which any site may frame, loads beside it: proof the frames had time to load.
    page.set_content(
        f'<iframe id="home" src="{live_server}/"></iframe>'
        f'<iframe id="docs" src="{live_server}/docs"></iframe>'
    )
    page.frame_locator("#home").locator("body").wait_for()
    page.wait_for_timeout(500)

    assert page.frame_locator("#docs").locator(".swagger-ui, #swagger-ui-container").count() == 0
