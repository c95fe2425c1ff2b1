"""/v1/media: upload, list, describe, delete and read back; and posts attaching media by id."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.api.app import create_app
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.networks.registry import NetworkRegistry
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_create_workspace
from tests.api.conftest import ClientAs
from tests.factories import make_channel, make_member_token
from tests.integration.fake_networks import SANDBOX_ENTRY
from tests.media.samples import bluesky_channel, image, video


def send(client: FlaskClient, data: bytes, filename: str = "photo.png", **fields: Any) -> Any:
    """POST /v1/media as a browser's form would, with the content type a client might claim."""
    return client.post(
        "/v1/media",
        data={"file": (io.BytesIO(data), filename, "image/jpeg"), **fields},
        content_type="multipart/form-data",
    )


def uploaded(client: FlaskClient, data: bytes | None = None, **fields: Any) -> dict[str, Any]:
    response = send(client, data if data is not None else image(), **fields)
    assert response.status_code == 201, response.json
    return dict(response.json)


def later() -> str:
    return (utcnow() + timedelta(days=1)).isoformat()


@pytest.fixture
def bluesky(services: Services, workspace: Workspace) -> Channel:
    return bluesky_channel(services, workspace)


def test_an_upload_answers_with_the_asset_its_bytes_describe(workspace_client: FlaskClient) -> None:
    response = send(workspace_client, image("PNG", size=(64, 48)), "team.jpg", alt_text="The whole team")

    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"] == f"/v1/media/{body['id']}"
    assert body["content_type"] == "image/png"  # not the image/jpeg the name and the form part claimed
    assert (body["filename"], body["width"], body["height"]) == ("team.jpg", 64, 48)
    assert (body["size"], body["alt_text"]) == (len(image("PNG", size=(64, 48))), "The whole team")
    assert body["content_url"] == f"/v1/media/{body['id']}/content"


def test_the_content_is_served_as_the_type_it_was_detected_as(workspace_client: FlaskClient) -> None:
    asset = uploaded(workspace_client, image("GIF"), filename="wave.png")

    response = workspace_client.get(asset["content_url"])

    assert response.status_code == 200
    assert response.data == image("GIF")
    assert response.mimetype == "image/gif"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        workspace_client.get(
            asset["content_url"], headers={"If-None-Match": f'"{asset["sha256"]}"'}
        ).status_code
        == 304
    )


def test_a_file_no_network_takes_is_a_422_on_the_file(
    services: Services, workspace_and_token: tuple[Workspace, str]
) -> None:
    # Only the sandbox, which takes no QuickTime video (Instagram does): what is installed may change.
    sandbox_only = Services(
        **{**services.__dict__, "networks": NetworkRegistry(services.settings, entries=[SANDBOX_ENTRY])}
    )
    client = create_app(services=sandbox_only).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {workspace_and_token[1]}"
    response = send(client, video(b"qt  "), "clip.mov")

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    [error] = response.json["errors"]
    assert error["pointer"] == "/file"
    assert "video/quicktime, which no installed network takes" in error["detail"]


def test_an_upload_without_a_file_is_a_422_naming_the_field(workspace_client: FlaskClient) -> None:
    response = workspace_client.post(
        "/v1/media", data={"alt_text": "Nothing"}, content_type="multipart/form-data"
    )

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == ["/file"]


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(
    services: Services, workspace_and_token: tuple[Workspace, str]
) -> None:
    small = Services(
        **{**services.__dict__, "settings": services.settings.model_copy(update={"media_max_bytes": 1000})}
    )
    client = create_app(services=small).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {workspace_and_token[1]}"

    far_over = send(client, image(padding=200_000))
    just_over = send(client, image(padding=1000))

    assert far_over.status_code == 413
    assert far_over.content_type == "application/problem+json"
    assert just_over.status_code == 422
    assert "at most 1,000 bytes" in just_over.json["errors"][0]["detail"]


