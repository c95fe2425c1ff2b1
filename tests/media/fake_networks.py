"""The sandbox network, taking images: what the media tests publish through, keeping what it was sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from importlib.metadata import EntryPoint

from shared.networks.ports import Account, Draft, MediaRule, PublishedPart, PublishedPost
from shared.networks.registry import ENTRY_POINT_GROUP
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.store import SandboxStore

PICTURES_ENTRY = EntryPoint(
    name="sandbox_pictures",
    value="tests.media.fake_networks:PicturesSandbox.from_settings",
    group=ENTRY_POINT_GROUP,
)


class PicturesSandbox(SandboxNetwork):
    """`sandbox_pictures`: the sandbox with a media rule, keeping every draft it published."""

    info = replace(
        SandboxNetwork.info,
        name="sandbox_pictures",
        display_name="Sandbox with pictures (tests)",
        media=MediaRule(content_types=("image/png", "image/jpeg"), max_bytes=50_000, max_items=2),
    )

    def __init__(self, store: SandboxStore) -> None:
        super().__init__(store)
        self.published: list[Draft] = []

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        self.published.append(draft)
        return super().publish(account, draft, idempotency_key, published=published)
