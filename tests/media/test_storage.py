"""The file-system media storage: content-addressed, so the same bytes are kept once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from shared.media import ContentMissing, FileSystemMediaStorage


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemMediaStorage:
    return FileSystemMediaStorage(tmp_path / "media")


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_bytes_are_kept_under_their_sha256_and_read_back_whole(storage: FileSystemMediaStorage) -> None:
    data = b"\x89PNG pretend" * 1000

    stored = storage.put(io.BytesIO(data))

    assert stored.key == stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert storage.read(stored.key) == data
    with storage.open(stored.key) as content:
        assert content.read() == data


def test_the_same_bytes_uploaded_twice_are_stored_once(storage: FileSystemMediaStorage) -> None:
    first = storage.put(io.BytesIO(b"the same picture"))
    second = storage.put(io.BytesIO(b"the same picture"))
    other = storage.put(io.BytesIO(b"another picture"))

    assert first == second
    assert other.key != first.key
    assert len(stored_files(storage.root)) == 2


def test_nothing_is_left_half_written_beside_the_files(storage: FileSystemMediaStorage) -> None:
    storage.put(io.BytesIO(b"a picture"))

    assert list((storage.root / "incoming").iterdir()) == []


def test_reading_bytes_that_are_gone_says_so(storage: FileSystemMediaStorage) -> None:
    stored = storage.put(io.BytesIO(b"soon gone"))
    storage.delete(stored.key)

    with pytest.raises(ContentMissing):
        storage.read(stored.key)
    storage.delete(stored.key)  # deleting again changes nothing


def test_a_key_that_is_not_a_sha256_is_refused_rather_than_followed(storage: FileSystemMediaStorage) -> None:
    with pytest.raises(ValueError, match="not a media key"):
        storage.read("../../crier.db")
