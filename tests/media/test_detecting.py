"""An upload's type comes from its bytes: the name and the Content-Type a client sends are not trusted."""

from __future__ import annotations

import io

import pytest

from shared.media.detecting import DetectedType, detect_type
from tests.media.samples import image, video


@pytest.mark.parametrize(
    ("image_format", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_each_image_type_the_networks_take_is_recognised_with_its_size(
    image_format: str, content_type: str
) -> None:
    assert detect_type(io.BytesIO(image(image_format, size=(64, 48)))) == DetectedType(content_type, 64, 48)


@pytest.mark.parametrize(
    ("brand", "content_type"), [(b"mp42", "video/mp4"), (b"isom", "video/mp4"), (b"qt  ", "video/quicktime")]
)
def test_a_video_is_recognised_by_its_ftyp_box(brand: bytes, content_type: str) -> None:
    assert detect_type(io.BytesIO(video(brand))) == DetectedType(content_type)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"%PDF-1.7\n",
        image("BMP"),  # Pillow reads it, but no network takes it, so Pillow is not asked
        video(b"heic"),  # an ISO base media file, but a still image
        video(b"M4A "),  # sound, not video
    ],
    ids=["empty", "svg", "pdf", "bmp", "heic", "m4a"],
)
def test_bytes_of_any_other_kind_are_not_recognised(data: bytes) -> None:
    assert detect_type(io.BytesIO(data)) is None


def test_the_source_is_left_at_its_start_for_the_storage_to_read() -> None:
    source = io.BytesIO(image())
    source.seek(5)

    detect_type(source)

    assert source.tell() == 0
