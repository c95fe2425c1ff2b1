"""Imports every model, so the metadata (and Alembic) sees the whole schema."""

from shared.audit.models import AuditEntry
from shared.channels.models import Channel, ChannelState
from shared.db import Base
from shared.deliveries.models import AttemptOutcome, Delivery, DeliveryState, PublishAttempt
from shared.limits.models import RateBucket
from shared.metrics.models import MetricSample
from shared.periodic.models import PeriodicRun
from shared.posts.models import Post
from shared.workspaces.models import ApiToken, Member, Workspace

__all__ = [
    "ApiToken",
    "AttemptOutcome",
    "AuditEntry",
    "Base",
    "Channel",
    "ChannelState",
    "Delivery",
    "DeliveryState",
    "Member",
    "MetricSample",
    "PeriodicRun",
    "Post",
    "PublishAttempt",
    "RateBucket",
    "Workspace",
]
