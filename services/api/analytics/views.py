"""GET /v1/analytics/…: engagement series, a period's summary, ranked posts, best times, follower snapshots,
and how well the inbox is answered.

Each answers JSON, or CSV with `Accept: text/csv` (the same route: one resource, two representations).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema

from services.api.analytics.schemas import (
    BestTimesQuerySchema,
    BestTimesSchema,
    PeriodQuerySchema,
    RankedPostsQuerySchema,
    RankedPostsSchema,
    ResponsesSchema,
    ScopedSeriesQuerySchema,
    SeriesQuerySchema,
    SeriesSchema,
    SnapshotsQuerySchema,
    SnapshotsSchema,
    SummaryQuerySchema,
    SummarySchema,
    encode_rank_cursor,
)
from services.api.analytics.tables import (
    CSV_RESPONSE,
    best_times_table,
    posts_table,
    responses_table,
    series_table,
    snapshots_table,
    summary_table,
    wants_csv,
)
from services.api.auth import requires
from services.api.context import get_actor, get_services
from shared.db import utcnow
from shared.errors import InvalidInput, Problem
from shared.inbox.analytics import responsiveness
from shared.metrics.analytics import Period, Selection, interactions_of
from shared.metrics.best_times import best_times
from shared.metrics.models import COUNTS
from shared.metrics.series import Point, engagement_series
from shared.metrics.snapshots import channel_snapshots
from shared.metrics.summary import engagement_summary, ranked_posts
from shared.timezones import as_utc, check_timezone, to_utc
from shared.workspaces.access import Permission

blp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/v1/analytics",
    description="Engagement over time, per period, per post and per hour of the week; JSON or CSV.",
)

View = Callable[..., Any]

DEFAULT_PERIOD = timedelta(days=30)
DEFAULT_SNAPSHOT_DAYS = 90
MAX_SNAPSHOT_DAYS = 731


def report(
    query: type[Schema], answer: type[Schema], *, names_a_resource: bool = True
) -> Callable[[View], View]:
    """What every analytics GET declares: read access, its query, and a JSON answer or the same as CSV.

    One that names a channel or a post (in its path or its query) also answers 404 when it is not there.
    """

    def declare(view: View) -> View:
        view = blp.alt_response(200, **CSV_RESPONSE)(view)
        if names_a_resource:
            view = blp.alt_response(404, response="NOT_FOUND")(view)
        view = blp.response(200, answer)(view)
        view = blp.arguments(query, location="query")(view)
        return requires(Permission.READ)(view)

    return declare


@blp.route("/series")
class Series(MethodView):
    @report(SeriesQuerySchema, SeriesSchema, names_a_resource=False)
    def get(self, query: dict[str, Any]) -> Any:
        """The workspace's engagement gained in each hour, day or week, for one network or label if asked."""
        selection = Selection(
            get_actor().workspace_id, network=query.get("network"), label=query.get("label")
        )
        return _series(selection, query)


@blp.route("/channels/<uuid:channel_id>/series")
class ChannelSeries(MethodView):
    @report(ScopedSeriesQuerySchema, SeriesSchema)
    def get(self, query: dict[str, Any], channel_id: uuid.UUID) -> Any:
        """One channel's engagement gained in each hour, day or week."""
        return _series(Selection(get_actor().workspace_id, channel_id=channel_id), query)


@blp.route("/posts/<uuid:post_id>/series")
class PostSeries(MethodView):
    @report(ScopedSeriesQuerySchema, SeriesSchema)
    def get(self, query: dict[str, Any], post_id: uuid.UUID) -> Any:
        """One post's engagement gained in each hour, day or week, on all its channels."""
        return _series(Selection(get_actor().workspace_id, post_id=post_id), query)


@blp.route("/summary")
class SummaryView(MethodView):
    @report(SummaryQuerySchema, SummarySchema)
    def get(self, query: dict[str, Any]) -> Any:
        """A period's totals, engagement rate (with the definition used), posts published and top posts.

        The CSV is one row of the figures; the top posts are GET /v1/analytics/posts.
        """
        period = _period(query)
        with get_services().sessions.begin() as session:
            summary = engagement_summary(session, _selection(query), period, top=query["top"])
        if wants_csv():
            return summary_table(summary, query["tz"])
        rate = summary.engagement_rate
        return {
            "timezone": query["tz"],
            "start": period.start.astimezone(period.zone),
            "end": period.end.astimezone(period.zone),
            "totals": {**summary.totals, "interactions": summary.interactions},
            "posts_published": summary.posts_published,
            "engagement_rate": {**rate.__dict__, "definition": rate.definition},
            "top_posts": summary.top_posts,
        }


