"""The media library: images and videos uploaded once, described once, attached to any number of posts.

The bytes are kept by a `ports.MediaStorage`, which CRIER_MEDIA_STORAGE chooses in the composition root:
only the file system, under the data directory, for now; the port leaves room for an object store.
"""

from __future__ import annotations

from shared.media.ports import ContentMissing, MediaStorage, StoredContent
from shared.media.storage import FileSystemMediaStorage

__all__ = ["ContentMissing", "FileSystemMediaStorage", "MediaStorage", "StoredContent"]
