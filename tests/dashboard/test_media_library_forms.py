"""The media library page without a browser: every asset with what is known of it, those without alt text
flagged and listed by a filter, alt text changed through the same core call as PATCH /v1/media/{id} (a
contributor's change sends an approved post back), uploads, deletions refused in the core's words while a
post may still send the asset, who may do what, and 50 to a page."""

from __future__ import annotations

import html
import io
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.db import utcnow
from shared.media.models import MediaAsset
from shared.posts.models import Post, PostStage
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow import services as workflow
from shared.workspaces.access import Actor, Role, Scope
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.media.samples import image, upload, video

FLAG = "No alt text: screen-reader users will not know what it shows."
ITEM = re.compile(r'<li class="media-item[^"]*" id="media-([0-9a-f-]+)"')


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def contributor_of(team: PostingTeam) -> Actor:
    return Actor.of(
        team.workspace.id, team.contributor.id, Role.CONTRIBUTOR, Scope.WRITE, team.contributor.name
    )


def editor_of(team: PostingTeam) -> Actor:
    return Actor.of(team.workspace.id, team.editor.id, Role.EDITOR, Scope.WRITE, team.editor.name)


def library_page(client: FlaskClient, address: str = "/dashboard/media") -> str:
    response = client.get(address)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def item_of(page: str, media_id: uuid.UUID) -> str:
    """The page's list item of one asset, as HTML."""
    start = page.index(f'id="media-{media_id}"')
    return page[start : page.index("</li>", start)]


def listed(page: str) -> list[str]:
    return ITEM.findall(page)


def post_form(client: FlaskClient, address: str, page: str, **fields: Any) -> Any:
    return client.post(address, data={"csrf_token": csrf_token_of(page), **fields})


def read_asset(services: Services, media_id: uuid.UUID) -> MediaAsset | None:
    with services.sessions() as session:
        return session.get(MediaAsset, media_id)


def scheduled_post_with(services: Services, team: PostingTeam, media_id: uuid.UUID, author: Actor) -> Post:
    """A post attaching the asset, written by `author` and approved when it needs to be: scheduled."""
    request = PostRequest(
        text="The festival opens.",
        targets=[TargetRequest(team.channels[0].id)],
        media=[media_id],
        scheduled_at=utcnow() + timedelta(days=2),
    )
    with services.sessions.begin() as session:
        post = workflow.create_post(session, services.networks, author, request, now=utcnow())
        if post.stage is PostStage.PENDING_APPROVAL:
            workflow.approve(session, editor_of(team), post, comment=None, now=utcnow())
    assert post.stage is PostStage.SCHEDULED
    return post


def stage_of(services: Services, post_id: uuid.UUID) -> PostStage:
    with services.sessions() as session:
        return session.get_one(Post, post_id).stage


