"""The public addresses of media, for networks that fetch a delivery's files themselves: each serves its
file while it lasts, and nothing else, to anyone holding it and to no one who made one up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from services.api.app import create_app
from shared.bootstrap import Services
from shared.credentials import configured_secrets
from shared.media.public_addresses import PUBLIC_MEDIA_PATH, PublicAddresses
from shared.workspaces.models import Workspace
from tests.factories import make_workspace
from tests.media.samples import image, upload, video

START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def addresses(secrets: list[str] | None = None, clock: Clock | None = None) -> PublicAddresses:
    return PublicAddresses("https://crier.example/", secrets or ["first secret"], clock=clock or Clock())


def token_of(address: str) -> str:
    base, _, token = address.partition(PUBLIC_MEDIA_PATH)
    assert base == "https://crier.example"
    assert token
    return token


def test_an_address_names_its_asset_and_workspace_until_it_expires() -> None:
    clock = Clock()
    signer = addresses(clock=clock)
    workspace_id, asset_id = uuid.uuid4(), uuid.uuid4()
    token = token_of(signer.address_of(workspace_id, asset_id))

    named = signer.asset_named(token)
    assert named is not None
    assert (named.workspace_id, named.asset_id) == (workspace_id, asset_id)
    clock.now = START + timedelta(minutes=59, seconds=59)
    assert signer.asset_named(token) is not None
    clock.now = START + timedelta(hours=1)
    assert signer.asset_named(token) is None


def test_two_addresses_of_one_asset_differ_by_their_expiry_and_neither_shows_a_secret() -> None:
    clock = Clock()
    signer = addresses(clock=clock)
    ids = (uuid.uuid4(), uuid.uuid4())
    first = signer.address_of(*ids)
    clock.now += timedelta(seconds=1)
    assert signer.address_of(*ids) != first
    assert "first secret" not in first


@pytest.mark.parametrize("position", [0, 10, 40, -5, -1])
def test_a_token_altered_anywhere_names_nothing(position: int) -> None:
    signer = addresses()
    token = token_of(signer.address_of(uuid.uuid4(), uuid.uuid4()))
    replacement = "A" if token[position] != "A" else "B"
    altered = token[:position] + replacement + (token[position + 1 :] if position != -1 else "")

    assert signer.asset_named(altered) is None


def test_a_token_made_with_another_secret_or_of_another_shape_names_nothing() -> None:
    theirs = token_of(addresses(["someone else's secret"]).address_of(uuid.uuid4(), uuid.uuid4()))
    ours = addresses()

    assert ours.asset_named(theirs) is None
    for junk in ("", "x", "a.b", "W10.abc", "..", uuid.uuid4().hex):
        assert ours.asset_named(junk) is None


def test_an_address_made_before_the_secret_rotated_works_until_it_expires() -> None:
    before = addresses(["old"])
    token = token_of(before.address_of(uuid.uuid4(), uuid.uuid4()))
    after = addresses(["new", "old"])

    assert after.asset_named(token) is not None
    assert addresses(["new"]).asset_named(token) is None
    assert after.asset_named(token_of(after.address_of(uuid.uuid4(), uuid.uuid4()))) is not None


# -- GET /public-media/<token> ------------------------------------------------------------------------


@pytest.fixture
def anonymous(services: Services) -> FlaskClient:
    """A client with no Crier token, as a network fetching a file is."""
    return create_app(services=services).test_client()


def test_the_address_serves_the_file_as_its_type_to_a_client_without_a_token(
    services: Services, anonymous: FlaskClient
) -> None:
    workspace, _ = make_workspace(services)
    photo = upload(services, workspace, image("JPEG"), "photo.jpg")
    address = services.public_media.address_of(workspace.id, photo.id)
    assert address.startswith(services.settings.public_url.rstrip("/") + PUBLIC_MEDIA_PATH)

    response = anonymous.get(address.removeprefix(services.settings.public_url.rstrip("/")))

    assert response.status_code == 200
    assert response.data == image("JPEG")
    assert response.content_type == "image/jpeg"
    assert response.headers["Content-Length"] == str(len(image("JPEG")))
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_video_is_served_whole_with_its_length(services: Services, anonymous: FlaskClient) -> None:
    workspace, _ = make_workspace(services)
    clip = upload(services, workspace, video(), "clip.mp4")
    path = services.public_media.address_of(workspace.id, clip.id).partition(PUBLIC_MEDIA_PATH)[2]

    response = anonymous.get(PUBLIC_MEDIA_PATH + path)

    assert (response.status_code, response.content_type, response.data) == (200, "video/mp4", video())
    assert response.headers["Content-Length"] == str(len(video()))


def path_of(address: str) -> str:
    return PUBLIC_MEDIA_PATH + address.partition(PUBLIC_MEDIA_PATH)[2]


def expired_address(services: Services, workspace: Workspace, asset_id: uuid.UUID) -> str:
    past = PublicAddresses(
        services.settings.public_url,
        # The process's own secrets: only the expiry makes this address no good.
        configured_secrets(services.settings),
        clock=lambda: datetime.now(UTC) - timedelta(hours=2),
    )
    return past.address_of(workspace.id, asset_id)


def test_an_expired_altered_unknown_or_foreign_address_answers_the_same_404(
    services: Services, anonymous: FlaskClient
) -> None:
    ours, _ = make_workspace(services, "Ours")
    theirs, _ = make_workspace(services, "Theirs")
    photo = upload(services, ours, image("PNG"))
    their_photo = upload(services, theirs, image("JPEG"))
    good = path_of(services.public_media.address_of(ours.id, photo.id))
    assert anonymous.get(good).status_code == 200

    answers = [
        anonymous.get(path_of(expired_address(services, ours, photo.id))),
        anonymous.get(good[:-2] + ("xx" if not good.endswith("xx") else "yy")),
        anonymous.get(path_of(services.public_media.address_of(ours.id, uuid.uuid4()))),
        # Signed by Crier, but naming their file under our workspace: never served across workspaces.
        anonymous.get(path_of(services.public_media.address_of(ours.id, their_photo.id))),
        anonymous.get(path_of(addresses(["a guess"]).address_of(ours.id, photo.id))),
        anonymous.get(PUBLIC_MEDIA_PATH + "nothing"),
    ]

    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert len({answer.json["detail"] for answer in answers}) == 1
    assert all(image("PNG") not in answer.data and image("JPEG") not in answer.data for answer in answers)
