"""Every error is an RFC 9457 problem document, whoever raised it."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient


def test_an_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again.",
        "instance": "/nowhere",
    }


def test_an_unknown_v1_route_is_a_404_problem_for_an_authenticated_caller(
    workspace_client: FlaskClient,
) -> None:
    response = workspace_client.get("/v1/nowhere")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json["title"] == "Not Found"


def test_a_wrong_method_is_a_405_problem_that_lists_the_allowed_ones(workspace_client: FlaskClient) -> None:
    response = workspace_client.delete("/v1/channels")

    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert response.json == {
        "type": "about:blank",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": "The method is not allowed for the requested URL.",
        "instance": "/v1/channels",
    }


def test_a_body_that_is_not_json_is_a_400_problem(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/posts", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == [{"pointer": "", "detail": "Invalid JSON body."}]


def test_a_body_that_is_not_an_object_points_at_the_whole_document(workspace_client: FlaskClient) -> None:
    response = workspace_client.post("/v1/posts", json=["text"])

    assert response.status_code == 422
    assert response.json["errors"] == [{"pointer": "", "detail": "Invalid input type."}]


def test_an_unknown_body_field_is_named_by_its_pointer(workspace_client: FlaskClient) -> None:
    response = workspace_client.post(
        "/v1/channels", json={"network": "sandbox", "name": "S", "handle": "s", "colour": "red"}
    )

    assert response.status_code == 422
    assert response.json["errors"] == [{"pointer": "/colour", "detail": "Unknown field."}]


def test_an_unexpected_exception_is_a_500_problem_without_internals_and_is_logged(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def explode() -> str:
        raise RuntimeError("secret database password is hunter2")

    app.add_url_rule("/explode", view_func=explode)

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/explode")

    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application.",
        "instance": "/explode",
    }
    [record] = [record for record in caplog.records if record.exc_info]
    assert record.levelno == logging.ERROR
    assert isinstance(record.exc_info[1], RuntimeError)  # type: ignore[index]


def test_a_nul_character_anywhere_in_a_request_is_a_422_naming_its_field(
    workspace_client: FlaskClient,
) -> None:
    response = workspace_client.post(
        "/v1/posts", json={"text": "ok", "channel_ids": ["x"], "labels": ["fine", "bad\u0000label"]}
    )

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"pointer": "/labels/1", "detail": "Text may not contain NUL (U+0000) characters."}
    ]
