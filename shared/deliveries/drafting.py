"""The draft a delivery sends: its channel's variant of the post, with the links as the channel's rules say.

Links are tagged (UTM) and shortened here, in the transaction that starts the attempt, so the short links
exist before the post that carries them does. A retry, or a check with the network after an uncertain
attempt, rewrites the same text to the same links (shorten_for_delivery reuses a delivery's codes).
"""

from __future__ import annotations

import uuid
from functools import partial

from sqlalchemy.orm import Session

from shared.deliveries.models import Delivery
from shared.links.services import (
    LinkRules,
    effective_link_settings,
    rewrite_draft,
    shorten_for_delivery,
    utm_context,
)
from shared.networks.ports import Draft


class SentDrafts:
    """Drafts for a batch of deliveries, reading each channel's link rules once."""

    def __init__(self, session: Session, public_url: str | None) -> None:
        self.session = session
        self.public_url = public_url
        self._rules: dict[uuid.UUID, LinkRules] = {}

    def of(self, delivery: Delivery) -> Draft:
        post, channel = delivery.post, delivery.channel
        draft = post.draft_for(channel.id)
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
