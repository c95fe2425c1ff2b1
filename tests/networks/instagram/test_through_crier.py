"""A post with a photo to an Instagram channel, published the way Crier's worker does it: the fake fetches
the photo over HTTP from Crier's own API, at the signed address the delivery's draft carries."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from services.api.app import create_app
from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.errors import InvalidInput
from shared.media.public_addresses import PUBLIC_MEDIA_PATH
from shared.oauth.services import begin_authorization, complete_authorization
from shared.posts.requests import PostRequest, TargetRequest
from shared.taskqueue import MemoryTaskQueue
from shared.workflow.services import create_post
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from shared.workspaces.services import authenticate
from tests.driving import publish_what_is_due
from tests.factories import make_connected_channel, make_workspace
from tests.media.samples import image, upload
from tests.networks.fake_servers import FakeServer
from tests.networks.instagram.fake import FakeInstagram, serving_one_account


class CrierApi(FakeServer):
    """Crier's API on a real port, its app given once the services that need its address exist."""

    def __init__(self) -> None:
        self.wsgi: Any = None
        super().__init__(lambda environ, start_response: self.wsgi(environ, start_response))


@dataclass(frozen=True)
class Connected:
    services: Services
    fake: FakeInstagram
    workspace: Workspace
    channel_id: uuid.UUID
    token: str


@pytest.fixture
def crier(services: Services, settings: Settings, task_queue: MemoryTaskQueue) -> Iterator[Connected]:
    """Crier's services pointed at the fake, with one Instagram channel, and its API serving on a port."""
    fake, connection = serving_one_account()
    api = CrierApi().start()
    pointed = settings.model_copy(
        update={
            "public_url": api.base_url,
            "instagram_graph_url": fake.base_url,
            "facebook_dialog_url": fake.base_url,
            "instagram_client_id": fake.client_id,
            "instagram_client_secret": fake.client_secret,
            "allowed_private_hosts": "127.0.0.1",
        }
    )
    built = bootstrap(pointed, tasks=task_queue, engine=services.engine)
    api.wsgi = create_app(services=built)
    workspace, token = make_workspace(built)
    channel = make_connected_channel(
        built,
        workspace,
        "instagram",
        "Instagram",
        settings=connection["settings"],
        credentials=connection["credentials"],
    )
    try:
        yield Connected(built, fake, workspace, channel.id, token)
    finally:
        api.stop()
        fake.stop()
        built.close()


def test_the_network_fetches_the_photo_from_crier_and_the_post_is_published_once(crier: Connected) -> None:
    services, fake = crier.services, crier.fake
    picture = upload(services, crier.workspace, image("JPEG"), "meetup.jpg", alt_text="The queue outside")
    request = PostRequest(
        text="Photos from the meetup", targets=[TargetRequest(crier.channel_id)], media=[picture.id]
    )
    with services.sessions.begin() as session:
        create_post(session, services.networks, Actor.system(crier.workspace.id), request, now=utcnow())

    outcomes = publish_what_is_due(services)

    assert set(outcomes.values()) == {DeliveryState.PUBLISHED}
    [fetched] = fake.fetches
    assert fetched.startswith(services.settings.public_url + PUBLIC_MEDIA_PATH)
    [container] = fake.containers.values()
    assert container.fetched == [image("JPEG")]
    assert container.fields["alt_text"] == "The queue outside"
    [account] = fake.accounts.values()
    [media] = fake.media_of(account)
    with services.sessions.begin() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.external_id, delivery.external_url) == (media["id"], media["permalink"])


def test_a_post_without_media_is_refused_for_instagram_when_it_is_written(crier: Connected) -> None:
    services = crier.services
    request = PostRequest(text="Words alone", targets=[TargetRequest(crier.channel_id)])

    with services.sessions.begin() as session, pytest.raises(InvalidInput) as refused:
        create_post(session, services.networks, Actor.system(crier.workspace.id), request, now=utcnow())

    [problem] = refused.value.problems
    assert problem.pointer == "/media"
    assert "Instagram takes no post without media" in problem.detail


def test_a_person_connects_an_account_through_facebook_login(crier: Connected) -> None:
    services = crier.services
    with services.sessions.begin() as session:
        owner = authenticate(session, crier.token, utcnow())
    begun = begin_authorization(services, owner, network="instagram", name="Shop", settings={}, now=utcnow())
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(crier.fake.approve(begun.url)).query))

    channel = complete_authorization(services, state=back["state"], code=back["code"], now=utcnow())

    [account] = crier.fake.accounts.values()
    assert (channel.network, channel.handle) == ("instagram", account.username)
    assert services.credentials.open(channel.sealed_credentials) == {
        "access_token": account.token,
        "ig_user_id": account.ig_user_id,
    }