@blp.route("/posts")
class RankedPosts(MethodView):
    @report(RankedPostsQuerySchema, RankedPostsSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Posts published in the period with their totals to date, most interactions first."""
        limit = query["limit"]
        with get_services().sessions.begin() as session:
            posts = ranked_posts(
                session, _selection(query), _period(query), limit=limit + 1, after=query.get("cursor")
            )
        page = posts[:limit]
        if wants_csv():
            return posts_table(page)
        more = len(posts) > limit
        return {
            "items": page,
            "next_cursor": encode_rank_cursor(page[-1].interactions, page[-1].post_id) if more else None,
        }


@blp.route("/channels/<uuid:channel_id>/best-times")
class BestTimesView(MethodView):
    @report(BestTimesQuerySchema, BestTimesSchema)
    def get(self, query: dict[str, Any], channel_id: uuid.UUID) -> Any:
        """When the channel's posts did best: a weekday by hour grid on its clock, with sample sizes.

        Suggested slots come with the next free time of each, and as a `posting_schedule`: PATCH that into
        the channel (PATCH /v1/channels/{channel_id}) and its queue posts at them.
        """
        with get_services().sessions.begin() as session:
            found = best_times(
                session,
                get_actor().workspace_id,
                channel_id,
                now=utcnow(),
                days=query["days"],
                suggestions=query["suggestions"],
            )
        if wants_csv():
            return best_times_table(found)
        zone = check_timezone(found.timezone)
        return {
            **found.__dict__,
            "suggestions": [replace(s, next_at=s.next_at.astimezone(zone)) for s in found.suggestions],
            "posting_schedule": found.posting_schedule,
        }


@blp.route("/channels/<uuid:channel_id>/snapshots")
class Snapshots(MethodView):
    @report(SnapshotsQuerySchema, SnapshotsSchema)
    def get(self, query: dict[str, Any], channel_id: uuid.UUID) -> Any:
        """The channel's followers, follows and posts, as its network gave them, one snapshot a day."""
        last_day: date = query.get("end") or utcnow().date()
        first_day: date = query.get("start") or last_day - timedelta(days=DEFAULT_SNAPSHOT_DAYS)
        if (last_day - first_day).days > MAX_SNAPSHOT_DAYS or last_day < first_day:
            raise InvalidInput(
                [Problem("/from", f"Ask for at most {MAX_SNAPSHOT_DAYS} days, `from` before `to`.")]
            )
        with get_services().sessions.begin() as session:
            items = channel_snapshots(
                session, get_actor().workspace_id, channel_id, first_day=first_day, last_day=last_day
            )
        if wants_csv():
            return snapshots_table(items)
        return {"channel_id": channel_id, "items": items}


@blp.route("/responses")
class Responses(MethodView):
    @report(PeriodQuerySchema, ResponsesSchema, names_a_resource=False)
    def get(self, query: dict[str, Any]) -> Any:
        """How well the inbox is answered: per channel and per member, the replies, mentions, quotes and
        messages written in the period, how many got a reply from Crier, and how soon it went out."""
        period = _period(query)
        with get_services().sessions.begin() as session:
            by_channel, by_member = responsiveness(
                session, get_actor().workspace_id, period.start, period.end
            )
        if wants_csv():
            return responses_table(by_channel, by_member)
        return {
            "timezone": query["tz"],
            "start": period.start.astimezone(period.zone),
            "end": period.end.astimezone(period.zone),
            "channels": by_channel,
            "members": by_member,
        }


def _series(selection: Selection, query: dict[str, Any]) -> Any:
    period, bucket = _period(query), query["bucket"]
    with get_services().sessions.begin() as session:
        points = engagement_series(session, selection, period, bucket)
    if wants_csv():
        return series_table(points)
    return {
        "timezone": query["tz"],
        "bucket": bucket,
        "start": period.start.astimezone(period.zone),
        "end": period.end.astimezone(period.zone),
        "source": "samples" if selection.from_samples else "rollups",
        "points": points,
        "totals": _totals(points),
    }


def _totals(points: list[Point]) -> dict[str, int | None]:
    totals: dict[str, int | None] = dict.fromkeys(COUNTS)
    for point in points:
        for name, value in point.counts.items():
            if value is not None:
                totals[name] = (totals[name] or 0) + value
    return {**totals, "interactions": interactions_of(totals)}


def _period(query: dict[str, Any]) -> Period:
    """The asked period in UTC: times without an offset are read in `tz`; by default the last 30 days."""
    zone = check_timezone(query["tz"], pointer="/tz")

    def instant(moment: datetime) -> datetime:
        return as_utc(moment) if moment.tzinfo else to_utc(moment, zone)

    end = instant(query["end"]) if "end" in query else utcnow()
    start = instant(query["start"]) if "start" in query else end - DEFAULT_PERIOD
    return Period(start, end, zone)


def _selection(query: dict[str, Any]) -> Selection:
    return Selection(
        get_actor().workspace_id,
        network=query.get("network"),
        label=query.get("label"),
        channel_id=query.get("channel_id"),
    )
