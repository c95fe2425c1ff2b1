"""Every analytics answer as a CSV table, for a spreadsheet: asked for with `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request

from shared.channels.slots import WEEKDAY_KEYS
from shared.inbox.analytics import Responsiveness
from shared.metrics.best_times import BestTimes
from shared.metrics.models import COUNTS, ChannelSnapshot
from shared.metrics.series import Point
from shared.metrics.summary import RankedPost, Summary
from shared.spreadsheets import to_spreadsheet

CSV = "text/csv"
# Each 200 answer's second representation, for the OpenAPI document.
CSV_RESPONSE: dict[str, Any] = {
    "schema": {"type": "string"},
    "content_type": CSV,
    "description": "JSON; with `Accept: text/csv`, the same figures as a CSV table (UTF-8, byte-order mark).",
    "success": True,
}
COUNT_COLUMNS = [*COUNTS, "interactions"]


def wants_csv() -> bool:
    """Whether the request prefers CSV to JSON; JSON when it says nothing, or anything (*/*)."""
    return request.accept_mimetypes.best_match(["application/json", CSV]) == CSV


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """UTF-8 with a byte-order mark, as the posts export: spreadsheets then read accents right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype=CSV,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Vary": "Accept"},
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""  # unknown: an empty cell, never a 0
    if isinstance(value, datetime | date):
        return value.isoformat()
    # A post's text is whatever its author typed: a spreadsheet must not run it as a formula.
    return to_spreadsheet(value)


def series_table(points: Sequence[Point]) -> Response:
    return csv_response(
        "series",
        ["start", "end", *COUNT_COLUMNS],
        (
            [point.start, point.end, *(point.counts[name] for name in COUNTS), point.interactions]
            for point in points
        ),
    )


def summary_table(summary: Summary, timezone: str) -> Response:
    rate = summary.engagement_rate
    header = [
        "from",
        "to",
        "timezone",
        "posts_published",
        *COUNT_COLUMNS,
        "engagement_rate",
        "engagement_rate_basis",
        "engagement_rate_interactions",
        "engagement_rate_denominator",
    ]
    row = [
        summary.period.start.astimezone(summary.period.zone),
        summary.period.end.astimezone(summary.period.zone),
        timezone,
        summary.posts_published,
        *(summary.totals[name] for name in COUNTS),
        summary.interactions,
        rate.value,
        rate.basis,
        rate.interactions,
        rate.denominator,
    ]
    return csv_response("summary", header, [row])


def posts_table(posts: Sequence[RankedPost]) -> Response:
    return csv_response(
        "posts",
        ["post_id", "published_at", "deliveries", *COUNT_COLUMNS, "deleted", "text"],
        (
            [
                post.post_id,
                post.published_at,
                post.deliveries,
                *(post.counts[name] for name in COUNTS),
                post.interactions,
                post.deleted,
                post.text,
            ]
            for post in posts
        ),
    )


def best_times_table(found: BestTimes) -> Response:
    zone = ZoneInfo(found.timezone)
    suggested = {(s.cell.weekday, s.cell.hour): s.next_at.astimezone(zone) for s in found.suggestions}
    return csv_response(
        "best-times",
        ["weekday", "hour", "posts", "mean_interactions", "engagement_rate", "suggested_next_at"],
        (
            [
                WEEKDAY_KEYS[cell.weekday],
                cell.hour,
                cell.posts,
                round(cell.mean_interactions, 2),
                cell.engagement_rate,
                suggested.get((cell.weekday, cell.hour)),
            ]
            for cell in found.cells
        ),
    )


def snapshots_table(snapshots: Sequence[ChannelSnapshot]) -> Response:
    return csv_response(
        "snapshots",
        ["day", "followers", "following", "posts", "taken_at"],
        ([s.day, s.followers, s.following, s.posts, s.taken_at] for s in snapshots),
    )


def responses_table(by_channel: Sequence[Responsiveness], by_member: Sequence[Responsiveness]) -> Response:
    """One row per channel, then one per member; `group` says which the id is."""
    rows = [("channel", row) for row in by_channel] + [("member", row) for row in by_member]
    return csv_response(
        "responses",
        ["group", "id", "items", "answered", "response_rate", "median_seconds", "mean_seconds"],
        (
            [group, row.key, row.items, row.answered, row.response_rate, row.median_seconds, row.mean_seconds]
            for group, row in rows
        ),
    )
