"""The OpenAPI document and the Swagger UI page, which must work without a CDN."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

V1_PATHS = {
    "/v1/channels",
    "/v1/channels/authorizations",
    "/v1/channels/authorizations/complete",
    "/v1/channels/{channel_id}",
    "/v1/channels/{channel_id}/credentials",
    "/v1/channels/{channel_id}/verify",
    "/v1/posts",
    "/v1/posts/{post_id}",
    "/v1/posts/{post_id}/submit",
    "/v1/posts/{post_id}/approve",
    "/v1/posts/{post_id}/reject",
    "/v1/posts/{post_id}/cancel",
    "/v1/posts/{post_id}/publish-now",
    "/v1/posts/{post_id}/duplicate",
    "/v1/posts/{post_id}/delete-published",
    "/v1/posts/{post_id}/edit-published",
    "/v1/calendar",
    "/v1/members",
    "/v1/members/me",
    "/v1/members/{member_id}",
    "/v1/tokens",
    "/v1/tokens/{token_id}",
    "/v1/sessions",
    "/v1/sessions/{session_id}",
    "/v1/audit",
    "/v1/deliveries",
    "/v1/deliveries/{delivery_id}",
    "/v1/deliveries/{delivery_id}/retry",
    "/v1/deliveries/{delivery_id}/cancel",
    "/v1/deliveries/{delivery_id}/resolve",
    "/v1/deliveries/{delivery_id}/delete-published",
    "/v1/posts/{post_id}/metrics",
    "/v1/posts/{post_id}/metrics/refresh",
    "/v1/networks",
    "/v1/preview",
    "/v1/webhooks",
    "/v1/webhooks/{webhook_id}",
    "/v1/webhooks/{webhook_id}/rotate-secret",
    "/v1/webhooks/{webhook_id}/ping",
    "/v1/webhooks/{webhook_id}/messages",
    "/v1/link-settings",
    "/v1/channels/{channel_id}/link-settings",
    "/v1/deliveries/{delivery_id}/links",
    "/v1/media",
    "/v1/media/{media_id}",
    "/v1/media/{media_id}/content",
    "/v1/imports",
    "/v1/imports/{import_id}",
    "/v1/exports/posts.csv",
    "/v1/exports/calendar.ics",
    "/v1/analytics/series",
    "/v1/analytics/summary",
    "/v1/analytics/posts",
    "/v1/analytics/channels/{channel_id}/series",
    "/v1/analytics/channels/{channel_id}/best-times",
    "/v1/analytics/channels/{channel_id}/snapshots",
    "/v1/analytics/posts/{post_id}/series",
    "/v1/analytics/responses",
    "/v1/inbox",
    "/v1/inbox/unread",
    "/v1/inbox/refresh",
    "/v1/inbox/{item_id}",
    "/v1/inbox/{item_id}/thread",
    "/v1/inbox/{item_id}/notes",
    "/v1/inbox/{item_id}/replies",
    "/v1/inbox/{item_id}/like",
    "/v1/inbox/{item_id}/hide",
    "/v1/streams",
    "/v1/streams/{stream_id}",
}
OPERATION_KEYS = {"get", "post", "put", "patch", "delete"}


def test_the_openapi_document_lists_every_v1_path_behind_the_bearer_scheme(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    spec = json.loads(response.data)
    assert spec["info"]["title"] == "Crier"
    assert {path for path in spec["paths"] if path.startswith("/v1/")} == V1_PATHS
    assert spec["components"]["securitySchemes"]["bearer"]["type"] == "http"
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path in V1_PATHS:
        for method in OPERATION_KEYS & set(spec["paths"][path]):
            operation = spec["paths"][path][method]
            assert operation.get("security", spec["security"]) == [{"bearer": []}], (method, path)


def test_the_health_checks_are_documented_as_public(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json

    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert spec["paths"]["/readyz"]["get"]["security"] == []


def test_errors_are_documented_as_problem_documents(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json

    default_error = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default_error["content"]) == ["application/problem+json"]
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) == {
        "type", "title", "status", "detail", "instance", "errors"
    }  # fmt: skip


def test_the_openapi_version_is_one_the_bundled_swagger_ui_can_render(client: FlaskClient) -> None:
    # swagger_ui_bundle ships Swagger UI 4, which refuses OpenAPI 3.1 documents.
    assert client.get("/openapi.json").json["openapi"].startswith("3.0.")


def test_the_docs_page_loads_only_local_assets_and_they_are_served(client: FlaskClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    html = response.data.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == [
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui-standalone-preset.js",
        "/docs/assets/swagger-ui.css",
    ]
    assert re.search(r'url: "/openapi.json"', html)
    assert "http://" not in html
    assert "https://" not in html
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.data) > 1000, asset
        served.close()


def scheduled_at_examples(node: object) -> list[str]:
    """The examples the document gives for any `scheduled_at` property, wherever it is."""
    found = []
    if isinstance(node, dict):
        example = node.get("properties", {}).get("scheduled_at", {}).get("example")
        if example is not None:
            found.append(example)
        for value in node.values():
            found += scheduled_at_examples(value)
    elif isinstance(node, list):
        for value in node:
            found += scheduled_at_examples(value)
    return found


def test_the_examples_that_schedule_a_post_are_ahead_of_the_reader(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    csv_example = document["paths"]["/v1/imports"]["post"]["requestBody"]["content"]["text/csv"]["example"]
    times = scheduled_at_examples(document) + re.findall(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", csv_example)

    assert times
    a_month_ahead = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=30)
    assert all(datetime.fromisoformat(time) > a_month_ahead for time in times), times
