"""The media library: images and videos uploaded once, described once, attached to any number of posts.

`create_media_storage` chooses where the bytes live. Only the file system, under the data directory, for
now; the port (`shared.media.ports.MediaStorage`) leaves room for an object store.
"""

from __future__ import annotations

from shared.config import Settings
from shared.media.ports import ContentMissing, MediaStorage, StoredContent
from shared.media.storage import FileSystemMediaStorage

__all__ = [
    "ContentMissing",
    "FileSystemMediaStorage",
    "MediaStorage",
    "StoredContent",
    "create_media_storage",
]


def create_media_storage(settings: Settings) -> MediaStorage:
    """The storage the settings call for: a folder in the data directory."""
    return FileSystemMediaStorage(settings.media_folder)
