"""The compose page's media without a browser: a file uploaded with the form and attached to the post, a
library asset chosen by its checkbox, a warning beside a chosen asset without alt text, and a type the
channels' network refuses named beside the media."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.media.models import MediaAsset
from shared.posts.models import Post
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.dashboard.test_compose_forms import channel_ids, compose_form, error_beside, post_of, posts_count
from tests.media.samples import image, upload, video


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def send_with_file(client: FlaskClient, data: bytes, filename: str, **fields: Any) -> Any:
    """The compose form sent as a browser sends it with a file chosen: multipart/form-data."""
    form = compose_form(client, upload=(io.BytesIO(data), filename, "application/octet-stream"), **fields)
    return client.post("/dashboard/compose", data=form, content_type="multipart/form-data")


def attached(post: Post) -> list[str]:
    """The post's media ids, as the API's `media` lists them."""
    return [str(media_id) for media_id in post.media]


def assets_count(services: Services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(MediaAsset)) or 0


def test_a_file_uploaded_with_the_form_is_attached_to_the_scheduled_post(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send_with_file(
        client,
        image("PNG", size=(8, 6)),
        "stage.png",
        text="The stage is ready.",
        channel=channel_ids(team),
        upload_alt="An empty stage under blue lights.",
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    post = post_of(services, response.headers["Location"])
    with services.sessions() as session:
        [asset] = session.scalars(select(MediaAsset)).all()
    assert attached(post) == [str(asset.id)]
    assert (asset.filename, asset.content_type, asset.alt_text) == (
        "stage.png",
        "image/png",
        "An empty stage under blue lights.",
    )
    assert "Without alt text" not in client.get(response.headers["Location"]).get_data(as_text=True)


def test_library_assets_are_offered_with_their_alt_text_and_chosen_ones_attached_in_order(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    first = upload(services, team.workspace, image("PNG"), "poster.png", alt_text="The festival poster")
    second = upload(services, team.workspace, video(), "teaser.mp4", alt_text="A ten-second teaser")
    sign_in(client, team.editor_token)

    page = client.get("/dashboard/compose").get_data(as_text=True)
    assert f'id="media-{first.id}" name="media" value="{first.id}"' in page
    assert "Alt text: The festival poster" in page
    assert 'teaser.mp4 <span class="quiet">(video/mp4,' in page
    assert f"/dashboard/compose/media/{first.id}" in page, "an image is shown small"
    assert f"/dashboard/compose/media/{second.id}" not in page, "a video is named, not shown"

    response = client.post(
        "/dashboard/compose",
        data=compose_form(
            client, text="Tickets out now.", channel=channel_ids(team), media=[str(second.id), str(first.id)]
        ),
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    assert attached(post_of(services, response.headers["Location"])) == [str(second.id), str(first.id)]


def test_the_thumbnail_is_the_images_bytes_for_this_workspace_only(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    other = seed_posting_team(services, "Quay Books")
    mine = upload(services, team.workspace, image("PNG"), "poster.png")
    theirs = upload(services, other.workspace, image("GIF"), "theirs.gif")
    sign_in(client, team.viewer_token)

    shown = client.get(f"/dashboard/compose/media/{mine.id}")
    refused = client.get(f"/dashboard/compose/media/{theirs.id}")

    assert shown.status_code == 200
    assert (shown.data, shown.mimetype) == (image("PNG"), "image/png")
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert refused.status_code == 404
    assert refused.data != image("GIF")


def test_a_chosen_asset_without_alt_text_is_warned_about_and_the_post_still_scheduled(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    described = upload(services, team.workspace, image("PNG"), "poster.png", alt_text="The festival poster")
    bare = upload(services, team.workspace, image("JPEG"), "crowd.jpg")
    sign_in(client, team.editor_token)
    chosen = {
        "text": "See you there.",
        "channel": channel_ids(team),
        "media": [str(described.id), str(bare.id)],
    }

    checked = client.post("/dashboard/compose", data=compose_form(client, action="check", **chosen))

    page = checked.get_data(as_text=True)
    assert checked.status_code == 200
    warning = re.search(rf'<p class="warning" id="media-{bare.id}-warning"[^>]*>([^<]*)</p>', page)
    assert warning is not None, "no warning beside the asset without alt text"
    assert "No alt text" in warning.group(1)
    assert f'aria-describedby="media-{bare.id}-warning"' in page
    assert f"media-{described.id}-warning" not in page, "a described asset is not warned about"
    assert f'value="{bare.id}" checked' in page
    assert f'value="{described.id}" checked' in page

    scheduled = client.post("/dashboard/compose", data=compose_form(client, **chosen))

    assert scheduled.status_code == 302, scheduled.get_data(as_text=True)
    assert attached(post_of(services, scheduled.headers["Location"])) == [str(described.id), str(bare.id)]
    post_page = client.get(scheduled.headers["Location"]).get_data(as_text=True)
    assert "Without alt text: crowd.jpg." in post_page


def test_an_upload_with_the_upload_button_is_kept_and_chosen_without_a_post(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send_with_file(
        client, image("PNG"), "flyer.png", action="upload", text="Draft words", channel=channel_ids(team)
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    with services.sessions() as session:
        [asset] = session.scalars(select(MediaAsset)).all()
    assert f'value="{asset.id}" checked' in page
    assert f'data-test="no-alt-{asset.id}"' in page, "uploaded without alt text: warned"
    assert "Draft words" in page
    assert posts_count(services) == 0


def test_a_type_the_channels_network_refuses_is_named_beside_the_media_and_nothing_is_posted(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send_with_file(
        client, video(b"qt  "), "clip.mov", text="Watch this.", channel=channel_ids(team), upload_alt="A clip"
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    said = error_beside(page, "media")
    assert "clip.mov is video/quicktime; Sandbox takes" in said, said
    assert 'aria-describedby="media-error"' in page
    with services.sessions() as session:
        [asset] = session.scalars(select(MediaAsset)).all()
    assert f'value="{asset.id}" checked' in page, "the upload is kept and still chosen"
    assert "Watch this." in page
    assert posts_count(services) == 0


def test_a_file_no_network_takes_is_refused_beside_the_upload_field(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send_with_file(
        client, b"just some words, not a picture", "notes.png", text="Read this.", channel=channel_ids(team)
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Crier cannot tell what this file is" in error_beside(page, "upload")
    assert 'aria-describedby="upload-error"' in page
    assert "Read this." in page
    assert (assets_count(services), posts_count(services)) == (0, 0)


def test_an_unknown_media_id_is_refused_beside_the_media(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    missing = uuid.uuid4()

    response = client.post(
        "/dashboard/compose",
        data=compose_form(client, text="Hello.", channel=channel_ids(team), media=[str(missing)]),
    )

    assert response.status_code == 422
    assert f"There is no media {missing} here." in error_beside(response.get_data(as_text=True), "media")
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0


def test_a_file_larger_than_a_plain_form_may_be_is_taken_by_the_compose_and_edit_forms(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    settings = services.settings
    padding = settings.request_max_bytes + 10_000
    assert padding + 1000 < settings.media_max_bytes, "the test needs a file between the two limits"
    sign_in(client, team.editor_token)

    composed = send_with_file(
        client, image("PNG", padding=padding), "large.png", text="Large.", channel=channel_ids(team)
    )

    assert composed.status_code == 302, composed.get_data(as_text=True)[:500]
    edit_url = f"{composed.headers['Location']}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None
    edited = client.post(
        edit_url,
        data={
            "csrf_token": csrf_token_of(page),
            "version": version.group(1),
            "text": "Larger.",
            "channel": channel_ids(team),
            "media": attached(post_of(services, composed.headers["Location"])),
            "timing": "now",
            "upload": (io.BytesIO(image("JPEG", padding=padding)), "larger.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )

    assert edited.status_code == 302, edited.get_data(as_text=True)[:500]
    assert len(attached(post_of(services, composed.headers["Location"]))) == 2
    assert assets_count(services) == 2
