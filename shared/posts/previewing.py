"""Previewing a draft on channels: each text exactly as each network would receive and count it.

A preview may ask a network (a Mastodon instance announces its own limit), so it reads the channels in a
transaction and asks the networks after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import raiseload

from shared.channels.models import Channel
from shared.channels.opening import Opening, account_with_credentials
from shared.channels.services import account_of
from shared.db import reading, utcnow
from shared.dependencies import HasNetworks, HasSettings
from shared.errors import InvalidInput, Problem
from shared.links.services import (
    LinkRules,
    effective_link_settings_of,
    preview_short_url,
    rewrite_draft,
    utm_context,
)
from shared.networks.ports import Draft, NetworkError, TextPreview
from shared.posts.lengths import draft_texts, length_problems
from shared.text.display import Displayed, display


class Previewing(Opening, HasSettings, HasNetworks, Protocol):
    """What previewing drafts on their channels uses."""


@dataclass(frozen=True)
class ChannelPreview:
    channel_id: uuid.UUID
    channel_name: str
    network: str
    texts: list[TextPreview]
    # Problems with the channel itself, or with asking its network; the texts' own are in `texts`.
    problems: list[str]
    channel_handle: str = ""
    # Each of `texts` as its network shows it (links, mentions, tags, formatting, the fold), in order.
    displays: list[Displayed] = field(default_factory=list)

    @property
    def sendable(self) -> bool:
        return not self.problems and not any(text.problems for text in self.texts)


def preview_draft(
    services: Previewing, workspace_id: uuid.UUID, draft: Draft, channel_ids: Sequence[uuid.UUID]
) -> list[ChannelPreview]:
    """One preview per channel, in the order asked; a channel not in the workspace is a 422 on its index."""
    return preview_drafts(services, workspace_id, [(channel_id, draft) for channel_id in channel_ids])


def preview_drafts(
    services: Previewing, workspace_id: uuid.UUID, drafts: Sequence[tuple[uuid.UUID, Draft]]
) -> list[ChannelPreview]:
    """One preview per (channel, that channel's draft), in the order asked.

    Each text is shown with its links as they will go out: tagged, and where the channel shortens them, a
    placeholder short link of the real one's length, so what the preview counts is what the network will.
    """
    too_long = {
        problem.pointer: problem
        for _, draft in drafts
        for problem in length_problems(draft_texts("", draft.text, draft.thread, draft.options))
    }
    if too_long:
        raise InvalidInput(list(too_long.values()))
    channel_ids = [channel_id for channel_id, _ in drafts]
    with reading(services.sessions, snapshot=False) as session:
        found = {
            channel.id: channel
            for channel in session.scalars(
                select(Channel)
                .where(Channel.workspace_id == workspace_id, Channel.id.in_(channel_ids))
                .options(raiseload(Channel.collection))  # its health is not what a preview shows
            )
        }
        rules = effective_link_settings_of(session, workspace_id, list(found))
    missing = [
        Problem(f"/channel_ids/{index}", f"There is no channel {channel_id} here.")
        for index, channel_id in enumerate(channel_ids)
        if channel_id not in found
    ]
    if missing:
        raise InvalidInput(missing)
    return [
        _preview_on(
            services, found[channel_id], _with_links(services, found[channel_id], rules[channel_id], draft)
        )
        for channel_id, draft in drafts
    ]


def _with_links(services: Previewing, channel: Channel, rules: LinkRules, draft: Draft) -> Draft:
    if not rules.rewrites:
        return draft
    context = utm_context(
        network=channel.network, channel_name=channel.name, post_id=None, scheduled_at=utcnow()
    )
    shorten = partial(preview_short_url, public_url=services.settings.public_url)
    return rewrite_draft(draft, rules, context=context, shorten=shorten)


def _preview_on(services: Previewing, channel: Channel, draft: Draft) -> ChannelPreview:
    network = services.networks.get(channel.network)
    problems = [f"the channel is {channel.state}"] if channel.state != "active" else []
    try:
        account = account_with_credentials(
            services, account_of(channel), channel.sealed_credentials, network=network
        )
        texts = network.preview(account, draft)
    except NetworkError as error:
        unasked = [*problems, f"could not ask the network: {error}"]
        return ChannelPreview(channel.id, channel.name, channel.network, [], unasked, channel.handle)
    displays = [display(channel.network, text.text, settings=channel.settings) for text in texts]
    return ChannelPreview(
        channel.id, channel.name, channel.network, texts, problems, channel.handle, displays
    )
