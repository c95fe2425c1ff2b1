"""Every /v1 answer is kept by no cache and read as what it says it is; /docs cannot be framed."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_request_limits import every_route
from tests.media.samples import image

PRIVATE = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def headers_of(response: object) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in PRIVATE}  # type: ignore[attr-defined]


def test_every_v1_answer_is_private_whatever_its_status(app: Flask, workspace_client: FlaskClient) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answers = {}
    for method, path in every_route(app):
        if path.startswith("/v1/"):
            response = workspace_client.open(path, method=method, json={})
            answers[f"{method} {path} ({response.status_code})"] = headers_of(response)
    answers["no token"] = headers_of(app.test_client().get("/v1/posts"))
    answers["too large"] = headers_of(
        workspace_client.post("/v1/posts", data="x" * (2 * 1024 * 1024), content_type="application/json")
    )

    assert len(answers) > 50
    assert {route: found for route, found in answers.items() if found != PRIVATE} == {}


def test_a_media_file_is_private_too(workspace_client: FlaskClient) -> None:
    uploaded = workspace_client.post(
        "/v1/media", data={"file": (io.BytesIO(image()), "a.png")}, content_type="multipart/form-data"
    )

    content = workspace_client.get(f"/v1/media/{uploaded.json['id']}/content")

    assert content.status_code == 200
    assert headers_of(content) == PRIVATE


def test_an_unexpected_error_is_private_too(app: Flask, workspace_client: FlaskClient) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/v1/explode", view_func=explode)

    response = workspace_client.get("/v1/explode")

    assert response.status_code == 500
    assert headers_of(response) == PRIVATE


def test_the_docs_page_has_a_policy_and_cannot_be_framed(client: FlaskClient) -> None:
    response = client.get("/docs")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"].startswith("'self' 'sha256-")
    assert "unsafe-inline" not in policy["script-src"]
    assert "unsafe-eval" not in policy["script-src"]
