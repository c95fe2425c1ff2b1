"""A dashboard form over the upload limit, sent by a browser, gets a page saying the limit in MB and the way
back, still refused before a byte is read; the API, and any client that does not ask for HTML, keeps its
JSON 413. The file inputs say the limit and take only the types the networks take."""

from __future__ import annotations

import html
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from services.api.app import create_app
from services.api.request_limits import MULTIPART_OVERHEAD_BYTES
from shared.bootstrap import Services
from shared.media.services import accepted_types
from tests.api.test_request_limits import EndlessBody, send
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.media.samples import image

LIMIT = 512 * 1024  # shown as 0.5 MB
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
OVER = LIMIT + MULTIPART_OVERHEAD_BYTES + 1


@pytest.fixture
def small_app(services: Services) -> Flask:
    """The app with a half-megabyte upload limit, set as an operator sets it."""
    small = Services(
        **{**services.__dict__, "settings": services.settings.model_copy(update={"media_max_bytes": LIMIT})}
    )
    return create_app(services=small)


@pytest.fixture
def browser(small_app: Flask) -> FlaskClient:
    return small_app.test_client()


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def over_the_limit(client: FlaskClient, path: str, **headers: str) -> tuple[EndlessBody, TestResponse]:
    """A multipart body one byte over what the route takes, sent with `headers`; nothing of it read."""
    body = EndlessBody(OVER)
    environ = {"CONTENT_TYPE": "multipart/form-data; boundary=b"}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return body, send(client, "POST", path, body, environ)


def test_a_browser_s_upload_over_the_limit_gets_a_page_with_the_limit_in_mb_and_the_way_back(
    browser: FlaskClient, team: PostingTeam
) -> None:
    sign_in(browser, team.editor_token)
    referrer = "http://localhost/dashboard/media?missing=1"

    body, response = over_the_limit(
        browser, "/dashboard/media/upload", accept=BROWSER_ACCEPT, referer=referrer
    )

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert body.read_bytes == 0
    assert "The file is too large: an upload may be at most 0.5 MB." in page
    assert '<a href="/dashboard/media?missing=1" data-test="back">' in page
    assert 'data-test="form-lost"' not in page
    assert '<link rel="stylesheet" href="/dashboard/assets/dashboard.css">' in page


def test_the_compose_form_over_the_limit_says_plainly_it_is_lost_and_suggests_the_library(
    browser: FlaskClient, team: PostingTeam
) -> None:
    sign_in(browser, team.editor_token)

    body, response = over_the_limit(
        browser, "/dashboard/compose", accept=BROWSER_ACCEPT, referer="http://localhost/dashboard/compose"
    )

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert "at most 0.5 MB" in page
    assert "the form is empty again" in page
    assert 'upload the file in the <a href="/dashboard/media">media library</a> first' in page
    assert '<a href="/dashboard/compose" data-test="back">' in page


def test_a_back_link_never_leads_to_another_site(browser: FlaskClient, team: PostingTeam) -> None:
    _, response = over_the_limit(
        browser,
        "/dashboard/media/upload",
        accept=BROWSER_ACCEPT,
        referer="https://elsewhere.example/dashboard/x",
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert '<a href="/dashboard/media" data-test="back">' in page
    assert "elsewhere.example" not in page


def test_a_dashboard_form_without_a_file_says_the_body_limit(
    services: Services, browser: FlaskClient, team: PostingTeam
) -> None:
    body = EndlessBody(services.settings.request_max_bytes + 1)
    response = send(
        browser,
        "POST",
        "/dashboard/approvals/00000000-0000-0000-0000-000000000000/approve",
        body,
        {"HTTP_ACCEPT": BROWSER_ACCEPT, "CONTENT_TYPE": "application/x-www-form-urlencoded"},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert "this page takes at most 1 MB" in page


class EndlessUpload(io.RawIOBase):
    """A multipart body whose file part never ends, made as it is read; counts how much was read."""

    OPENING = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="huge.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), 64 * 1024 * 1024 - self.read_bytes)  # ends all the same, much later
        opening = self.OPENING[self.read_bytes : self.read_bytes + wanted]
        buffer[:wanted] = opening + b"x" * (wanted - len(opening))
        self.read_bytes += wanted
        return wanted


def test_a_chunked_upload_over_the_limit_gets_the_page_too(browser: FlaskClient, team: PostingTeam) -> None:
    sign_in(browser, team.editor_token)
    body = EndlessUpload()
    chunked = {
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_ACCEPT": BROWSER_ACCEPT,
        "CONTENT_TYPE": "multipart/form-data; boundary=b",
        "CONTENT_LENGTH": "",
    }

    response = browser.post("/dashboard/media/upload", environ_overrides=chunked)

    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "at most 0.5 MB" in response.get_data(as_text=True)
    assert OVER <= body.read_bytes <= OVER + 64 * 1024


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/dashboard/media/upload", None),  # no Accept header: not a browser
        ("/dashboard/media/upload", "*/*"),  # curl
        ("/dashboard/media/upload", "application/json, text/html;q=0.5"),
        ("/v1/media", BROWSER_ACCEPT),  # the API answers JSON, whoever asks
    ],
)
def test_anything_else_keeps_the_json_problem(browser: FlaskClient, path: str, accept: str | None) -> None:
    headers = {"accept": accept} if accept else {}

    body, response = over_the_limit(browser, path, **headers)

    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert response.json["detail"] == f"The body is {OVER:,} bytes; POST {path} takes at most {OVER - 1:,}."
    assert body.read_bytes == 0


def test_an_upload_under_the_limit_still_goes_through(
    services: Services, browser: FlaskClient, team: PostingTeam
) -> None:
    sign_in(browser, team.editor_token)
    page = browser.get("/dashboard/media").get_data(as_text=True)

    response = browser.post(
        "/dashboard/media/upload",
        data={
            "csrf_token": csrf_token_of(page),
            "file": (io.BytesIO(image("PNG", padding=LIMIT - 200)), "big.png"),
        },
        content_type="multipart/form-data",
        headers={"Accept": BROWSER_ACCEPT},
    )

    assert response.status_code == 302, response.get_data(as_text=True)


def test_the_file_inputs_say_the_limit_and_take_only_what_the_networks_take(
    services: Services, browser: FlaskClient, team: PostingTeam
) -> None:
    sign_in(browser, team.editor_token)
    accept = ",".join(accepted_types(services.networks))

    compose = browser.get("/dashboard/compose").get_data(as_text=True)
    library = browser.get("/dashboard/media").get_data(as_text=True)

    assert f'name="upload" type="file" accept="{accept}" data-max-bytes="{LIMIT}"' in compose
    assert "MP4 or QuickTime), at most 0.5 MB</label>" in compose
    assert 'id="upload-too-large" role="alert" hidden' in compose
    assert f'name="file" type="file" accept="{accept}" data-max-bytes="{LIMIT}"' in library
    assert "at most 0.5 MB</label>" in library
