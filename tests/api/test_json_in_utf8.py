"""JSON answers carry text in UTF-8 as it is, never as \\u escapes a person cannot read."""

from __future__ import annotations

from flask.testing import FlaskClient

from shared.channels.models import Channel

HELLO = "Hello 👋 — ça va ?"


def test_a_post_comes_back_with_its_text_as_utf8_bytes(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    response = workspace_client.post("/v1/posts", json={"text": HELLO, "channel_ids": [str(channel.id)]})

    assert response.status_code == 201
    assert HELLO.encode() in response.data
    assert b"\\u" not in response.data
    assert response.json["text"] == HELLO


def test_a_problem_document_keeps_the_text_it_quotes(workspace_client: FlaskClient, channel: Channel) -> None:
    response = workspace_client.post(
        "/v1/posts",
        json={
            "text": HELLO,
            "channel_ids": [str(channel.id)],
            "scheduled_at": "2030-05-01T09:00",
            "timezone": "Europe/Zürich",
        },
    )

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "Europe/Zürich".encode() in response.data
    assert b"\\u" not in response.data


def test_the_openapi_document_is_utf8_too(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert b"\\u" not in response.data
    assert any(byte >= 0x80 for byte in response.data), "the document has no text beyond ASCII to check"