def test_the_library_lists_each_asset_with_what_is_known_and_flags_those_without_alt_text(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    described = upload(
        services,
        team.workspace,
        image("PNG", size=(8, 6)),
        "stage.png",
        alt_text="An empty stage",
        actor=contributor_of(team),
    )
    bare = upload(services, team.workspace, video(), "teaser.mp4")
    blank = upload(services, team.workspace, image("GIF"), "spaces.gif", alt_text="   ")
    theirs = upload(
        services, seed_posting_team(services, "Quay Books").workspace, image("JPEG"), "theirs.jpg"
    )
    post = scheduled_post_with(services, team, described.id, editor_of(team))
    sign_in(client, team.viewer_token)

    page = library_page(client)

    assert listed(page) == [str(blank.id), str(bare.id), str(described.id)]
    assert str(theirs.id) not in page
    stage = item_of(page, described.id)
    assert "stage.png" in stage
    assert "image/png" in stage
    assert "8 \N{MULTIPLICATION SIGN} 6 pixels" in stage
    assert "by Cody Contributor" in stage
    assert "Alt text: An empty stage" in stage
    assert f"/dashboard/compose/media/{described.id}" in stage, "an image is shown small"
    assert f'href="/dashboard/posts/{post.id}"' in stage
    assert "The festival opens." in stage
    assert FLAG not in stage
    teaser = item_of(page, bare.id)
    assert "video/mp4" in teaser
    assert "pixels" not in teaser
    assert "Not attached to any post." in teaser
    assert FLAG in teaser
    assert FLAG in item_of(page, blank.id), "alt text of spaces says nothing either"
    assert "Missing alt text (2)" in page
    assert "Save alt text" not in page, "a viewer reads only"
    assert 'id="upload-section"' not in page


def test_the_missing_alt_text_filter_lists_only_the_undescribed(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    upload(services, team.workspace, image("PNG"), "poster.png", alt_text="The festival poster")
    bare = upload(services, team.workspace, image("JPEG"), "crowd.jpg")
    sign_in(client, team.editor_token)

    page = library_page(client, "/dashboard/media?missing=1")

    assert listed(page) == [str(bare.id)]
    assert "Showing only media without alt text." in page
    assert 'data-test="show-all"' in page


def test_adding_alt_text_removes_the_flag_and_keeps_the_filtered_view(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    bare = upload(services, team.workspace, image("JPEG"), "crowd.jpg")
    other = upload(services, team.workspace, image("PNG"), "other.png")
    sign_in(client, team.editor_token)
    page = library_page(client, "/dashboard/media?missing=1")

    response = post_form(
        client, f"/dashboard/media/{bare.id}/alt-text", page, alt_text="  A crowd at the gate  ", missing="1"
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/dashboard/media?missing=1#media-{bare.id}"
    asset = read_asset(services, bare.id)
    assert asset is not None
    assert asset.alt_text == "A crowd at the gate"
    filtered = library_page(client, "/dashboard/media?missing=1")
    assert listed(filtered) == [str(other.id)]
    assert "Saved the alt text of crowd.jpg." in filtered
    assert FLAG not in item_of(library_page(client), bare.id)


def test_alt_text_too_long_is_refused_beside_its_field_with_the_text_kept(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    bare = upload(services, team.workspace, image("JPEG"), "crowd.jpg")
    sign_in(client, team.editor_token)
    too_long = "a" * 5001

    response = post_form(
        client, f"/dashboard/media/{bare.id}/alt-text", library_page(client), alt_text=too_long
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'data-test="error-alt-{bare.id}">([^<]+)<', page)
    assert error is not None
    assert "5000" in error.group(1)
    assert f'aria-describedby="alt-{bare.id}-error"' in page
    assert too_long in page
    asset = read_asset(services, bare.id)
    assert asset is not None
    assert asset.alt_text is None


def test_a_contributor_s_new_alt_text_sends_the_approved_post_back_for_approval(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    asset = upload(
        services, team.workspace, image("PNG"), "cake.png", alt_text="A cake", actor=contributor_of(team)
    )
    post = scheduled_post_with(services, team, asset.id, contributor_of(team))
    sign_in(client, team.contributor_token)

    response = post_form(
        client,
        f"/dashboard/media/{asset.id}/alt-text",
        library_page(client),
        alt_text="Buy watches at spam.example",
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    assert stage_of(services, post.id) is PostStage.PENDING_APPROVAL


def test_an_editor_s_new_alt_text_leaves_the_post_scheduled(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    asset = upload(
        services, team.workspace, image("PNG"), "cake.png", alt_text="A cake", actor=contributor_of(team)
    )
    post = scheduled_post_with(services, team, asset.id, contributor_of(team))
    sign_in(client, team.editor_token)

    response = post_form(
        client, f"/dashboard/media/{asset.id}/alt-text", library_page(client), alt_text="A tall cake"
    )

    assert response.status_code == 302
    assert stage_of(services, post.id) is PostStage.SCHEDULED


def test_a_contributor_may_describe_only_their_own_uploads(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    own = upload(services, team.workspace, image("PNG"), "mine.png", actor=contributor_of(team))
    editors = upload(services, team.workspace, image("GIF"), "editors.gif", actor=editor_of(team))
    sign_in(client, team.contributor_token)
    page = library_page(client)

    refused = post_form(client, f"/dashboard/media/{editors.id}/alt-text", page, alt_text="Mine now")

    assert f'action="/dashboard/media/{own.id}/alt-text"' in page
    assert f'action="/dashboard/media/{editors.id}/alt-text"' not in page
    assert refused.status_code == 403
    assert "You may change only the media you uploaded." in refused.get_data(as_text=True)
    asset = read_asset(services, editors.id)
    assert asset is not None
    assert asset.alt_text is None


def test_a_viewer_may_not_change_anything(client: FlaskClient, services: Services, team: PostingTeam) -> None:
    asset = upload(services, team.workspace, image("PNG"), "poster.png")
    sign_in(client, team.viewer_token)
    page = library_page(client)

    described = post_form(client, f"/dashboard/media/{asset.id}/alt-text", page, alt_text="Mine")
    deleted = post_form(client, f"/dashboard/media/{asset.id}/delete", page)
    uploaded = client.post(
        "/dashboard/media/upload",
        data={"csrf_token": csrf_token_of(page), "file": (io.BytesIO(image("PNG")), "new.png")},
        content_type="multipart/form-data",
    )

    assert (described.status_code, deleted.status_code, uploaded.status_code) == (403, 403, 403)
    assert read_asset(services, asset.id) is not None


def test_an_upload_with_alt_text_is_kept_and_shown_first(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    upload(services, team.workspace, image("PNG"), "older.png")
    sign_in(client, team.contributor_token)

    response = client.post(
        "/dashboard/media/upload",
        data={
            "csrf_token": csrf_token_of(library_page(client)),
            "file": (io.BytesIO(image("JPEG", size=(5, 7))), "gate.jpg"),
            "alt_text": "The gate at dawn",
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    with services.sessions() as session:
        asset = session.scalars(select(MediaAsset).where(MediaAsset.filename == "gate.jpg")).one()
    assert (asset.content_type, asset.width, asset.height, asset.alt_text, asset.uploaded_by) == (
        "image/jpeg",
        5,
        7,
        "The gate at dawn",
        team.contributor.id,
    )
    page = library_page(client)
    assert listed(page)[0] == str(asset.id)
    assert "Uploaded gate.jpg with its alt text." in page


def test_a_file_no_network_takes_is_refused_beside_the_file_with_the_alt_text_kept(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    page = library_page(client)

    refused = client.post(
        "/dashboard/media/upload",
        data={
            "csrf_token": csrf_token_of(page),
            "file": (io.BytesIO(b"just words"), "notes.png"),
            "alt_text": "What I typed",
        },
        content_type="multipart/form-data",
    )
    no_file = client.post(
        "/dashboard/media/upload",
        data={"csrf_token": csrf_token_of(page), "alt_text": "Nothing chosen"},
        content_type="multipart/form-data",
    )

    said = refused.get_data(as_text=True)
    assert refused.status_code == 422
    error = re.search(r'data-test="error-upload">([^<]+)<', said)
    assert error is not None
    assert "Crier cannot tell what this file is" in error.group(1)
    assert "What I typed</textarea>" in said
    assert 'aria-describedby="upload-error"' in said
    assert no_file.status_code == 422
    assert 'data-test="error-upload">Choose a file to upload.<' in no_file.get_data(as_text=True)
    with services.sessions() as session:
        assert session.scalars(select(MediaAsset)).all() == []


def test_an_unused_asset_is_deleted_with_its_bytes(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    asset = upload(services, team.workspace, image("PNG", size=(9, 9)), "unused.png")
    sign_in(client, team.editor_token)

    response = post_form(client, f"/dashboard/media/{asset.id}/delete", library_page(client))

    assert response.status_code == 302, response.get_data(as_text=True)
    assert read_asset(services, asset.id) is None
    with pytest.raises(LookupError):
        services.media.read(asset.storage_key)
    assert "Deleted unused.png." in library_page(client)


def test_deleting_an_asset_a_scheduled_post_attaches_is_refused_in_the_core_s_words_beside_it(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    asset = upload(services, team.workspace, image("PNG"), "poster.png", alt_text="The poster")
    post = scheduled_post_with(services, team, asset.id, editor_of(team))
    sign_in(client, team.editor_token)

    response = post_form(client, f"/dashboard/media/{asset.id}/delete", library_page(client))

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    error = re.search(rf'data-test="error-delete-{asset.id}">([^<]+)<', page)
    assert error is not None
    assert error.group(1) == (
        f"Post {post.id} (scheduled) attaches this media and has not gone out yet: remove the media from it, "
        "or wait until it is published."
    )
    assert read_asset(services, asset.id) is not None
    assert services.media.read(asset.storage_key) == image("PNG")


def test_fifty_to_a_page_with_older_and_newer_links_and_nothing_lost_at_equal_times(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    start = utcnow() - timedelta(days=30)
    ids = []
    for number in range(120):
        asset = upload(services, team.workspace, image("PNG"), f"photo-{number}.png")
        ids.append(asset.id)
        # Ten at each moment, so that pages also split between assets uploaded at the same time.
        with services.sessions.begin() as session:
            session.execute(
                update(MediaAsset)
                .where(MediaAsset.id == asset.id)
                .values(created_at=start + timedelta(minutes=number // 10))
            )
    sign_in(client, team.viewer_token)

    first = library_page(client)
    second = library_page(client, link(first, "older"))
    third = library_page(client, link(second, "older"))
    back = library_page(client, link(third, "newer"))
    back_to_first = library_page(client, link(second, "newer"))

    shown = listed(first) + listed(second) + listed(third)
    assert [len(listed(first)), len(listed(second)), len(listed(third))] == [50, 50, 20]
    assert sorted(shown) == sorted(str(media_id) for media_id in ids)
    assert listed(back) == listed(second)
    assert listed(back_to_first) == listed(first)
    assert 'data-test="newer"' not in first
    assert 'data-test="older"' not in third
    assert 'data-test="newer"' not in back_to_first


def link(page: str, which: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="[a-z]+" data-test="{which}">', page)
    assert found is not None, f"no {which} link"
    return html.unescape(found.group(1))


def test_a_paging_link_the_page_never_gave_out_is_refused(client: FlaskClient, team: PostingTeam) -> None:
    sign_in(client, team.viewer_token)

    response = client.get("/dashboard/media?after=forged")

    assert response.status_code == 400
    assert "That link to another page of the library is not one this page gave out." in response.get_data(
        as_text=True
    )


def test_the_library_is_in_the_navigation(client: FlaskClient, team: PostingTeam) -> None:
    sign_in(client, team.viewer_token)

    page = library_page(client)

    assert '<a href="/dashboard/media" aria-current="page">Media</a>' in page
