"""What disconnecting a channel does to its deliveries: those still waiting are cancelled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.models import Channel
from shared.channels.services import mark_disconnected
from shared.deliveries.services import cancel_waiting
from shared.workspaces.access import Actor


def disconnect_channel(session: Session, actor: Actor, channel: Channel, now: datetime) -> Channel:
    """Forget the credentials and cancel what was waiting to go out; what went out stays on record."""
    mark_disconnected(channel)
    cancelled = cancel_waiting(session, channel, now=now, reason="The channel was disconnected.")
    record(session, actor, "channel.disconnected", "channel", channel.id, cancelled=cancelled)
    return channel
