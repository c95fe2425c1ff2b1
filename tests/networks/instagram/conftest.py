"""The Instagram adapter's tests' fixtures: the fake, a host for media, an account on the fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.networks.instagram.fake import FakeInstagram, IgAccount
from tests.networks.instagram.media_host import MediaHost


@pytest.fixture
def fake() -> Iterator[FakeInstagram]:
    with FakeInstagram() as server:
        yield server


@pytest.fixture
def host() -> Iterator[MediaHost]:
    with MediaHost() as started:
        yield started


@pytest.fixture
def alice(fake: FakeInstagram) -> IgAccount:
    return fake.add_account("alice.makes")