def test_the_library_lists_newest_first_a_page_at_a_time(workspace_client: FlaskClient) -> None:
    ids = [uploaded(workspace_client, image(size=(n + 1, 1)))["id"] for n in range(3)]

    first = workspace_client.get("/v1/media?limit=2").json
    second = workspace_client.get(f"/v1/media?limit=2&cursor={first['next_cursor']}").json

    assert [item["id"] for item in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


def test_the_alt_text_can_be_changed_and_removed(workspace_client: FlaskClient) -> None:
    asset = uploaded(workspace_client)

    changed = workspace_client.patch(f"/v1/media/{asset['id']}", json={"alt_text": "A dog on a skateboard"})
    removed = workspace_client.patch(f"/v1/media/{asset['id']}", json={"alt_text": None})

    assert changed.status_code == 200
    assert changed.json["alt_text"] == "A dog on a skateboard"
    assert removed.json["alt_text"] is None
    assert workspace_client.get(f"/v1/media/{asset['id']}").json["alt_text"] is None


def test_media_a_scheduled_post_attaches_cannot_be_deleted_until_the_post_is_cancelled(
    workspace_client: FlaskClient, bluesky: Channel
) -> None:
    asset = uploaded(workspace_client)
    post = workspace_client.post(
        "/v1/posts",
        json={
            "text": "Look!",
            "channel_ids": [str(bluesky.id)],
            "media": [asset["id"]],
            "scheduled_at": later(),
        },
    ).json

    refused = workspace_client.delete(f"/v1/media/{asset['id']}")
    assert refused.status_code == 409
    assert post["id"] in refused.json["detail"]

    assert workspace_client.post(f"/v1/posts/{post['id']}/cancel").status_code == 200
    assert workspace_client.delete(f"/v1/media/{asset['id']}").status_code == 204
    assert workspace_client.get(f"/v1/media/{asset['id']}").status_code == 404
    assert workspace_client.get(asset["content_url"]).status_code == 404


def test_another_workspace_s_media_is_not_found(
    app: Flask, services: Services, workspace_client: FlaskClient
) -> None:
    with services.sessions.begin() as session:
        elsewhere = get_or_create_workspace(session, "Somebody else's agency")
    theirs = app.test_client()
    theirs.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_member_token(services, elsewhere, Role.OWNER)}"
    asset = uploaded(theirs)

    assert workspace_client.get(f"/v1/media/{asset['id']}").status_code == 404
    assert workspace_client.get(f"/v1/media/{asset['id']}/content").status_code == 404
    assert (
        workspace_client.patch(f"/v1/media/{asset['id']}", json={"alt_text": "Mine now"}).status_code == 404
    )
    assert workspace_client.delete(f"/v1/media/{asset['id']}").status_code == 404
    assert workspace_client.get("/v1/media").json["items"] == []
    assert workspace_client.get(f"/v1/media/{uuid.uuid4()}").status_code == 404


def test_a_viewer_may_look_but_not_upload(client_as: ClientAs, workspace_client: FlaskClient) -> None:
    asset = uploaded(workspace_client)
    viewer = client_as(Role.VIEWER)

    refused = send(viewer, image())

    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert viewer.get("/v1/media").json["items"][0]["id"] == asset["id"]
    assert viewer.get(asset["content_url"]).status_code == 200
    assert viewer.patch(f"/v1/media/{asset['id']}", json={"alt_text": "No"}).status_code == 403
    assert viewer.delete(f"/v1/media/{asset['id']}").status_code == 403


def test_a_read_only_token_cannot_upload(client_as: ClientAs) -> None:
    assert send(client_as(Role.OWNER, Scope.READ), image()).status_code == 403


def test_a_contributor_may_delete_what_they_uploaded_but_not_another_s(
    client_as: ClientAs, workspace_client: FlaskClient
) -> None:
    contributor = client_as(Role.CONTRIBUTOR)
    theirs, owners = uploaded(contributor), uploaded(workspace_client)

    assert contributor.delete(f"/v1/media/{owners['id']}").status_code == 403
    assert contributor.delete(f"/v1/media/{theirs['id']}").status_code == 204


def test_a_post_shows_its_media_and_each_variant_s_and_keeps_them_through_an_edit(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, bluesky: Channel
) -> None:
    sandbox = make_channel(services, workspace)
    first, second = uploaded(workspace_client, image("PNG")), uploaded(workspace_client, image("JPEG"))
    created = workspace_client.post(
        "/v1/posts",
        json={
            "text": "Two pictures on Bluesky, none on the sandbox",
            "media": [second["id"], first["id"]],
            "channels": [{"channel_id": str(bluesky.id)}, {"channel_id": str(sandbox.id), "media": []}],
            "scheduled_at": later(),
        },
    )
    assert created.status_code == 201, created.json

    edited = workspace_client.patch(
        f"/v1/posts/{created.json['id']}",
        json={"text": "Edited, pictures kept"},
        headers={"If-Match": created.headers["ETag"]},
    )

    assert edited.status_code == 200, edited.json
    for body in (created.json, edited.json):
        assert body["media"] == [second["id"], first["id"]]
        assert [channel["media"] for channel in body["channels"]] == [None, []]


def test_a_post_with_more_than_bluesky_takes_points_at_the_list(
    workspace_client: FlaskClient, bluesky: Channel
) -> None:
    ids = [uploaded(workspace_client, image(size=(n + 1, 1)))["id"] for n in range(5)]

    response = workspace_client.post(
        "/v1/posts",
        json={"text": "Too many", "channels": [{"channel_id": str(bluesky.id), "media": ids}]},
    )

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"pointer": "/channels/0/media", "detail": "Bluesky (bluesky): 5 attached; Bluesky takes at most 4."}
    ]


def test_the_upload_is_documented_as_one_multipart_body(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").json["paths"]["/v1/media"]["post"]

    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    properties = client.get("/openapi.json").json["components"]["schemas"][body["$ref"].split("/")[-1]][
        "properties"
    ]
    assert properties["file"] == {
        "type": "string",
        "format": "binary",
        "description": properties["file"]["description"],
    }
    assert "alt_text" in properties
