"""The draft a delivery sends: its channel's variant of the post, with the links as the channel's rules say,
and its media read from the media storage, each with a signed address for the networks that fetch media
(shared.media.public_addresses), valid for an hour from when the attempt's draft is made.

Links are tagged (UTM) and shortened here, in the transaction that starts the attempt, so the short links
exist before the post that carries them does. A retry, or a check with the network after an uncertain
attempt, rewrites the same text to the same links (shorten_for_delivery reuses a delivery's codes).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.deliveries.models import Delivery
from shared.links.services import (
    LinkRules,
    effective_link_settings,
    rewrite_draft,
    shorten_for_delivery,
    utm_context,
)
from shared.media.models import MediaAsset
from shared.media.ports import ContentMissing, MediaStorage
from shared.media.public_addresses import PublicAddresses
from shared.networks.ports import Draft, MediaItem
from shared.posts.models import Post

log = logging.getLogger(__name__)


class SentDrafts:
    """Drafts for a batch of deliveries, reading each channel's link rules once and each file's bytes once."""

    def __init__(
        self,
        session: Session,
        public_url: str | None,
        media: MediaStorage | None = None,
        addresses: PublicAddresses | None = None,
    ) -> None:
        """`addresses` gives each media item a signed address where a network may fetch it (Instagram and
        Threads take media only by URL); without it, items carry none."""
        self.session = session
        self.public_url = public_url
        self.media = media
        self.addresses = addresses
        self._rules: dict[uuid.UUID, LinkRules] = {}
        # A post to five channels sends the same bytes five times: they are read, and held, once.
        self._contents: dict[str, bytes] = {}

    def of(self, delivery: Delivery) -> Draft:
        post, channel = delivery.post, delivery.channel
        draft = post.draft_for(channel.id)
        media = self._media_of(post, channel.id)
        if media:
            draft = replace(draft, media=media)
        rules = self._rules.get(channel.id)
        if rules is None:
            rules = self._rules[channel.id] = effective_link_settings(
                self.session, post.workspace_id, channel.id
            )
        if not rules.rewrites:
            return draft
        context = utm_context(
            network=channel.network,
            channel_name=channel.name,
            post_id=post.id,
            scheduled_at=delivery.scheduled_at,
            labels=post.label_names,
        )
        public_url = self.public_url
        if public_url is None:
            if rules.shorten:
                raise ValueError("shortening links needs the public URL they are served from")
            public_url = ""  # tagging only: no short link is made
        shorten = partial(
            shorten_for_delivery, self.session, post.workspace_id, delivery.id, public_url=public_url
        )
        return rewrite_draft(draft, rules, context=context, shorten=shorten)

    def _media_of(self, post: Post, channel_id: uuid.UUID) -> tuple[MediaItem, ...]:
        media_ids = post.media_for(channel_id)
        if not media_ids:
            return ()
        storage = self.media
        if storage is None:
            raise ValueError("sending a post's media needs the media storage it is kept in")
        assets = {
            asset.id: asset
            for asset in self.session.scalars(select(MediaAsset).where(MediaAsset.id.in_(media_ids)))
        }
        items = []
        for media_id in media_ids:
            asset = assets.get(media_id)
            data = self._content_of(storage, asset) if asset is not None else None
            if asset is None or data is None:
                # Deleting media is refused while a post that may still go out attaches it, so this is a
                # delivery a person retried after that. Holding the whole batch back for it would be worse.
                log.warning("post %s goes out without media %s: it is gone", post.id, media_id)
                continue
            addresses = self.addresses
            public_url = addresses.address_of(asset.workspace_id, asset.id) if addresses is not None else None
            items.append(
                MediaItem(
                    content_type=asset.content_type,
                    data=data,
                    alt_text=asset.alt_text,
                    public_url=public_url,
                )
            )
        return tuple(items)

    def _content_of(self, storage: MediaStorage, asset: MediaAsset) -> bytes | None:
        if asset.storage_key not in self._contents:
            try:
                self._contents[asset.storage_key] = storage.read(asset.storage_key)
            except ContentMissing:
                return None
        return self._contents[asset.storage_key]
