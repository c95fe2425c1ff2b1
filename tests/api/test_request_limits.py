"""A request body is bounded before anything reads it: an attacker's large body costs a 413, not memory."""

from __future__ import annotations

import io
import socket
import time
import tracemalloc
import uuid

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import UUIDConverter
from werkzeug.test import TestResponse

from services.api.app import create_app
from services.api.request_limits import MULTIPART_OVERHEAD_BYTES
from shared.bootstrap import Services
from shared.bulk.reading import MAX_BYTES as IMPORT_MAX_BYTES
from shared.channels.models import Channel
from shared.channels.services import connect_channel
from shared.posts.lengths import MAX_TEXT_CHARACTERS
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from tests.api.conftest import ClientAs, ServeApi, resident_kib
from tests.factories import make_member_token

MIB = 1024 * 1024
ATTACK_BYTES = 28 * MIB
JSON_OPENING = b'{"text": "'


# Where an "endless" body ends all the same, so that a server that reads it whole fails the test rather
# than filling the machine's memory.
ENDLESS_BYTES = 64 * MIB


class EndlessBody(io.RawIOBase):
    """A JSON body made as it is read (`size` bytes, or endless), which counts how much was read."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size
        self.read_bytes = 0
        self._ends_at = size if size is not None else ENDLESS_BYTES

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._ends_at - self.read_bytes)
        opening = JSON_OPENING[self.read_bytes : self.read_bytes + wanted]
        chunk = opening + b"x" * (wanted - len(opening))
        buffer[:wanted] = chunk
        self.read_bytes += len(chunk)
        return len(chunk)


def send(
    client: FlaskClient, method: str, path: str, body: EndlessBody, environ: dict[str, object] | None = None
) -> TestResponse:
    """Send `body` as it is, as a WSGI server hands it over: read only if the app reads it."""
    length = {"CONTENT_LENGTH": str(body.size)} if body.size is not None else {}
    return client.open(
        path,
        method=method,
        content_type="application/json",
        environ_overrides={"wsgi.input": body, **length, **(environ or {})},
    )


@pytest.fixture
def reader(client_as: ClientAs) -> FlaskClient:
    """A client with a viewer's read-only token: the least an attacker needs."""
    return client_as(Role.VIEWER, Scope.READ)


