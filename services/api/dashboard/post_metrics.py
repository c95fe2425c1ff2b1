"""A post's metrics on its page: GET /v1/analytics/posts/{id}/series since it went out, drawn as a chart,
and each delivery's latest reading as GET /v1/posts/{id}/metrics gives it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy.orm import Session

from services.api.dashboard.charts import metrics_chart
from shared.deliveries.models import Delivery
from shared.metrics.analytics import Period, Selection, interactions_of
from shared.metrics.models import COUNTS, INTERACTIONS, MetricSample
from shared.metrics.series import Bucket, engagement_series
from shared.metrics.services import samples_for_post
from shared.posts.models import Post
from shared.timezones import to_local, to_utc

# Up to two days since it went out the chart is by hour; after that by day, and by week after half a year,
# so the chart stays a readable number of points however old the post.
HOURLY_UNTIL = timedelta(days=2)
DAILY_UNTIL = timedelta(days=183)


@dataclass(frozen=True)
class LatestReading:
    """One delivery's latest sample; None when the network has not been read for it yet."""

    delivery: Delivery
    sample: MetricSample | None

    def count(self, metric: str) -> int | None:
        if self.sample is None:
            return None
        if metric == "interactions":
            return interactions_of({name: getattr(self.sample, name) for name in COUNTS})
        value: int | None = getattr(self.sample, metric)
        return value


@dataclass(frozen=True)
class PostMetrics:
    bucket: Bucket
    chart: Markup | None  # None when no interaction was ever reported: there is no line to draw
    latest: list[LatestReading]


def read_post_metrics(
    session: Session, workspace_id: uuid.UUID, post: Post, zone: ZoneInfo, now: datetime
) -> PostMetrics | None:
    """The post's series from the day it first went out until now, in its zone; None before it went out."""
    published = [delivery.published_at for delivery in post.deliveries if delivery.published_at]
    if not published:
        return None
    first_day = to_local(min(published), zone).date()
    start = to_utc(datetime.combine(first_day, time()), zone)
    end = max(now, start + timedelta(hours=1))
    bucket = _bucket(end - start)
    period = Period(start, end, zone)
    points = engagement_series(session, Selection(workspace_id, post_id=post.id), period, bucket)
    lines = {
        metric: [point.counts[metric] for point in points]
        for metric in INTERACTIONS
        if any(point.counts[metric] is not None for point in points)
    }
    labels = [_label(point.start, bucket) for point in points]
    chart = metrics_chart(labels, lines, y_title=f"gained each {bucket.value}") if lines else None
    latest = [
        LatestReading(delivery, samples[-1] if samples else None)
        for delivery, samples in samples_for_post(session, workspace_id, post.id)
        if delivery.published_at
    ]
    return PostMetrics(bucket, chart, latest)


def _bucket(span: timedelta) -> Bucket:
    if span <= HOURLY_UNTIL:
        return Bucket.HOUR
    return Bucket.DAY if span <= DAILY_UNTIL else Bucket.WEEK


def _label(start: datetime, bucket: Bucket) -> str:
    return f"{start:%d %b %H:%M}" if bucket is Bucket.HOUR else f"{start:%d %b}"


def shown_or_not_given(count: int | None) -> str:
    """A count in the table: one the network did not give is said so, never shown as 0."""
    return "not given" if count is None else str(count)
