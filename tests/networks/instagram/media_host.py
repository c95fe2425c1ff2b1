"""Where tests serve media for the fake Instagram to fetch, over real HTTP (Crier's own /public-media route is
used where a test runs the API: tests/networks/instagram/test_through_crier.py)."""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask, Response

from shared.networks.ports import MediaItem
from tests.networks.fake_servers import FakeServer


class MediaHost(FakeServer):
    """Files at addresses of their own, served with the content type each is given."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.names = itertools.count()
        app = Flask(__name__)

        @app.get("/files/<name>")
        def serve(name: str) -> Response:
            if name not in self.files:
                return Response("not here", 404)
            data, kind = self.files[name]
            return Response(data, 200, content_type=kind)

        super().__init__(app)

    def item(
        self, data: bytes, kind: str = "image/jpeg", *, served_as: str | None = None, **more: Any
    ) -> MediaItem:
        """A media item of these bytes whose public address serves them (as `served_as`, if given)."""
        name = f"f{next(self.names)}"
        self.files[name] = (data, served_as or kind)
        return MediaItem(kind, data, public_url=f"{self.base_url}/files/{name}", **more)
