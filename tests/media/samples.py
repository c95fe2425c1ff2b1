"""Small, real media files and the channels and uploads the media tests start from."""

from __future__ import annotations

import io

from PIL import Image

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.media.models import MediaAsset
from shared.media.services import upload_media
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_connected_channel


def image(image_format: str = "PNG", size: tuple[int, int] = (4, 3), padding: int = 0) -> bytes:
    """A real image; `padding` bytes after its end make it larger without making it slower to make."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 90, 40)).save(buffer, image_format)
    return buffer.getvalue() + b"\0" * padding


def video(brand: bytes = b"mp42") -> bytes:
    """The start of an ISO base media file: its `ftyp` box names the kind, then an empty `mdat` box."""
    ftyp = b"ftyp" + brand + b"\0\0\0\0" + brand + b"isom"
    return len(ftyp + b"1234").to_bytes(4, "big") + ftyp + (8).to_bytes(4, "big") + b"mdat"


def upload(
    services: Services,
    workspace: Workspace,
    data: bytes,
    filename: str = "photo.png",
    *,
    alt_text: str | None = None,
    actor: Actor | None = None,
) -> MediaAsset:
    """An asset uploaded to the workspace as Crier itself (or `actor`) would upload it."""
    with services.sessions.begin() as session:
        return upload_media(
            session,
            services.media,
            services.networks,
            actor or Actor.system(workspace.id),
            io.BytesIO(data),
            filename=filename,
            alt_text=alt_text,
            max_bytes=services.settings.media_max_bytes,
        )


def bluesky_channel(services: Services, workspace: Workspace, name: str = "Bluesky") -> Channel:
    return make_connected_channel(
        services,
        workspace,
        "bluesky",
        name,
        settings={},
        credentials={"identifier": "acme.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"},
    )


def mastodon_channel(services: Services, workspace: Workspace, name: str = "Mastodon") -> Channel:
    return make_connected_channel(
        services,
        workspace,
        "mastodon",
        name,
        settings={"base_url": "https://mastodon.example"},
        credentials={"access_token": "token"},
    )
