"""Reactions to the channel's posts, as likes, read from the bot's pending updates.

The Bot API gives no count of a channel post's views, and no method reads a message's reactions. What it
gives is an update: `message_reaction_count`, sent to a bot that administers the chat and asks for it in
getUpdates' `allowed_updates`, with each reaction's `total_count` on one message at the time (reactions
in channels are anonymous, so only counts come). Telegram keeps a bot's updates for 24 hours, until one
getUpdates call confirms them by asking past them with `offset`.

Crier asks without an offset, so it confirms nothing: no count is lost for lack of a place to keep it (an
adapter holds no state between calls; Crier stores readings, not the bot's update queue), and the same
updates are read again next time, the latest per message being its count now. So a post's likes are known
while an update about it is pending, within the first 100 pending updates; a post with none is left out
of the reading, which is "not known", never zero. The inbox's read confirms the updates, and hands their
counts on with its page (likes_by_message), so no reaction update goes unread either way.

Asking with `allowed_updates` sets what the bot receives from then on: the bot is to be Crier's own, and
one that takes its updates by webhook cannot be asked (409: Rejected, with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.networks.ports import Engagement, PostGone
from shared.networks.telegram.messages import SentMessages, parse_external_id


def reactions_by_message(updates: Iterable[Mapping[str, Any]]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """Each message's reactions as the latest update about it says, keyed by (chat id, message id)."""
    latest: dict[tuple[int, int], tuple[int, list[dict[str, Any]]]] = {}
    for update in updates:
        counted = update.get("message_reaction_count")
        if not isinstance(counted, dict) or not isinstance(update.get("update_id"), int):
            continue
        chat, message_id, reactions = counted.get("chat"), counted.get("message_id"), counted.get("reactions")
        if not isinstance(chat, dict) or not isinstance(message_id, int) or not isinstance(reactions, list):
            continue
        try:
            key = (int(chat["id"]), message_id)
        except (KeyError, TypeError, ValueError):
            continue
        if key not in latest or latest[key][0] < update["update_id"]:
            latest[key] = (update["update_id"], [item for item in reactions if isinstance(item, dict)])
    return {key: reactions for key, (_, reactions) in latest.items()}


def engagement_of(
    external_ids: Sequence[str], reactions: Mapping[tuple[int, int], list[dict[str, Any]]]
) -> dict[str, Engagement | PostGone]:
    """Likes for each post an update speaks of: every reaction on any of its messages (an album's too)."""
    readings: dict[str, Engagement | PostGone] = {}
    for external_id in external_ids:
        sent = parse_external_id(external_id)
        if sent is None:
            continue
        found = [
            reaction
            for message_id in sent.message_ids
            for reaction in reactions.get((sent.chat_id, message_id), [])
        ]
        if not any((sent.chat_id, message_id) in reactions for message_id in sent.message_ids):
            continue
        likes = sum(_count(reaction) for reaction in found)
        readings[external_id] = Engagement(likes=likes, raw={"reactions": found})
    return readings


def _count(reaction: Mapping[str, Any]) -> int:
    count = reaction.get("total_count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


def likes_by_message(reactions: Mapping[tuple[int, int], list[dict[str, Any]]]) -> dict[str, Engagement]:
    """Likes for each message the reactions speak of, keyed as a one-message post's external id.

    An album's reactions are on its messages one by one, and its external id names them all: the inbox
    cannot tell which album a message belongs to, so an album's likes come from fetch_engagement only.
    """
    return {
        SentMessages(chat_id, (message_id,)).external_id: Engagement(
            likes=sum(_count(reaction) for reaction in found), raw={"reactions": found}
        )
        for (chat_id, message_id), found in reactions.items()
    }
