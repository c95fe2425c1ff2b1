from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, created_timestamp, json_document, uuid_pk
from shared.workspaces.models import workspace_fk


class PendingAuthorization(Base):
    """A person sent to a network to approve Crier, from then until they come back, or ten minutes pass.

    The state in the network's redirect is the only credential the way back carries, so it is stored as
    its SHA-256 alone: someone who can read the database cannot complete another person's authorization.
    """

    __tablename__ = "pending_authorizations"

    id: Mapped[uuid_pk]
    workspace_id: Mapped[workspace_fk]
    # Who began it; their authorization goes with them when they leave the workspace.
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    network: Mapped[str] = mapped_column(String(64))
    channel_name: Mapped[str] = mapped_column(String(200))
    # The channel's network options (a Mastodon server's address), checked by the adapter when it began.
    settings: Mapped[json_document]
    # Set when reconnecting this channel rather than connecting a new one.
    channel_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # The PKCE code verifier and the network's client credentials, sealed like channel credentials.
    sealed_secrets: Mapped[bytes] = mapped_column(LargeBinary)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime]
    created_at: Mapped[created_timestamp]
