"""GET /v1/networks."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_the_installed_networks_are_listed_with_what_each_allows(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/networks")

    assert response.status_code == 200
    assert response.json == {
        "items": [
            {
                "name": "sandbox",
                "display_name": "Sandbox",
                "text_limit": 500,
                "metrics": ["likes", "reposts", "replies", "quotes", "views"],
            }
        ]
    }
