"""The media storage port: bytes kept by their SHA-256, so the same file uploaded twice is stored once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, BinaryIO, Protocol

from shared.media.public_addresses import PublicAddresses


class ContentMissing(LookupError):
    """The storage has no bytes under this key (removed by hand, or a volume that was not mounted)."""


@dataclass(frozen=True)
class StoredContent:
    """Where the storage put an upload's bytes, and what they are."""

    key: str
    sha256: str
    size: int


class MediaStorage(Protocol):
    def put(self, source: IO[bytes]) -> StoredContent:
        """Keep what is read from `source` to its end; the same bytes always get the same key."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The bytes under `key`, to read; ContentMissing when there are none."""
        ...

    def read(self, key: str) -> bytes:
        """All the bytes under `key`; ContentMissing when there are none."""
        ...

    def delete(self, key: str) -> None:
        """Forget the bytes under `key`; nothing happens when there are none."""
        ...


class HasMedia(Protocol):
    """A process's media storage, for the use cases that read media (shared.dependencies has the others)."""

    @property
    def media(self) -> MediaStorage: ...


class HasPublicMedia(Protocol):
    """Where a process makes its media's public addresses, for the networks that fetch media by URL."""

    @property
    def public_media(self) -> PublicAddresses: ...
