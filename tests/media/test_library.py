"""Uploading, describing and deleting media: checked before anything is kept, kept once, deleted safely."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.bootstrap import Services
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.media import ContentMissing
from shared.media.models import MediaAsset
from shared.media.services import get_media
from shared.networks.registry import NetworkRegistry
from shared.posts.models import Post
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.media import delete_media, describe_media
from shared.workflow.services import cancel_post, create_post
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_add_member
from tests.factories import make_channel, make_workspace
from tests.integration.fake_networks import SANDBOX_ENTRY
from tests.media.samples import bluesky_channel, image, upload, video


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def delete(services: Services, workspace: Workspace, asset: MediaAsset, actor: Actor | None = None) -> None:
    """Delete as the API does: the row in a transaction, then the bytes no asset uses any more."""
    with services.sessions.begin() as session:
        unused = delete_media(
            session, actor or Actor.system(workspace.id), get_media(session, workspace.id, asset.id)
        )
    if unused is not None:
        services.media.delete(unused)


def post_with(services: Services, workspace: Workspace, asset: MediaAsset, *, draft: bool = False) -> Post:
    channel = bluesky_channel(services, workspace)
    request = PostRequest(
        text="Photos from the meetup",
        targets=[TargetRequest(channel.id)],
        media=[asset.id],
        scheduled_at=utcnow() + timedelta(days=1),
        draft=draft,
    )
    with services.sessions.begin() as session:
        return create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())


def test_an_upload_records_the_type_its_bytes_are_not_the_name_it_was_given(
    services: Services, workspace: Workspace
) -> None:
    asset = upload(services, workspace, image("PNG", size=(40, 30)), "holiday.jpg", alt_text="A beach")

    assert (asset.content_type, asset.width, asset.height) == ("image/png", 40, 30)
    assert asset.filename == "holiday.jpg"
    assert asset.alt_text == "A beach"
    assert services.media.read(asset.storage_key) == image("PNG", size=(40, 30))


def test_a_video_is_kept_without_a_size_in_pixels(services: Services, workspace: Workspace) -> None:
    asset = upload(services, workspace, video(), "clip.mp4")

    assert (asset.content_type, asset.width, asset.height) == ("video/mp4", None, None)


def test_a_path_sent_as_the_file_name_keeps_only_the_name(services: Services, workspace: Workspace) -> None:
    asset = upload(services, workspace, image(), "C:\\Users\\ana\\Pictures\\team.png")

    assert asset.filename == "team.png"


def test_the_same_file_uploaded_twice_is_two_assets_over_one_stored_file(
    services: Services, workspace: Workspace
) -> None:
    first = upload(services, workspace, image(), "one.png", alt_text="First")
    second = upload(services, workspace, image(), "two.png", alt_text="Second")

    assert first.id != second.id
    assert first.storage_key == second.storage_key
    assert len(files_under(services.settings.media_folder)) == 1


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "The file is empty."),
        (b"just some text", "Crier cannot tell what this file is"),
        (image("BMP"), "Crier cannot tell what this file is"),
        (video(b"qt  "), "The file is video/quicktime, which no installed network takes."),
    ],
    ids=["empty", "text", "bmp", "quicktime"],
)
def test_a_file_no_network_could_send_is_refused_and_not_kept(
    services: Services, workspace: Workspace, data: bytes, detail: str
) -> None:
    # Only the sandbox, which takes no QuickTime video (Instagram does): what is installed may change.
    sandbox_only = Services(
        **{**services.__dict__, "networks": NetworkRegistry(services.settings, entries=[SANDBOX_ENTRY])}
    )
    with pytest.raises(InvalidInput) as refused:
        upload(sandbox_only, workspace, data, "upload.bin")

    [problem] = refused.value.problems
    assert problem.pointer == "/file"
    assert problem.detail.startswith(detail)
    assert files_under(services.settings.media_folder) == []


def test_a_file_over_the_upload_limit_is_refused_with_the_limit_named(
    services: Services, workspace: Workspace
) -> None:
    small = Services(
        **{**services.__dict__, "settings": services.settings.model_copy(update={"media_max_bytes": 1000})}
    )

    with pytest.raises(InvalidInput) as refused:
        upload(small, workspace, image(padding=1000))

    [problem] = refused.value.problems
    assert problem.pointer == "/file"
    assert "at most 1,000 bytes" in problem.detail


def test_the_alt_text_can_be_changed_and_removed(services: Services, workspace: Workspace) -> None:
    asset = upload(services, workspace, image(), alt_text="A cat")

    with services.sessions.begin() as session:
        described = describe_media(
            session, Actor.system(workspace.id), get_media(session, workspace.id, asset.id), "A cat asleep"
        )
    assert described.alt_text == "A cat asleep"
    with services.sessions.begin() as session:
        cleared = describe_media(
            session, Actor.system(workspace.id), get_media(session, workspace.id, asset.id), ""
        )
    assert cleared.alt_text is None


def test_a_contributor_may_change_only_what_they_uploaded(services: Services, workspace: Workspace) -> None:
    with services.sessions.begin() as session:
        member = get_or_add_member(session, workspace, "pat@example.org", role=Role.CONTRIBUTOR)
    contributor = Actor.of(workspace.id, member.id, Role.CONTRIBUTOR, Scope.ADMIN, "Pat")
    theirs = upload(services, workspace, image(), actor=contributor)
    someone_elses = upload(services, workspace, image("JPEG"))

    with services.sessions.begin() as session:
        describe_media(session, contributor, get_media(session, workspace.id, theirs.id), "Mine")
    with pytest.raises(Forbidden), services.sessions.begin() as session:
        describe_media(session, contributor, get_media(session, workspace.id, someone_elses.id), "Not mine")


def test_deleting_the_last_asset_of_some_bytes_removes_the_file(
    services: Services, workspace: Workspace
) -> None:
    first = upload(services, workspace, image())
    second = upload(services, workspace, image())

    delete(services, workspace, first)
    assert services.media.read(second.storage_key) == image()

    delete(services, workspace, second)
    with pytest.raises(ContentMissing):
        services.media.read(second.storage_key)
    with services.sessions() as session:
        assert session.scalars(select(MediaAsset)).all() == []


@pytest.mark.parametrize("draft", [False, True], ids=["scheduled", "draft"])
def test_media_a_post_still_to_go_out_attaches_cannot_be_deleted(
    services: Services, workspace: Workspace, draft: bool
) -> None:
    asset = upload(services, workspace, image())
    post = post_with(services, workspace, asset, draft=draft)

    with pytest.raises(Conflict, match=f"Post {post.id}"):
        delete(services, workspace, asset)
    assert services.media.read(asset.storage_key) == image()


def test_media_of_a_cancelled_post_can_be_deleted(services: Services, workspace: Workspace) -> None:
    asset = upload(services, workspace, image())
    post = post_with(services, workspace, asset)
    with services.sessions.begin() as session:
        cancel_post(session, Actor.system(workspace.id), session.get_one(Post, post.id), now=utcnow())

    delete(services, workspace, asset)

    with services.sessions() as session:
        assert session.get(MediaAsset, asset.id) is None


def test_media_attached_only_by_a_channels_variant_is_in_use_too(
    services: Services, workspace: Workspace
) -> None:
    asset = upload(services, workspace, image())
    sandbox, bluesky = make_channel(services, workspace), bluesky_channel(services, workspace)
    request = PostRequest(
        text="Only Bluesky gets the picture",
        targets=[TargetRequest(sandbox.id), TargetRequest(bluesky.id, media=[asset.id])],
        scheduled_at=utcnow() + timedelta(days=1),
    )
    with services.sessions.begin() as session:
        create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())

    with pytest.raises(Conflict):
        delete(services, workspace, asset)
