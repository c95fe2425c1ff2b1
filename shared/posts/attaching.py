"""Which media a post may attach on which channel: each asset must be the workspace's and fit the rule the
channel's network declares (`NetworkInfo.media`) — how many, which types, how large, how long a description.

Checked from the assets' stored type and size, without reading their bytes. The network's own `validate`
still has the last word at publishing time (Mastodon's "a video must be the only attachment", say).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.errors import Problem
from shared.media.models import MediaAsset
from shared.networks.ports import NetworkInfo
from shared.networks.registry import NetworkRegistry
from shared.posts.requests import PostRequest


def media_problems(
    session: Session,
    networks: NetworkRegistry,
    workspace_id: uuid.UUID,
    request: PostRequest,
    channels: Mapping[uuid.UUID, Channel],
) -> list[Problem]:
    """What is wrong with the post's media and its variants' media, each pointing at its list or item."""
    lists = [("/media", request.media)] + [
        (f"{request.channels_pointer}/{index}/media", target.media)
        for index, target in enumerate(request.targets)
        if target.media is not None
    ]
    wanted = {media_id for _, ids in lists for media_id in ids}
    # FOR SHARE: an asset being deleted right now is either gone once this reads, or stays until this
    # post is committed, where shared.workflow.media.delete_media sees it attaches the asset.
    query = select(MediaAsset).where(MediaAsset.workspace_id == workspace_id, MediaAsset.id.in_(wanted))
    assets = (
        {asset.id: asset for asset in session.scalars(query.with_for_update(read=True))} if wanted else {}
    )
    problems = [problem for pointer, ids in lists for problem in _unknown_or_repeated(pointer, ids, assets)]
    for index, target in enumerate(request.targets):
        channel = channels.get(target.channel_id)
        if channel is None:
            continue  # check_request names the missing channel
        if target.media is None:
            pointer, ids = "/media", request.media
        else:
            pointer, ids = f"{request.channels_pointer}/{index}/media", target.media
        info = networks.get(channel.network).info
        if not ids:
            if info.media is not None and info.media.min_items > 0:
                remedy = "attach some" if target.media is None else "give this channel's variant some"
                problems.append(
                    Problem(
                        pointer,
                        f"{channel.name} ({channel.network}): {info.display_name} takes no post without "
                        f"media: {remedy}.",
                    )
                )
            continue
        attached = [(number, assets[media_id]) for number, media_id in enumerate(ids) if media_id in assets]
        problems += [
            Problem(f"{pointer}{where}", f"{channel.name} ({channel.network}): {detail}")
            for where, detail in fit_problems(info, len(ids), attached, own_list=target.media is not None)
        ]
    return problems


def fit_problems(
    info: NetworkInfo, count: int, attached: Sequence[tuple[int, MediaAsset]], *, own_list: bool
) -> list[tuple[str, str]]:
    """How `count` attachments break the network's media rule: (pointer below the list, detail) pairs."""
    rule = info.media
    if rule is None:
        remedy = "remove them" if own_list else "give this channel `media: []` in its variant"
        return [("", f"{info.display_name} takes no media from Crier: {remedy}.")]
    problems = []
    if count < rule.min_items:
        problems.append(("", f"{count} attached; {info.display_name} takes at least {rule.min_items}."))
    if count > rule.max_items:
        problems.append(("", f"{count} attached; {info.display_name} takes at most {rule.max_items}."))
    for number, asset in attached:
        where = f"/{number}"
        if asset.content_type not in rule.content_types:
            problems.append(
                (
                    where,
                    f"{asset.filename} is {asset.content_type}; {info.display_name} takes "
                    f"{', '.join(rule.content_types)}.",
                )
            )
        # One limit for every type: the rule declares the strictest (Mastodon's images', not its videos').
        elif asset.size > rule.max_bytes:
            problems.append(
                (
                    where,
                    f"{asset.filename} is {asset.size:,} bytes; {info.display_name} takes at most "
                    f"{rule.max_bytes:,} bytes.",
                )
            )
        if rule.alt_text_limit is not None and len(asset.alt_text or "") > rule.alt_text_limit:
            problems.append(
                (
                    where,
                    f"{asset.filename}'s alt text is {len(asset.alt_text or '')} characters; "
                    f"{info.display_name} takes at most {rule.alt_text_limit}.",
                )
            )
    return problems


def _unknown_or_repeated(
    pointer: str, ids: Sequence[uuid.UUID], assets: Mapping[uuid.UUID, MediaAsset]
) -> list[Problem]:
    problems = []
    for number, media_id in enumerate(ids):
        if media_id not in assets:
            problems.append(Problem(f"{pointer}/{number}", f"There is no media {media_id} here."))
        elif media_id in ids[:number]:
            problems.append(Problem(f"{pointer}/{number}", f"Media {media_id} is attached more than once."))
    return problems