def every_route(app: Flask) -> list[tuple[str, str]]:
    """Each route's methods and path, with its variables filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        values = {
            name: str(uuid.uuid4()) if isinstance(rule._converters.get(name), UUIDConverter) else "x"
            for name in rule.arguments
        }
        path = rule.build(values, append_unknown=False)[1]  # type: ignore[index]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_a_28_mb_body_is_refused_on_every_route_without_a_byte_of_it_read(
    app: Flask, reader: FlaskClient
) -> None:
    outcomes = {}
    for method, path in every_route(app):
        body = EndlessBody(ATTACK_BYTES)
        response = send(reader, method, path, body)
        outcomes[f"{method} {path}"] = (response.status_code, body.read_bytes, response.content_type)

    assert len(outcomes) > 50
    assert {
        route: outcome
        for route, outcome in outcomes.items()
        if outcome != (413, 0, "application/problem+json")
    } == {}


def test_an_upload_may_be_larger_but_not_from_a_read_only_token_nor_is_it_read(reader: FlaskClient) -> None:
    body = EndlessBody(ATTACK_BYTES)

    response = send(reader, "POST", "/v1/media", body, {"CONTENT_TYPE": "multipart/form-data; boundary=b"})

    assert (response.status_code, body.read_bytes) == (403, 0)


def test_the_413_says_how_large_a_body_the_route_takes(reader: FlaskClient) -> None:
    response = send(reader, "POST", "/v1/posts", EndlessBody(ATTACK_BYTES))

    assert response.status_code == 413
    assert response.json["detail"] == (
        f"The body is {ATTACK_BYTES:,} bytes; POST /v1/posts takes at most {MIB:,}."
    )


def test_a_chunked_body_without_a_length_is_cut_at_the_limit_with_memory_kept_flat(
    reader: FlaskClient,
) -> None:
    body = EndlessBody()
    tracemalloc.start()
    try:
        # What gunicorn says of a chunked body it reads: the stream ends where the body does.
        chunked = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""}
        response = send(reader, "POST", "/v1/posts", body, chunked)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert not response.request.environ["CONTENT_LENGTH"]
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert MIB <= body.read_bytes <= MIB + 64 * 1024
    assert peak < 8 * MIB


def test_the_limit_is_a_setting(services: Services, workspace: Workspace) -> None:
    small = Services(
        **{**services.__dict__, "settings": services.settings.model_copy(update={"request_max_bytes": 100})}
    )
    client = create_app(services=small).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_member_token(services, workspace, Role.OWNER)}"

    assert client.post("/v1/preview", json={"text": "x" * 100, "channel_ids": []}).status_code == 413
    assert client.post("/v1/preview", json={"text": "x", "channel_ids": []}).status_code != 413


def test_uploads_and_imports_keep_their_own_larger_limits(workspace_client: FlaskClient) -> None:
    two_mib_csv = b"text,channels\n" + b"x" * (2 * MIB) + b",Nowhere\n"
    imported = workspace_client.post("/v1/imports", data=two_mib_csv, content_type="text/csv")
    over_import = send(
        workspace_client, "POST", "/v1/imports", EndlessBody(IMPORT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES + 1)
    )
    uploaded = workspace_client.post(
        "/v1/media",
        data={"file": (io.BytesIO(b"\x00" * (2 * MIB)), "big.bin")},
        content_type="multipart/form-data",
    )

    # Read and judged on their contents: no channel is called Nowhere, no network takes zeros.
    assert imported.status_code == 422, imported.json
    assert uploaded.status_code == 422, uploaded.json
    assert over_import.status_code == 413


def test_under_gunicorn_a_28_mb_body_from_a_read_only_token_is_refused_fast_and_memory_stays_flat(
    serve_api: ServeApi, services: Services, workspace: Workspace
) -> None:
    served = serve_api()
    token = make_member_token(services, workspace, Role.VIEWER, Scope.READ)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=30) as api:
        for _ in range(5):  # the worker's code and connections are loaded before it is measured
            assert api.get("/v1/posts").status_code == 200
        [worker] = served.worker_pids()
        before = resident_kib(worker)

        began = time.monotonic()
        sizes = []
        for _ in range(3):
            response = api.post("/v1/posts", content=b'{"text": "' + b"x" * ATTACK_BYTES + b'"}')
            sizes.append(response.status_code)
        took = time.monotonic() - began
        after = resident_kib(worker)

    assert sizes == [413, 413, 413]
    assert response.headers["Content-Type"] == "application/problem+json"
    # Parsing the body would take hundreds of MB (1 GB was measured before the limit); reading it, 28.
    assert after - before < 16 * 1024, f"the worker grew from {before} KiB to {after} KiB"
    assert took < 15, f"three refusals took {took:.1f} s"


def test_under_gunicorn_an_endless_chunked_body_is_cut_and_answered_413(
    serve_api: ServeApi, services: Services, workspace: Workspace
) -> None:
    served = serve_api()
    token = make_member_token(services, workspace, Role.VIEWER, Scope.READ)
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection((served.host, served.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/posts HTTP/1.1\r\nHost: crier\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + b'a\r\n{"text": "\r\n'
        )
        connection.setblocking(False)
        answer = b""
        deadline = time.monotonic() + 20
        # Keep sending (up to 64 MiB) until the server answers: it must not wait for the end of the body.
        while time.monotonic() < deadline and sent < 64 * MIB and b"\r\n\r\n" not in answer:
            try:
                answer += connection.recv(65536)
            except BlockingIOError:
                pass
            except ConnectionError:
                break
            try:
                sent += connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except BlockingIOError:
                time.sleep(0.01)
            except ConnectionError:
                break
        connection.setblocking(True)
        connection.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = connection.recv(65536)
            if not more:
                break
            answer += more

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"application/problem+json" in answer
    # The server stopped at the limit; what the socket buffers took before it answered is all that was sent.
    assert sent < 32 * MIB, f"{sent:,} bytes went out before the server answered"


@pytest.fixture
def unlimited_channel(services: Services, workspace: Workspace) -> Channel:
    """A channel on a network without a text limit of its own: the generic webhook."""
    with services.sessions.begin() as session:
        return connect_channel(
            session,
            services.networks,
            workspace.id,
            network="webhook",
            name="Our site",
            handle="site",
            settings={"url": "https://example.invalid/hook"},
            credentials={"secret": "s" * 32},
            cipher=services.credentials,
        )


LONGEST = "x" * MAX_TEXT_CHARACTERS
TOO_LONG = LONGEST + "x"


def test_a_text_a_network_without_limits_would_take_is_bounded_by_crier(
    workspace_client: FlaskClient, unlimited_channel: Channel
) -> None:
    channel_id = str(unlimited_channel.id)
    longest = workspace_client.post(
        "/v1/posts", json={"text": LONGEST, "channel_ids": [channel_id], "draft": True}
    )
    too_long = workspace_client.post(
        "/v1/posts",
        json={
            "text": "ok",
            "thread": ["fine", TOO_LONG],
            "channels": [{"channel_id": channel_id, "text": TOO_LONG, "thread": [TOO_LONG]}],
            "draft": True,
        },
    )

    assert longest.status_code == 201, longest.json
    assert too_long.status_code == 422
    assert sorted(error["pointer"] for error in too_long.json["errors"]) == [
        "/channels/0/text",
        "/channels/0/thread/0",
        "/thread/1",
    ]


def test_a_variant_s_options_are_bounded_too(
    workspace_client: FlaskClient, unlimited_channel: Channel
) -> None:
    response = workspace_client.post(
        "/v1/posts",
        json={
            "text": "ok",
            "channels": [{"channel_id": str(unlimited_channel.id), "options": {"content/warning": TOO_LONG}}],
            "draft": True,
        },
    )

    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "pointer": "/channels/0/options/content~1warning",
            "detail": f"The text is {MAX_TEXT_CHARACTERS + 1:,} characters; Crier takes at most "
            f"{MAX_TEXT_CHARACTERS:,}.",
        }
    ]


def test_a_preview_and_an_import_are_bounded_as_a_post_is(
    workspace_client: FlaskClient, unlimited_channel: Channel
) -> None:
    preview = workspace_client.post(
        "/v1/preview", json={"text": "ok", "thread": [TOO_LONG], "channel_ids": [str(unlimited_channel.id)]}
    )
    imported = workspace_client.post(
        "/v1/imports", json=[{"text": TOO_LONG, "channels": "Our site", "draft": "true"}]
    )

    assert preview.status_code == 422
    assert [error["pointer"] for error in preview.json["errors"]] == ["/thread/0"]
    assert imported.status_code == 422
    assert [error["pointer"] for error in imported.json["errors"]] == ["/rows/1/text"]


def test_the_bound_is_in_the_openapi_document(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").json["components"]["schemas"]

    assert schemas["PostWrite"]["properties"]["text"]["maxLength"] == MAX_TEXT_CHARACTERS
    assert schemas["PostWrite"]["properties"]["thread"]["items"]["maxLength"] == MAX_TEXT_CHARACTERS
    assert schemas["Target"]["properties"]["text"]["maxLength"] == MAX_TEXT_CHARACTERS
