"""Telling the workspace's webhooks what happened to deliveries and channels, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.channels.models import Channel
from shared.deliveries.models import ChangeKind, ChangeState, Delivery, DeliveryChange, DeliveryState
from shared.notifications.models import EventType
from shared.notifications.outbox import Event, emit_all
from shared.posts.models import Post

EVENT_OF_STATE = {
    DeliveryState.PUBLISHED: EventType.DELIVERY_PUBLISHED,
    DeliveryState.FAILED: EventType.DELIVERY_FAILED,
    DeliveryState.NEEDS_REVIEW: EventType.DELIVERY_NEEDS_REVIEW,
}


def announce_deliveries(session: Session, settled: Mapping[uuid.UUID, DeliveryState | None]) -> None:
    """An event for each delivery that reached a state a workspace wants to hear about."""
    told = [delivery_id for delivery_id, state in settled.items() if state in EVENT_OF_STATE]
    if not told:
        return
    rows = session.execute(
        select(Delivery, Post.workspace_id, Channel.network)
        .join(Post, Post.id == Delivery.post_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.id.in_(told))
    )
    emit_all(
        session,
        [
            Event(
                workspace_id,
                EVENT_OF_STATE[delivery.state],
                {
                    "delivery_id": delivery.id,
                    "post_id": delivery.post_id,
                    "channel_id": delivery.channel_id,
                    "network": network,
                    "state": delivery.state,
                    "occurrence": delivery.occurrence,
                    "url": delivery.external_url,
                    "published_at": delivery.published_at,
                    "error": delivery.last_error,
                },
            )
            for delivery, workspace_id, network in rows
            if delivery.state in EVENT_OF_STATE
        ],
    )


def announce_change(session: Session, change_id: uuid.UUID) -> None:
    """What became of a delete or an edit: done (delivery.deleted, delivery.edited), or not to be."""
    row = session.execute(
        select(DeliveryChange, Delivery, Post.workspace_id, Channel.network)
        .join(Delivery, Delivery.id == DeliveryChange.delivery_id)
        .join(Post, Post.id == Delivery.post_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(DeliveryChange.id == change_id)
    ).one()
    change, delivery, workspace_id, network = row
    if change.state is ChangeState.DONE:
        event = EventType.DELIVERY_DELETED if change.kind is ChangeKind.DELETE else EventType.DELIVERY_EDITED
    elif change.state in (ChangeState.FAILED, ChangeState.NEEDS_REVIEW):
        event = EventType.DELIVERY_CHANGE_FAILED
    else:
        return
    emit_all(
        session,
        [
            Event(
                workspace_id,
                event,
                {
                    "delivery_id": delivery.id,
                    "post_id": delivery.post_id,
                    "channel_id": delivery.channel_id,
                    "network": network,
                    "change_id": change.id,
                    "kind": change.kind,
                    "state": change.state,
                    "url": delivery.external_url,
                    "error": change.last_error,
                },
            )
        ],
    )
