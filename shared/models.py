"""Imports every model, so the metadata (and Alembic) sees the whole schema, and makes the sessions."""

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.audit.models import AuditEntry
from shared.bulk.models import PostImport
from shared.channels.models import Channel, ChannelState
from shared.db import Base
from shared.deliveries.models import (
    AttemptOutcome,
    Delivery,
    DeliveryChange,
    DeliveryPart,
    DeliveryState,
    PublishAttempt,
)
from shared.idempotency.models import IdempotencyKey
from shared.inbox.models import (
    InboxAction,
    InboxItem,
    InboxItemLabel,
    InboxNote,
    InboxReply,
    InboxSource,
)
from shared.limits.models import RateBucket
from shared.links.models import LinkSettings, ShortLink
from shared.media.models import MediaAsset
from shared.metrics.models import (
    ChannelCollection,
    ChannelSnapshot,
    DeliveryMetrics,
    EngagementHour,
    MetricSample,
)
from shared.notifications.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from shared.oauth.models import PendingAuthorization
from shared.periodic.models import PeriodicRun
from shared.posts.models import Post, PostLabel, PostTarget
from shared.workspaces.models import ApiToken, DashboardSession, Member, Workspace

__all__ = [
    "ApiToken",
    "AttemptOutcome",
    "AuditEntry",
    "Base",
    "Channel",
    "ChannelCollection",
    "ChannelSnapshot",
    "ChannelState",
    "DashboardSession",
    "Delivery",
    "DeliveryChange",
    "DeliveryMetrics",
    "DeliveryPart",
    "DeliveryState",
    "EngagementHour",
    "IdempotencyKey",
    "InboxAction",
    "InboxItem",
    "InboxItemLabel",
    "InboxNote",
    "InboxReply",
    "InboxSource",
    "LinkSettings",
    "MediaAsset",
    "Member",
    "MetricSample",
    "PendingAuthorization",
    "PeriodicRun",
    "Post",
    "PostImport",
    "PostLabel",
    "PostTarget",
    "PublishAttempt",
    "RateBucket",
    "ShortLink",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookMessage",
    "Workspace",
]


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `engine`, made here so that every model is mapped before the first one.

    Relationships name the models of other features as strings (a channel's collection health lives in
    shared.metrics), and a process that imported only some features (the scheduler, a CLI command) would
    fail to configure the mappers at its first query.
    """
    # expire_on_commit=False: views serialize objects after their transaction has committed.
    return sessionmaker(engine, expire_on_commit=False)
