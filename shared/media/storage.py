"""Media kept as files: one per distinct content, named by its SHA-256, under the data directory."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, BinaryIO

from shared.config import Settings
from shared.media.ports import ContentMissing, StoredContent

CHUNK_BYTES = 1024 * 1024
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class FileSystemMediaStorage:
    """Content-addressed files: `<root>/ab/cd/abcd…`, two levels deep so no folder grows too large."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_settings(cls, settings: Settings) -> FileSystemMediaStorage:
        """The storage in the data directory's `media/` (CRIER_MEDIA_STORAGE=filesystem)."""
        return cls(settings.media_folder)

    def put(self, source: IO[bytes]) -> StoredContent:
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        # Written beside its final place and renamed there, so a reader never sees half a file, and two
        # uploads of the same bytes at once both end with one whole file.
        with tempfile.NamedTemporaryFile(dir=incoming, delete=False) as temporary:
            try:
                while chunk := source.read(CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
                    temporary.write(chunk)
                temporary.flush()
                os.fsync(temporary.fileno())
            except BaseException:
                os.unlink(temporary.name)
                raise
        key = digest.hexdigest()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary.name, path)
        return StoredContent(key=key, sha256=key, size=size)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as error:
            raise ContentMissing(f"no media content under {key}") from error

    def read(self, key: str) -> bytes:
        with self.open(key) as content:
            return content.read()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        # The key comes from the database; checking its shape keeps a tampered row from naming any file.
        if not SHA256_HEX.fullmatch(key):
            raise ValueError(f"{key!r} is not a media key (a SHA-256 in hex)")
        return self.root / key[:2] / key[2:4] / key
