"""No input answers 500: the shapes an attacker sends first, to each operation, on both databases.

First each shape where it used to hurt, with the answer it gets now; then a property-based test that sends
every shape, at random places, to every operation in the OpenAPI document and asserts a problem document
below 500 (schemathesis, in test_openapi_fuzzing, sends what the document describes; this sends what it
does not).
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.text_input import MAX_JSON_DEPTH
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.posts.models import Post
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post
from tests.media.samples import image


def cursor_of(value: Any) -> str:
    """A cursor as this API writes them (JSON in URL-safe base64), holding anything."""
    raw = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def json_body(client: FlaskClient, path: str, text: str, method: str = "POST") -> Any:
    return client.open(path, method=method, data=text, content_type="application/json")


@pytest.fixture
def channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(services, workspace)


@pytest.fixture
def post(services: Services, workspace: Workspace, channel: Channel) -> Post:
    return make_post(services, workspace, [channel])


def assert_problem(response: Any, status: int, pointer: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.content_type == "application/problem+json"
    if pointer is not None:
        assert pointer in [error.get("pointer") for error in response.json.get("errors", [])], response.json


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        # Shallow enough for the parser, too deep for a request: every walk over it would recurse.
        '{"text": ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "}",
    ],
    ids=["arrays", "objects", "just-too-deep"],
)
def test_deeply_nested_json_is_a_400(workspace_client: FlaskClient, body: str) -> None:
    response = json_body(workspace_client, "/v1/posts", body)

    assert_problem(response, 400, "")
    assert f"deeper than {MAX_JSON_DEPTH} levels" in response.json["errors"][0]["detail"]


def test_a_lone_surrogate_is_a_422_at_its_field(workspace_client: FlaskClient, channel: Channel) -> None:
    ids = f'"channel_ids": ["{channel.id}"]'
    text = json_body(workspace_client, "/v1/posts", '{"text": "hi \\ud800", ' + ids + "}")
    label = json_body(
        workspace_client,
        "/v1/posts",
        '{"text": "hi", "labels": ["ok", "\\udc00"], "draft": true, ' + ids + "}",
    )
    key = json_body(workspace_client, "/v1/preview", '{"text": "hi", "\\ud83d": 1, "channel_ids": []}')

    assert_problem(text, 422, "/text")
    assert "lone surrogate" in text.json["errors"][0]["detail"]
    assert_problem(label, 422, "/labels/1")
    assert_problem(key, 422, "/\ufffd")


def test_a_surrogate_pair_is_a_character_and_is_kept(workspace_client: FlaskClient, channel: Channel) -> None:
    response = json_body(
        workspace_client,
        "/v1/posts",
        '{"text": "hi \\ud83d\\udc4b", "draft": true, "channel_ids": ["' + str(channel.id) + '"]}',
    )

    assert response.status_code == 201, response.json
    assert response.json["text"] == "hi 👋"


@pytest.mark.parametrize(
    ("literal", "status"),
    [
        ("9" * 5000, 422),
        (str(2**63), 422),
        (str(-(2**63) - 1), 422),
        ("1e400", 422),
        ("-1e400", 422),
        ("NaN", 400),
        ("Infinity", 400),
        ("-Infinity", 400),
    ],
    ids=["5000-digits", "2^63", "-2^63-1", "1e400", "-1e400", "NaN", "Infinity", "-Infinity"],
)
def test_a_number_no_column_holds_is_refused_at_its_field(
    workspace_client: FlaskClient, channel: Channel, literal: str, status: int
) -> None:
    response = json_body(
        workspace_client,
        "/v1/channels",
        '{"network": "sandbox", "name": "S", "handle": "s", "settings": {"latency_ms": ' + literal + "}}",
    )

    assert_problem(response, status, "/settings/latency_ms" if status == 422 else "")


def test_settings_out_of_range_are_a_422_naming_the_setting(workspace_client: FlaskClient) -> None:
    slow = workspace_client.post(
        "/v1/channels",
        json={"network": "sandbox", "name": "S", "handle": "s", "settings": {"latency_ms": 2**63 - 1}},
    )
    tiny = workspace_client.post(
        "/v1/channels",
        json={"network": "sandbox", "name": "S", "handle": "s", "settings": {"failure_rate": 1e-320}},
    )

    assert_problem(slow, 422, "/settings")
    assert "latency_ms must be between 0 and 60,000" in slow.json["errors"][0]["detail"]
    assert tiny.status_code == 201, tiny.json


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("[" * 100_000),
        cursor_of(["0001-01-01T00:00:00+05:00", str(uuid.uuid4())]),
        cursor_of(["9999-12-31T23:59:59-05:00", str(uuid.uuid4())]),
        cursor_of(["2026-01-01T00:00:00", str(uuid.uuid4())]),
        cursor_of({"at": 1, "id": 2}),
        cursor_of([2**70, str(uuid.uuid4())]),
        cursor_of("\ud800".encode("utf-8", "surrogatepass").decode("latin-1")),
        "%%%",
        "A" * 4000,
    ],
    ids=["nested", "year-1", "year-9999", "naive", "object", "huge-rank", "surrogate", "not-base64", "long"],
)
@pytest.mark.parametrize("path", ["/v1/posts", "/v1/media", "/v1/audit", "/v1/analytics/posts"])
def test_a_forged_cursor_is_a_422_on_the_cursor(
    workspace_client: FlaskClient, cursor: str, path: str
) -> None:
    response = workspace_client.get(f"{path}?cursor={quote(cursor)}")

    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.content_type == "application/problem+json"
    assert [error.get("parameter") for error in response.json["errors"]] == ["cursor"]


@pytest.mark.parametrize(
    "part_header",
    [
        b'Content-Disposition: form-data; name="file"; filename="a\r\nSet-Cookie: crier=1.png"',
        b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20x.png",
        b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''nul%00and%ED%A0%80.png",
        b'Content-Disposition: form-data; name="file"',
    ],
    ids=["raw-crlf", "encoded-crlf", "nul-and-surrogate", "no-filename"],
)
def test_a_filename_with_cr_lf_never_reaches_a_header(
    workspace_client: FlaskClient, part_header: bytes
) -> None:
    body = b"--b\r\n" + part_header + b"\r\nContent-Type: image/png\r\n\r\n" + image() + b"\r\n--b--\r\n"
    uploaded = workspace_client.post("/v1/media", data=body, content_type="multipart/form-data; boundary=b")

    assert uploaded.status_code in (201, 400, 422), uploaded.get_data(as_text=True)[:300]
    assert uploaded.content_type in ("application/json", "application/problem+json")
    if uploaded.status_code == 201:
        assert not re.search(r"[\x00-\x1f\ud800-\udfff]", uploaded.json["filename"])
        content = workspace_client.get(f"/v1/media/{uploaded.json['id']}/content")
        assert content.status_code == 200
        assert "Set-Cookie" not in content.headers
        assert "\n" not in content.headers["Content-Disposition"]


def test_a_plain_field_where_the_file_goes_is_a_422_on_the_file(workspace_client: FlaskClient) -> None:
    response = workspace_client.post(
        "/v1/media", data={"file": "not a file"}, content_type="multipart/form-data"
    )

    assert_problem(response, 422, "/file")


def test_a_filename_stored_before_names_were_cleaned_is_served_without_breaking_the_header(
    workspace_client: FlaskClient, services: Services
) -> None:
    from shared.media.models import MediaAsset

    uploaded = workspace_client.post(
        "/v1/media", data={"file": (io.BytesIO(image()), "ok.png")}, content_type="multipart/form-data"
    )
    with services.sessions.begin() as session:
        session.get_one(MediaAsset, uuid.UUID(uploaded.json["id"])).filename = "old\r\nSet-Cookie: x=1.png"

    content = workspace_client.get(f"/v1/media/{uploaded.json['id']}/content")

    assert content.status_code == 200
    assert "Set-Cookie" not in content.headers


def test_an_import_with_hostile_json_is_a_422_not_a_500(workspace_client: FlaskClient) -> None:
    for document in (
        '[{"text": "\\ud800", "channels": "S"}]',
        '[{"text": "ok", "channels": "S", "draft": ' + "9" * 5000 + "}]",
        '[{"text": "ok", "channels": "S", "draft": NaN}]',
        "[" * 5000 + "]" * 5000,
    ):
        as_file = workspace_client.post(
            "/v1/imports",
            data={"file": (io.BytesIO(document.encode()), "posts.json", "application/json")},
            content_type="multipart/form-data",
        )
        as_body = json_body(workspace_client, "/v1/imports", document)

        assert as_file.status_code == 422, (document[:40], as_file.json)
        assert as_body.status_code in (400, 422), (document[:40], as_body.json)


# The property-based test: hostile values, for every operation of the document.

HOSTILE_LITERALS = [
    '"\\ud800"',
    '"ok\\udfff"',
    '"\\u0000"',
    "9" * 5000,
    "-" + "9" * 5000,
    str(2**63),
    str(2**63 - 1),
    str(-(2**63)),
    "1e400",
    "1e308",
    "-1e308",
    "4.9e-324",
    "NaN",
    "Infinity",
    '"' + "x" * 200_000 + '"',
    '"0001-01-01T00:00:00+14:00"',
    '"9999-12-31T23:59:59-14:00"',
    '"../../../etc/passwd"',
    '"a\\r\\nSet-Cookie: x=1"',
    "[" * 40 + "]" * 40,
    "{}",
    "[]",
    "null",
    "true",
]
HOSTILE_QUERY_VALUES = [
    "%ED%A0%80",
    "%FF%FE",
    "%00",
    "9" * 5000,
    "-" + "9" * 5000,
    str(2**63),
    "1e400",
    "NaN",
    "-Infinity",
    "0001-01-01T00:00:00%2B14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01",
    "9999-12-31",
    quote(cursor_of("[" * 5000)),
    quote(cursor_of(["0001-01-01T00:00:00+05:00", str(uuid.uuid4())])),
    quote(cursor_of([2**70, str(uuid.uuid4())])),
    "..%2F..%2Fetc%2Fpasswd",
    "a%0D%0ASet-Cookie:%20x",
    "x" * 4000,
]
HOSTILE_PATH_VALUES = ["%ED%A0%80", "%00", "9" * 5000, str(uuid.UUID(int=0)), "..", "a%0D%0Ab"]


def _operations(app: Flask) -> list[tuple[str, str, dict[str, Any]]]:
    document = app.test_client().get("/openapi.json").json
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _body_fields(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {})) or ["text"]


@st.composite
def hostile_json(draw: st.DrawFn, fields: list[str]) -> str:
    """An object with a hostile literal at one field, perhaps nested one or two levels down."""
    literal = draw(st.sampled_from(HOSTILE_LITERALS))
    nesting = draw(st.sampled_from(["{}", "[{}]", '{"x": {}}', "[[{}]]"]))
    value = nesting.replace("{}", literal) if nesting != "{}" else literal
    if draw(st.booleans()):
        return "[" * 3000 + "]" * 3000 if draw(st.booleans()) else '{"a":' * 3000 + "1" + "}" * 3000
    return "{" + json.dumps(draw(st.sampled_from(fields))) + ": " + value + "}"


HOSTILE_SETTINGS = settings(
    max_examples=12, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def test_no_hostile_input_to_any_operation_gets_a_5xx(
    app: Flask, workspace_client: FlaskClient, channel: Channel, post: Post
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    document = app.test_client().get("/openapi.json").json
    known = {"post_id": str(post.id), "channel_id": str(channel.id)}
    failures: dict[str, str] = {}
    for method, template, operation in _operations(app):
        try:
            _send_hostile_requests(workspace_client, method, template, operation, document, known)
        except AssertionError as failure:
            failures[f"{method} {template}"] = str(failure)[:1500]
    assert not failures, "\n\n".join(f"{label}:\n{detail}" for label, detail in failures.items())


def _send_hostile_requests(
    client: FlaskClient,
    method: str,
    template: str,
    operation: dict[str, Any],
    document: dict[str, Any],
    known: dict[str, str],
) -> None:
    """Hypothesis's examples of hostile requests to one operation; AssertionError at the first 5xx."""
    query = [parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"]
    in_path = re.findall(r"{(\w+)}", template)
    fields = _body_fields(document, operation)
    takes_json = "application/json" in operation.get("requestBody", {}).get("content", {})

    @HOSTILE_SETTINGS
    @given(data=st.data())
    def call(data: st.DataObject) -> None:
        path = template
        for name in in_path:
            value = known.get(name, str(uuid.uuid4()))
            if data.draw(st.booleans(), label=f"hostile {name}"):
                value = data.draw(st.sampled_from(HOSTILE_PATH_VALUES))
            path = path.replace("{" + name + "}", value)
        if query:
            hostile = data.draw(st.lists(st.sampled_from(query), min_size=1, max_size=3, unique=True))
            path += "?" + "&".join(
                f"{name}={data.draw(st.sampled_from(HOSTILE_QUERY_VALUES))}" for name in hostile
            )
        body = data.draw(hostile_json(fields)) if takes_json or not query else None
        response = client.open(
            path, method=method, data=body, content_type="application/json" if body else None
        )
        assert response.status_code < 500, (
            f"{method} {path[:200]} {(body or '')[:200]!r}: {response.get_data(as_text=True)[:300]}"
        )
        # The pages outside /v1 (the OAuth callback's) answer a browser in HTML.
        if response.status_code >= 400 and template.startswith("/v1/"):
            assert response.content_type == "application/problem+json"

    call()
