"""A delivery sends its channel's media: the bytes from the media storage, in order, with their alt text."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest

from services.api.app import create_app
from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.models import DeliveryState
from shared.media.models import MediaAsset
from shared.media.public_addresses import PUBLIC_MEDIA_PATH
from shared.media.services import get_media
from shared.networks.ports import MediaItem
from shared.networks.registry import NetworkRegistry
from shared.posts.requests import PostRequest, TargetRequest
from shared.taskqueue import MemoryTaskQueue
from shared.workflow.media import describe_media
from shared.workflow.services import create_post
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_workspace
from tests.integration.fake_networks import SANDBOX_ENTRY
from tests.media.fake_networks import PICTURES_ENTRY, PicturesSandbox
from tests.media.samples import image, upload


@pytest.fixture
def pictures(services: Services, settings: Settings, task_queue: MemoryTaskQueue) -> Iterator[Services]:
    """Services with the sandbox and the sandbox that takes pictures; `services` empties the tables."""
    registry = NetworkRegistry(settings, entries=[SANDBOX_ENTRY, PICTURES_ENTRY])
    built = bootstrap(settings, tasks=task_queue, networks=registry, engine=services.engine)
    yield built
    built.close()


@pytest.fixture
def workspace(pictures: Services) -> Workspace:
    return make_workspace(pictures)[0]


def network_of(services: Services) -> PicturesSandbox:
    network = services.networks.get("sandbox_pictures")
    assert isinstance(network, PicturesSandbox)
    return network


def post_now(
    services: Services, workspace: Workspace, targets: list[TargetRequest], media: list[MediaAsset]
) -> None:
    request = PostRequest(text="Photos from the meetup", targets=targets, media=[asset.id for asset in media])
    with services.sessions.begin() as session:
        create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())


def test_the_network_receives_the_bytes_in_order_with_their_alt_text(
    pictures: Services, workspace: Workspace
) -> None:
    gallery = make_channel(pictures, workspace, "Gallery", network="sandbox_pictures")
    text_only = make_channel(pictures, workspace, "Text only")
    first = upload(pictures, workspace, image("PNG"), alt_text="The queue outside")
    second = upload(pictures, workspace, image("JPEG"))
    post_now(
        pictures,
        workspace,
        [TargetRequest(gallery.id), TargetRequest(text_only.id, media=[])],
        [second, first],
    )

    outcomes = publish_what_is_due(pictures)

    assert set(outcomes.values()) == {DeliveryState.PUBLISHED}
    [sent] = network_of(pictures).published
    assert [replace(item, public_url=None) for item in sent.media] == [
        MediaItem("image/jpeg", image("JPEG"), None),
        MediaItem("image/png", image("PNG"), "The queue outside"),
    ]


def test_each_item_carries_an_address_that_serves_its_bytes_without_a_token(
    pictures: Services, workspace: Workspace
) -> None:
    gallery = make_channel(pictures, workspace, "Gallery", network="sandbox_pictures")
    first, second = upload(pictures, workspace, image("PNG")), upload(pictures, workspace, image("JPEG"))
    post_now(pictures, workspace, [TargetRequest(gallery.id)], [first, second])

    publish_what_is_due(pictures)

    [sent] = network_of(pictures).published
    fetcher = create_app(services=pictures).test_client()
    public_url = pictures.settings.public_url.rstrip("/")
    for item in sent.media:
        assert item.public_url is not None
        assert item.public_url.startswith(public_url + PUBLIC_MEDIA_PATH)
        fetched = fetcher.get(item.public_url.removeprefix(public_url))
        assert (fetched.status_code, fetched.content_type) == (200, item.content_type)
        assert fetched.data == item.data
    assert len({item.public_url for item in sent.media}) == 2


def test_the_alt_text_sent_is_the_one_the_asset_has_when_it_goes_out(
    pictures: Services, workspace: Workspace
) -> None:
    gallery = make_channel(pictures, workspace, "Gallery", network="sandbox_pictures")
    picture = upload(pictures, workspace, image(), alt_text="A draft description")
    post_now(pictures, workspace, [TargetRequest(gallery.id)], [picture])
    with pictures.sessions.begin() as session:
        asset = get_media(session, workspace.id, picture.id)
        describe_media(session, Actor.system(workspace.id), asset, "Twelve people at a long table")

    publish_what_is_due(pictures)

    [sent] = network_of(pictures).published
    assert [item.alt_text for item in sent.media] == ["Twelve people at a long table"]


def test_bytes_lost_from_the_storage_are_left_out_rather_than_holding_the_batch_back(
    pictures: Services, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    gallery = make_channel(pictures, workspace, "Gallery", network="sandbox_pictures")
    kept, lost = upload(pictures, workspace, image("PNG")), upload(pictures, workspace, image("JPEG"))
    post_now(pictures, workspace, [TargetRequest(gallery.id)], [kept, lost])
    pictures.media.delete(lost.storage_key)

    with caplog.at_level(logging.WARNING, logger="shared.deliveries.drafting"):
        outcomes = publish_what_is_due(pictures)

    assert set(outcomes.values()) == {DeliveryState.PUBLISHED}
    [sent] = network_of(pictures).published
    assert [item.content_type for item in sent.media] == ["image/png"]
    assert f"without media {lost.id}" in caplog.text
