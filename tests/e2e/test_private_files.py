"""What Crier keeps in its data directory is its user's alone: files 0600, folders 0700."""

from __future__ import annotations

import stat

import httpx
import pytest

from shared.credentials import EMBEDDED_SECRET_FILE
from tests.driving import wait_for
from tests.e2e.conftest import RunningStack
from tests.media.samples import image

pytestmark = pytest.mark.e2e


def test_every_file_and_folder_crier_up_makes_is_private(stack: RunningStack) -> None:
    api = httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {stack.create_token()}"}, timeout=10
    )
    channel = api.post("/v1/channels", json={"network": "sandbox", "name": "Files", "handle": "files"}).json()
    media = api.post("/v1/media", files={"file": ("meetup.png", image(), "image/png")}).json()
    created = api.post(
        "/v1/posts", json={"text": "Kept private.", "channel_ids": [channel["id"]], "media": [media["id"]]}
    )
    assert created.status_code == 201, created.text
    post = wait_for(
        lambda: api.get(f"/v1/posts/{created.json()['id']}").json(),
        lambda p: all(d["state"] == "published" for d in p["deliveries"]),
        timeout=15,
    )
    assert [d["state"] for d in post["deliveries"]] == ["published"]

    data_dir = stack.settings.data_dir
    made = [data_dir, *data_dir.rglob("*")]
    modes = {path.relative_to(data_dir.parent): stat.S_IMODE(path.lstat().st_mode) for path in made}

    # What every process writes there: the API (media), the worker and the API (Prometheus counts), and
    # in the embedded mode the database, the secret that seals credentials and the broker's messages.
    kinds = {path.relative_to(data_dir).parts[0] for path in made if path != data_dir}
    assert {"media", "prometheus"} <= kinds
    if stack.backend == "embedded":
        assert {"crier.db", "broker", "sandbox.db", EMBEDDED_SECRET_FILE} <= kinds
    assert {
        str(path): oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if (data_dir.parent / path).is_dir() else 0o600)
    } == {}
