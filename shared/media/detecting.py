"""What an upload is, read from its bytes: a client's file name and Content-Type are only its word.

Images are read by Pillow, which looks at the header alone (their size comes free) and is asked only about
the formats networks take, so no other parser ever sees an upload. Videos are told by their ISO base media
file's `ftyp` box: its major brand says MP4 or QuickTime; their size would need the whole box tree parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

# Pillow's format names for the image types the networks take, and their media types.
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# An ISO base media file's major brand, for those that are video (not HEIC or AVIF stills, not M4A sound).
VIDEO_BRANDS = {
    **dict.fromkeys(
        (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"mmp4", b"M4V "),
        "video/mp4",
    ),
    b"qt  ": "video/quicktime",
}
READABLE = "JPEG, PNG, GIF, WebP, MP4 and QuickTime"


@dataclass(frozen=True)
class DetectedType:
    content_type: str
    width: int | None = None
    height: int | None = None


def detect_type(source: IO[bytes]) -> DetectedType | None:
    """The media type the bytes are, from their start; None when they are none Crier can read.

    `source` must be seekable; it is read from the start and left at the start.
    """
    try:
        source.seek(0)
        with Image.open(source, formats=list(IMAGE_FORMATS)) as image:
            width, height = image.size
            return DetectedType(IMAGE_FORMATS[str(image.format)], width, height)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        # Not an image, or one with so many pixels that opening it is an attack: a video, or nothing.
        source.seek(0)
        head = source.read(12)
        if len(head) == 12 and head[4:8] == b"ftyp" and head[8:12] in VIDEO_BRANDS:
            return DetectedType(VIDEO_BRANDS[head[8:12]])
        return None
    finally:
        source.seek(0)
